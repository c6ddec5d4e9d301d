import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { DataTable, sortRows } from './DataTable';
import type { Column } from './DataTable';
import { VirtualTable } from './VirtualTable';
import { pagesFor } from '../pages/AssetsPage';

interface Row {
  id: string;
  name: string;
  score: number | null;
}

const rows: Row[] = [
  { id: '1', name: 'beta', score: 70 },
  { id: '2', name: 'Alpha', score: null },
  { id: '3', name: 'gamma 10', score: 95 },
  { id: '4', name: 'gamma 9', score: 40 },
];

const columns: Column<Row>[] = [
  { key: 'name', header: 'Name', sortValue: (r) => r.name, render: (r) => r.name },
  {
    key: 'score',
    header: 'Score',
    sortValue: (r) => r.score,
    render: (r) => (r.score === null ? '—' : r.score),
  },
];

describe('DataTable', () => {
  it('sorts by a column when its header is pressed, both ways', async () => {
    render(<DataTable caption="Tenants" columns={columns} rows={rows} rowKey={(r) => r.id} />);
    const user = userEvent.setup();
    const names = () =>
      screen
        .getAllByRole('row')
        .slice(1)
        .map((r) => within(r).getAllByRole('cell')[0]?.textContent);
    await user.click(screen.getByRole('button', { name: /Name/ }));
    expect(names()).toEqual(['Alpha', 'beta', 'gamma 9', 'gamma 10']);
    expect(screen.getByRole('columnheader', { name: /Name/ })).toHaveAttribute(
      'aria-sort',
      'ascending',
    );
    await user.click(screen.getByRole('button', { name: /Name/ }));
    expect(names()).toEqual(['gamma 10', 'gamma 9', 'beta', 'Alpha']);
    await user.click(screen.getByRole('button', { name: /Score/ }));
    expect(names()).toEqual(['gamma 9', 'beta', 'gamma 10', 'Alpha']);
  });

  it('keeps missing values last in either direction', () => {
    const desc = sortRows(rows, columns, { key: 'score', dir: 'desc' }).map((r) => r.id);
    expect(desc).toEqual(['3', '1', '4', '2']);
  });

  it('shows the empty message', () => {
    render(
      <DataTable caption="x" columns={columns} rows={[]} rowKey={(r) => r.id} empty="Nothing" />,
    );
    expect(screen.getByText('Nothing')).toBeInTheDocument();
  });
});

describe('VirtualTable', () => {
  // jsdom lays nothing out: give elements the size a browser would.
  const saved = {
    ...Object.getOwnPropertyDescriptors(HTMLElement.prototype),
    ...Object.getOwnPropertyDescriptors(Element.prototype),
  } as Record<string, PropertyDescriptor | undefined>;
  beforeEach(() => {
    Object.defineProperty(HTMLElement.prototype, 'offsetHeight', {
      configurable: true,
      get: () => 440,
    });
    Object.defineProperty(HTMLElement.prototype, 'offsetWidth', {
      configurable: true,
      get: () => 1000,
    });
    Object.defineProperty(HTMLElement.prototype, 'clientHeight', {
      configurable: true,
      get: () => 440,
    });
    Object.defineProperty(HTMLElement.prototype, 'clientWidth', {
      configurable: true,
      get: () => 1000,
    });
  });
  afterEach(() => {
    for (const k of ['offsetHeight', 'offsetWidth', 'clientHeight', 'clientWidth'] as const) {
      const d = saved[k];
      if (d) Object.defineProperty(HTMLElement.prototype, k, d);
      else delete (HTMLElement.prototype as unknown as Record<string, unknown>)[k];
    }
  });

  it('renders only a window of 10,000 rows', () => {
    const seen: [number, number][] = [];
    render(
      <VirtualTable<number>
        label="Assets"
        columns={[{ key: 'n', header: 'N', width: '1fr', render: (n) => `asset-${n}` }]}
        count={10_000}
        getRow={(i) => (i < 100 ? i : undefined)}
        onRange={(a, b) => seen.push([a, b])}
        placeholder="Loading…"
        height={440}
      />,
    );
    const table = screen.getByRole('table', { name: 'Assets' });
    expect(table).toHaveAttribute('aria-rowcount', '10001');
    const rendered = screen.getAllByRole('row').length - 1;
    expect(rendered).toBeGreaterThan(0);
    expect(rendered).toBeLessThan(60);
    expect(screen.getByText('asset-0')).toBeInTheDocument();
    expect(seen.at(-1)?.[0]).toBe(0);
  });

  it('maps visible rows to server pages', () => {
    expect(pagesFor(0, 20)).toEqual([1]);
    expect(pagesFor(95, 130)).toEqual([1, 2]);
    expect(pagesFor(9_990, 9_999)).toEqual([100]);
  });
});
