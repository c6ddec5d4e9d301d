// The tenant dashboard: inventory breakdowns, open findings by severity, compliance per
// framework with its trend, and recent and running scans.
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import {
  useAssetSample,
  useCompliance,
  useComplianceTrend,
  useFindingCounts,
  useScans,
} from '../api/queries';
import type { Asset } from '../api/types';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import { BarBreakdown, TrendChart } from '../components/Charts';
import type { Slice } from '../components/Charts';
import {
  Badge,
  Card,
  EmptyState,
  NotAvailable,
  PageHeader,
  ProgressBar,
  Spinner,
  formatDate,
} from '../components/ui';
import { scanTone } from './scanUtil';

export function breakdown(
  assets: Asset[],
  key: (a: Asset) => string,
  unknown: string,
  top = 8,
): Slice[] {
  const counts = new Map<string, number>();
  for (const a of assets) {
    const k = key(a).trim() || unknown;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const head = sorted.slice(0, top).map(([name, value]) => ({ name, value }));
  const rest = sorted.slice(top).reduce((n, [, v]) => n + v, 0);
  if (rest > 0) head.push({ name: 'Other', value: rest });
  return head;
}

const SEV_COLOUR: Record<string, string> = {
  critical: '#BE123C',
  high: '#EA580C',
  medium: '#CA8A04',
  low: '#2563EB',
  info: '#6B7280',
};

export default function DashboardPage() {
  const { t } = useTranslation('dashboard');
  const { tenant = '' } = useParams();
  const me = useMe();
  const sample = useAssetSample(tenant);
  const findings = useFindingCounts(tenant);
  const compliance = useCompliance(tenant);
  const trend = useComplianceTrend(tenant);
  const scans = useScans(tenant, 1);
  const base = `/t/${encodeURIComponent(tenant)}`;
  const items = sample.data?.items ?? [];
  return (
    <div>
      <PageHeader
        title={t('title')}
        sub={sample.data ? t('assetsTotal', { count: sample.data.total }) : undefined}
        actions={
          can(me, 'tenant.write', tenant) ? (
            <Link to={`${base}/scans?new=1`} className="btn btn-primary">
              {t('newScan')}
            </Link>
          ) : undefined
        }
      />
      <div className="grid gap-4 lg:grid-cols-3">
        {sample.isPending ? (
          <Card className="lg:col-span-3">
            <Spinner />
          </Card>
        ) : items.length === 0 ? (
          <Card className="lg:col-span-3" title={t('assetsByType')}>
            <EmptyState>{t('noAssets')}</EmptyState>
          </Card>
        ) : (
          <>
            <Card title={t('assetsByType')}>
              <BarBreakdown
                data={breakdown(items, (a) => a.type, t('unknown'))}
                label={t('assetsByType')}
              />
            </Card>
            <Card title={t('assetsByOs')}>
              <BarBreakdown
                data={breakdown(items, (a) => a.os, t('unknown'))}
                label={t('assetsByOs')}
                color="#42B72A"
              />
            </Card>
            <Card title={t('assetsByVendor')}>
              <BarBreakdown
                data={breakdown(items, (a) => a.vendor, t('unknown'))}
                label={t('assetsByVendor')}
                color="#8C54FF"
              />
            </Card>
            {sample.data && sample.data.total > items.length && (
              <p className="text-xs text-muted lg:col-span-3">
                {t('sample', { n: items.length, total: sample.data.total })}
              </p>
            )}
          </>
        )}
        <Card title={t('findings')}>
          {findings.isPending ? (
            <Spinner />
          ) : !findings.data ? (
            <NotAvailable what="findings" />
          ) : (
            <BarBreakdown
              data={Object.entries(findings.data).map(([name, value]) => ({ name, value }))}
              label={t('findings')}
              color={SEV_COLOUR.high}
            />
          )}
        </Card>
        <Card title={t('compliance')}>
          {compliance.isPending ? (
            <Spinner />
          ) : !compliance.data ? (
            <NotAvailable what="compliance scores" />
          ) : (compliance.data.frameworks ?? []).length === 0 ? (
            <EmptyState>{t('noAssets')}</EmptyState>
          ) : (
            <ul className="flex flex-col gap-3">
              {(compliance.data.frameworks ?? []).map((f) => (
                <li key={f.id}>
                  <div className="mb-1 flex justify-between text-sm">
                    <Link
                      className="link"
                      to={`${base}/compliance?framework=${encodeURIComponent(f.id)}`}
                    >
                      {f.name}
                    </Link>
                    <span className="font-semibold">
                      {f.score === null ? '—' : `${Math.round(f.score)}%`}
                    </span>
                  </div>
                  <ProgressBar value={f.score ?? 0} max={100} label={`${f.name} score`} />
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card title={t('trend')}>
          {trend.isPending ? (
            <Spinner />
          ) : !trend.data ? (
            <NotAvailable what="a compliance trend" />
          ) : (trend.data.items ?? []).length === 0 ? (
            <EmptyState>{t('noAssets')}</EmptyState>
          ) : (
            <TrendChart points={trend.data.items} />
          )}
        </Card>
        <Card
          className="lg:col-span-3"
          title={t('scans')}
          actions={
            <Link className="link text-sm" to={`${base}/scans`}>
              {t('viewAll')}
            </Link>
          }
        >
          {scans.isPending ? (
            <Spinner />
          ) : (scans.data?.items.length ?? 0) === 0 ? (
            <EmptyState>{t('noAssets')}</EmptyState>
          ) : (
            <ul className="divide-y divide-line">
              {scans.data?.items.slice(0, 6).map((s) => (
                <li key={s.id} className="flex flex-wrap items-center gap-3 py-2 text-sm">
                  <Badge tone={scanTone(s.state)}>{s.state}</Badge>
                  <Link
                    className="link font-medium"
                    to={`${base}/scans/${encodeURIComponent(s.id)}`}
                  >
                    {(s.request.targets ?? []).join(', ') || s.id}
                  </Link>
                  <span className="text-muted">{formatDate(s.created)}</span>
                  {s.state === 'running' && (
                    <span className="w-40">
                      <ProgressBar value={s.done} max={s.total} label="Scan progress" />
                    </span>
                  )}
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </div>
  );
}
