// Compliance: one tab per framework, each control with the assets that fail it, and the CSV
// and PDF reports.
import { useState } from 'react';
import type { KeyboardEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import { api } from '../api/client';
import { complianceReportPath, useCompliance, useComplianceFramework } from '../api/queries';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import { toastError } from '../components/toast';
import {
  Badge,
  Card,
  EmptyState,
  FormError,
  NotAvailable,
  PageHeader,
  ProgressBar,
  Spinner,
} from '../components/ui';

function statusTone(s: string): string {
  if (s === 'pass' || s === 'passed') return 'ok';
  if (s === 'fail' || s === 'failed') return 'danger';
  return 'neutral';
}

export default function CompliancePage() {
  const { t } = useTranslation('compliance');
  const { tenant = '' } = useParams();
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const summary = useCompliance(tenant);
  const frameworks = summary.data?.frameworks ?? [];
  const pct = (n: number | null | undefined) =>
    n === null || n === undefined ? '—' : `${Math.round(n)}%`;
  const current = params.get('framework') ?? frameworks[0]?.id;
  const detail = useComplianceFramework(tenant, current);
  const [onlyFailing, setOnlyFailing] = useState(false);
  const [busy, setBusy] = useState<'' | 'csv' | 'pdf'>('');
  const base = `/t/${encodeURIComponent(tenant)}`;

  const exportReport = async (format: 'csv' | 'pdf') => {
    setBusy(format);
    try {
      await api.download(complianceReportPath(tenant, format), `compliance-${tenant}.${format}`, {
        query: current ? { framework: current } : undefined,
      });
    } catch (e) {
      toastError(e);
    } finally {
      setBusy('');
    }
  };

  const onTabKey = (e: KeyboardEvent<HTMLButtonElement>, i: number) => {
    const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
    if (!d || frameworks.length === 0) return;
    e.preventDefault();
    const next = frameworks[(i + d + frameworks.length) % frameworks.length];
    if (next) {
      setParams({ framework: next.id });
      document.getElementById(`tab-${next.id}`)?.focus();
    }
  };

  const exportable = can(me, 'tenant.export', tenant);
  return (
    <div>
      <PageHeader
        title={t('title')}
        sub={summary.data ? t('overall', { score: pct(summary.data.score) }) : undefined}
        actions={
          exportable ? (
            <>
              <button
                type="button"
                className="btn btn-secondary"
                disabled={!!busy}
                onClick={() => void exportReport('csv')}
              >
                {busy === 'csv' ? t('exporting') : t('exportCsv')}
              </button>
              <button
                type="button"
                className="btn btn-secondary"
                disabled={!!busy}
                onClick={() => void exportReport('pdf')}
              >
                {busy === 'pdf' ? t('exporting') : t('exportPdf')}
              </button>
            </>
          ) : undefined
        }
      />
      {summary.isPending ? (
        <Spinner />
      ) : summary.data === null ? (
        <Card>
          <NotAvailable what="compliance scores" />
        </Card>
      ) : summary.error ? (
        <FormError error={summary.error} />
      ) : frameworks.length === 0 ? (
        <Card>
          <EmptyState>{t('none')}</EmptyState>
        </Card>
      ) : (
        <>
          <div
            role="tablist"
            aria-label={t('frameworks')}
            className="mb-4 flex flex-wrap gap-1 border-b border-line"
          >
            {frameworks.map((f, i) => {
              const selected = f.id === current;
              return (
                <button
                  key={f.id}
                  id={`tab-${f.id}`}
                  type="button"
                  role="tab"
                  aria-selected={selected}
                  aria-controls="framework-panel"
                  tabIndex={selected ? 0 : -1}
                  onKeyDown={(e) => onTabKey(e, i)}
                  onClick={() => setParams({ framework: f.id })}
                  className={`-mb-px border-b-4 px-4 py-2 text-sm font-semibold ${selected ? 'border-brand text-primary' : 'border-transparent text-muted hover:text-fg'}`}
                >
                  {f.name} <span className="font-normal">({pct(f.score)})</span>
                </button>
              );
            })}
          </div>
          <div
            id="framework-panel"
            role="tabpanel"
            aria-labelledby={current ? `tab-${current}` : undefined}
          >
            {frameworks
              .filter((f) => f.id === current)
              .map((f) => (
                <Card key={f.id} className="mb-4">
                  <div className="flex flex-wrap items-center gap-4 text-sm">
                    <span className="text-2xl font-bold">{pct(f.score)}</span>
                    <span className="text-ok">{t('passed', { count: f.passed })}</span>
                    <span className="text-danger">{t('failed', { count: f.failed })}</span>
                    <span className="text-muted">{t('na', { count: f.not_applicable })}</span>
                  </div>
                  <div className="mt-2">
                    <ProgressBar value={f.score ?? 0} max={100} label={`${f.name} score`} />
                  </div>
                </Card>
              ))}
            <Card
              title={t('controls')}
              actions={
                <label className="flex items-center gap-2 text-sm">
                  <input
                    type="checkbox"
                    checked={onlyFailing}
                    onChange={(e) => setOnlyFailing(e.target.checked)}
                  />
                  {t('failing')}
                </label>
              }
            >
              {detail.isPending ? (
                <Spinner />
              ) : !detail.data ? (
                <NotAvailable what="control details" />
              ) : (
                <table className="w-full">
                  <caption className="sr-only">{t('controls')}</caption>
                  <thead>
                    <tr className="border-b border-line">
                      <th scope="col" className="th">
                        {t('control')}
                      </th>
                      <th scope="col" className="th">
                        {t('status')}
                      </th>
                      <th scope="col" className="th">
                        {t('failingAssets')}
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {(detail.data.controls ?? [])
                      .filter((c) => !onlyFailing || (c.failing_assets ?? []).length > 0)
                      .map((c) => (
                        <tr key={c.id} className="border-b border-line align-top last:border-0">
                          <td className="td">
                            <span className="font-mono text-xs text-muted">{c.id}</span>
                            <br />
                            {c.title}
                          </td>
                          <td className="td">
                            <Badge tone={statusTone(c.status)}>{c.status}</Badge>
                          </td>
                          <td className="td">
                            {(c.failing_assets ?? []).length === 0 ? (
                              '—'
                            ) : (
                              <details>
                                <summary className="cursor-pointer">
                                  {c.failing_assets?.length}
                                </summary>
                                <ul className="mt-1">
                                  {c.failing_assets?.map((a) => (
                                    <li key={a.id}>
                                      <Link
                                        className="link"
                                        to={`${base}/assets/${encodeURIComponent(a.id)}`}
                                      >
                                        {a.name || a.id}
                                      </Link>
                                    </li>
                                  ))}
                                </ul>
                              </details>
                            )}
                          </td>
                        </tr>
                      ))}
                  </tbody>
                </table>
              )}
            </Card>
          </div>
        </>
      )}
    </div>
  );
}
