// The audit log of a tenant (under /t/:tenant/audit) or of the platform (/audit): filters,
// paging and a CSV export of every matching entry.
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { useParams, useSearchParams } from 'react-router';
import { api } from '../api/client';
import { auditPath, useAudit } from '../api/queries';
import type { AuditFilters } from '../api/queries';
import { toastError } from '../components/toast';
import { Badge, Card, EmptyState, PageHeader, Pager, Spinner, formatDate } from '../components/ui';

const KEYS = ['actor', 'action', 'since', 'until'] as const;

/** datetime-local values are local times; the API wants RFC 3339. */
function toRfc3339(v: string | null): string | undefined {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export default function AuditPage() {
  const { t } = useTranslation('admin');
  const { tenant } = useParams();
  const [params, setParams] = useSearchParams();
  const [page, setPage] = useState(1);
  const filters: AuditFilters = {
    actor: params.get('actor') ?? undefined,
    action: params.get('action') ?? undefined,
    since: toRfc3339(params.get('since')),
    until: toRfc3339(params.get('until')),
  };
  const audit = useAudit(tenant, filters, page);
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const fd = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of KEYS) {
      const v = String(fd.get(k) ?? '').trim();
      if (v) next.set(k, v);
    }
    setPage(1);
    setParams(next);
  };
  const exportCsv = async () => {
    try {
      await api.download(auditPath(tenant), 'audit.csv', { query: { ...filters, format: 'csv' } });
    } catch (e) {
      toastError(e);
    }
  };
  return (
    <div>
      <PageHeader
        title={tenant ? t('audit.title') : t('audit.platformTitle')}
        actions={
          <button type="button" className="btn btn-secondary" onClick={() => void exportCsv()}>
            {t('audit.export')}
          </button>
        }
      />
      <Card className="mb-4">
        <form
          onSubmit={submit}
          className="grid gap-3 sm:grid-cols-2 lg:grid-cols-5"
          key={params.toString()}
        >
          {KEYS.map((k) => (
            <div key={k}>
              <label htmlFor={`a-${k}`} className="label">
                {t(`audit.${k}`)}
              </label>
              <input
                id={`a-${k}`}
                name={k}
                type={k === 'since' || k === 'until' ? 'datetime-local' : 'text'}
                className="input"
                defaultValue={params.get(k) ?? ''}
              />
            </div>
          ))}
          <div className="flex items-end">
            <button type="submit" className="btn btn-primary">
              {t('audit.search')}
            </button>
          </div>
        </form>
      </Card>
      <Card>
        {audit.isPending ? (
          <Spinner />
        ) : (audit.data?.items.length ?? 0) === 0 ? (
          <EmptyState>{t('audit.none')}</EmptyState>
        ) : (
          <>
            <div className="overflow-x-auto">
              <table className="w-full">
                <caption className="sr-only">{t('audit.title')}</caption>
                <thead>
                  <tr className="border-b border-line">
                    <th scope="col" className="th">
                      #
                    </th>
                    <th scope="col" className="th">
                      {t('audit.time')}
                    </th>
                    <th scope="col" className="th">
                      {t('audit.actor')}
                    </th>
                    <th scope="col" className="th">
                      {t('audit.action')}
                    </th>
                    <th scope="col" className="th">
                      {t('audit.target')}
                    </th>
                    <th scope="col" className="th">
                      {t('audit.outcome')}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {audit.data?.items.map((e) => (
                    <tr key={e.seq} className="border-b border-line last:border-0">
                      <td className="td text-muted">{e.seq}</td>
                      <td className="td whitespace-nowrap">{formatDate(e.ts)}</td>
                      <td className="td">{e.actor}</td>
                      <td className="td font-mono text-xs">{e.action}</td>
                      <td className="td">{e.target}</td>
                      <td className="td">
                        <Badge
                          tone={
                            e.outcome === 'success'
                              ? 'ok'
                              : e.outcome === 'denied'
                                ? 'warn'
                                : 'danger'
                          }
                        >
                          {e.outcome}
                        </Badge>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {audit.data && (
              <Pager
                page={page}
                pageSize={audit.data.page_size}
                total={audit.data.total}
                onPage={setPage}
              />
            )}
          </>
        )}
      </Card>
    </div>
  );
}
