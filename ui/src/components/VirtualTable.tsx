// A virtualised table: only the rows in view (plus a few) are in the DOM, so a list of 10,000
// assets scrolls as smoothly as one of 10. Rows that are not loaded yet show a placeholder;
// `onRange` tells the page which rows are visible so that it fetches those pages only.
// Positions use React style props, which React applies through the CSSOM: the CSP's
// style-src 'self' blocks style attributes in markup, not CSSOM writes.
import { useEffect, useRef } from 'react';
import type { ReactNode } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';

export interface VColumn<T> {
  key: string;
  header: string;
  /** A CSS grid track, e.g. "2fr" or "8rem". */
  width: string;
  render: (row: T) => ReactNode;
}

export const ROW_HEIGHT = 44;

export function VirtualTable<T>({
  label,
  columns,
  count,
  getRow,
  onRange,
  placeholder,
  height = 560,
}: {
  label: string;
  columns: VColumn<T>[];
  count: number;
  getRow: (index: number) => T | undefined;
  onRange?: (start: number, end: number) => void;
  placeholder: string;
  height?: number;
}) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const v = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    initialRect: { width: 1000, height },
  });
  const items = v.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  useEffect(() => {
    if (count > 0) onRange?.(first, last);
  }, [first, last, count, onRange]);
  const grid = columns.map((c) => c.width).join(' ');
  const gridClass = 'grid items-center gap-2 px-3';
  return (
    <div role="table" aria-label={label} aria-rowcount={count + 1} className="text-sm">
      <div role="rowgroup">
        <div
          role="row"
          aria-rowindex={1}
          className={`${gridClass} border-b border-line py-2`}
          style={{ gridTemplateColumns: grid }}
        >
          {columns.map((c) => (
            <div
              key={c.key}
              role="columnheader"
              className="text-xs font-semibold uppercase tracking-wide text-muted"
            >
              {c.header}
            </div>
          ))}
        </div>
      </div>
      <div
        ref={scrollRef}
        role="rowgroup"
        tabIndex={0}
        aria-label={`${label}, scrollable`}
        className="tn-vscroll overflow-auto"
        style={{ height }}
        data-testid="virtual-scroll"
      >
        <div className="relative w-full" style={{ height: v.getTotalSize() }}>
          {items.map((it) => {
            const row = getRow(it.index);
            return (
              <div
                key={it.key}
                role="row"
                aria-rowindex={it.index + 2}
                data-index={it.index}
                className={`${gridClass} absolute top-0 left-0 w-full border-b border-line`}
                style={{
                  gridTemplateColumns: grid,
                  height: ROW_HEIGHT,
                  transform: `translateY(${it.start}px)`,
                }}
              >
                {row !== undefined
                  ? columns.map((c) => (
                      <div key={c.key} role="cell" className="truncate">
                        {c.render(row)}
                      </div>
                    ))
                  : columns.map((c, i) => (
                      <div key={c.key} role="cell" className="text-muted">
                        {i === 0 ? placeholder : ''}
                      </div>
                    ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
