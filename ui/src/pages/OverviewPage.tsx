// The MSP overview for platform admins: every tenant with its asset count, score, open
// critical findings and last scan, sortable by each.
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useOverview, useTenants } from '../api/queries';
import type { OverviewRow } from '../api/types';
import { DataTable } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { Badge, Card, NotAvailable, PageHeader, Spinner, formatDate } from '../components/ui';

export default function OverviewPage() {
  const { t } = useTranslation('dashboard');
  const overview = useOverview();
  const tenants = useTenants();
  const columns: Column<OverviewRow>[] = [
    {
      key: 'tenant',
      header: t('tenant'),
      sortValue: (r) => r.tenant.name,
      render: (r) => (
        <Link className="link font-medium" to={`/t/${encodeURIComponent(r.tenant.slug)}`}>
          {r.tenant.name}
        </Link>
      ),
    },
    { key: 'assets', header: t('assets'), sortValue: (r) => r.assets, render: (r) => r.assets },
    {
      key: 'score',
      header: t('score'),
      sortValue: (r) => r.score,
      render: (r) => (r.score === null || r.score === undefined ? '—' : `${Math.round(r.score)}%`),
    },
    {
      key: 'critical',
      header: t('critical'),
      sortValue: (r) => r.critical_findings,
      render: (r) => (
        <Badge tone={r.critical_findings > 0 ? 'critical' : 'ok'}>{r.critical_findings}</Badge>
      ),
    },
    {
      key: 'last',
      header: t('lastScan'),
      sortValue: (r) => r.last_scan,
      render: (r) => formatDate(r.last_scan),
    },
  ];
  // Until the appliance serves /v1/overview, list the tenants without their figures.
  const fallback: OverviewRow[] | undefined = tenants.data?.items.map((x) => ({
    tenant: { id: x.id, slug: x.slug, name: x.name },
    assets: 0,
    score: null,
    critical_findings: 0,
    last_scan: null,
  }));
  return (
    <div>
      <PageHeader title={t('overviewTitle')} sub={t('overviewSub')} />
      <Card>
        {overview.isPending ? (
          <Spinner />
        ) : overview.data ? (
          <DataTable
            caption={t('overviewTitle')}
            columns={columns}
            rows={overview.data.items ?? []}
            rowKey={(r) => r.tenant.id}
            initialSort={{ key: 'tenant', dir: 'asc' }}
          />
        ) : (
          <>
            <NotAvailable what="per-tenant figures" />
            {fallback && fallback.length > 0 && (
              <ul className="mt-4 flex flex-col gap-1">
                {fallback.map((r) => (
                  <li key={r.tenant.id}>
                    <Link className="link" to={`/t/${encodeURIComponent(r.tenant.slug)}`}>
                      {r.tenant.name}
                    </Link>
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </Card>
    </div>
  );
}
