// The inventory: filters and sort go to the server (and into the URL, so a view can be shared);
// rows are fetched a page of 100 at a time as they scroll into view and rendered virtualised.
import { useCallback, useMemo, useState } from 'react';
import type { FormEvent } from 'react';
import { useQueries } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import { ASSET_PAGE_SIZE, assetPageQuery, useAssetPage } from '../api/queries';
import type { AssetFilters } from '../api/queries';
import type { Asset } from '../api/types';
import { VirtualTable } from '../components/VirtualTable';
import type { VColumn } from '../components/VirtualTable';
import { Card, EmptyState, FormError, PageHeader, Spinner, formatDate } from '../components/ui';

const FILTER_KEYS = ['q', 'type', 'os', 'vendor', 'port', 'subnet', 'sort'] as const;
const SORTS = ['name', '-name', 'address', '-last_seen', 'first_seen', 'vendor', 'type'];

/** The pages (1-based) that hold rows first..last. */
export function pagesFor(first: number, last: number, pageSize = ASSET_PAGE_SIZE): number[] {
  const out: number[] = [];
  for (let p = Math.floor(first / pageSize) + 1; p <= Math.floor(last / pageSize) + 1; p++)
    out.push(p);
  return out;
}

export default function AssetsPage() {
  const { t } = useTranslation('assets');
  const { tenant = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const filters: AssetFilters = useMemo(() => {
    const f: AssetFilters = {};
    for (const k of FILTER_KEYS) {
      const v = params.get(k);
      if (v) f[k] = v;
    }
    return f;
  }, [params]);
  const first = useAssetPage(tenant, filters, 1);
  const [visiblePages, setVisiblePages] = useState<number[]>([1]);
  const onRange = useCallback((a: number, b: number) => {
    setVisiblePages((prev) => {
      const next = pagesFor(a, b);
      return prev.join() === next.join() ? prev : next;
    });
  }, []);
  const pages = useQueries({
    queries: visiblePages.filter((p) => p !== 1).map((p) => assetPageQuery(tenant, filters, p)),
  });
  const byPage = new Map<number, Asset[]>();
  if (first.data) byPage.set(1, first.data.items);
  visiblePages
    .filter((p) => p !== 1)
    .forEach((p, i) => {
      const d = pages[i]?.data;
      if (d) byPage.set(p, d.items);
    });
  const getRow = (i: number) =>
    byPage.get(Math.floor(i / ASSET_PAGE_SIZE) + 1)?.[i % ASSET_PAGE_SIZE];

  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const fd = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of FILTER_KEYS) {
      const v = String(fd.get(k) ?? '').trim();
      if (v) next.set(k, v);
    }
    setParams(next);
  };

  const base = `/t/${encodeURIComponent(tenant)}`;
  const columns: VColumn<Asset>[] = [
    {
      key: 'name',
      header: t('name'),
      width: 'minmax(10rem,2fr)',
      render: (a) => (
        <Link className="link font-medium" to={`${base}/assets/${encodeURIComponent(a.id)}`}>
          {a.name || a.hostnames[0] || a.addresses[0] || a.id}
        </Link>
      ),
    },
    {
      key: 'address',
      header: t('address'),
      width: 'minmax(7rem,1fr)',
      render: (a) => a.addresses.join(', '),
    },
    { key: 'type', header: t('type'), width: 'minmax(5rem,1fr)', render: (a) => a.type || '—' },
    { key: 'os', header: t('os'), width: 'minmax(6rem,1.5fr)', render: (a) => a.os || '—' },
    {
      key: 'vendor',
      header: t('vendor'),
      width: 'minmax(5rem,1fr)',
      render: (a) => a.vendor || '—',
    },
    {
      key: 'services',
      header: t('services'),
      width: 'minmax(6rem,1.5fr)',
      render: (a) =>
        a.services.map((s) => `${s.port}/${s.service || s.protocol}`).join(', ') || '—',
    },
    {
      key: 'last',
      header: t('lastSeen'),
      width: 'minmax(8rem,1fr)',
      render: (a) => formatDate(a.last_seen),
    },
  ];

  return (
    <div>
      <PageHeader
        title={t('title')}
        sub={first.data ? t('count', { count: first.data.total }) : undefined}
      />
      <Card className="mb-4">
        <form
          onSubmit={submit}
          className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4"
          aria-label={t('filters')}
          key={params.toString()}
        >
          {(['q', 'type', 'os', 'vendor', 'port', 'subnet'] as const).map((k) => (
            <div key={k}>
              <label htmlFor={`f-${k}`} className="label">
                {t(k)}
              </label>
              <input
                id={`f-${k}`}
                name={k}
                className="input"
                defaultValue={params.get(k) ?? ''}
                inputMode={k === 'port' ? 'numeric' : undefined}
                type={k === 'q' ? 'search' : 'text'}
              />
            </div>
          ))}
          <div>
            <label htmlFor="f-sort" className="label">
              {t('sort')}
            </label>
            <select
              id="f-sort"
              name="sort"
              className="input"
              defaultValue={params.get('sort') ?? 'name'}
            >
              {SORTS.map((s) => (
                <option key={s} value={s}>
                  {t(`sorts.${s}`)}
                </option>
              ))}
            </select>
          </div>
          <div className="flex items-end gap-2">
            <button type="submit" className="btn btn-primary">
              {t('apply')}
            </button>
            <button
              type="button"
              className="btn btn-secondary"
              onClick={() => setParams(new URLSearchParams())}
            >
              {t('clear')}
            </button>
          </div>
        </form>
      </Card>
      <Card>
        {first.isPending ? (
          <Spinner />
        ) : first.error ? (
          <FormError error={first.error} />
        ) : first.data.total === 0 ? (
          <EmptyState>{t('none')}</EmptyState>
        ) : (
          <VirtualTable
            label={t('title')}
            columns={columns}
            count={first.data.total}
            getRow={getRow}
            onRange={onRange}
            placeholder={t('loadingRow')}
          />
        )}
      </Card>
    </div>
  );
}
