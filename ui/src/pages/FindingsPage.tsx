// Findings: server-side filters and paging, a detail panel with evidence and remediation, and
// the waiver form for roles that may change findings.
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useForm } from 'react-hook-form';
import { zodResolver } from '@hookform/resolvers/zod';
import { z } from 'zod';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import { useFindings, useWaiveFinding } from '../api/queries';
import type { FindingFilters } from '../api/queries';
import { SEVERITIES } from '../api/types';
import type { Finding } from '../api/types';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import {
  Badge,
  Card,
  EmptyState,
  FieldError,
  FormError,
  NotAvailable,
  PageHeader,
  Pager,
  Spinner,
  formatDate,
} from '../components/ui';

export function waiverSchema(t: TFunction, now = new Date()) {
  return z.object({
    reason: z.string().trim().min(10, t('reasonRequired')).max(1000),
    expires_at: z
      .string()
      .refine(
        (s) => !!s && new Date(`${s}T23:59:59Z`).getTime() > now.getTime(),
        t('expiresRequired'),
      ),
  });
}

function WaiverForm({ tenant, finding }: { tenant: string; finding: Finding }) {
  const { t } = useTranslation('findings');
  const waive = useWaiveFinding(tenant);
  const form = useForm<{ reason: string; expires_at: string }>({
    resolver: zodResolver(waiverSchema(t)),
    defaultValues: { reason: '', expires_at: '' },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async (v) => {
    try {
      await waive.mutateAsync({
        id: finding.id,
        reason: v.reason.trim(),
        expires_at: new Date(`${v.expires_at}T23:59:59Z`).toISOString(),
      });
      form.reset();
    } catch {
      // inline
    }
  });
  return (
    <form onSubmit={submit} noValidate className="mt-3 flex flex-col gap-3" aria-label={t('waive')}>
      <FormError error={waive.error} />
      <div>
        <label htmlFor="waiver-reason" className="label">
          {t('reason')}
        </label>
        <textarea
          id="waiver-reason"
          rows={3}
          className="input"
          aria-invalid={!!errors.reason}
          aria-describedby="waiver-reason-error"
          {...form.register('reason')}
        />
        <FieldError id="waiver-reason-error" message={errors.reason?.message} />
      </div>
      <div>
        <label htmlFor="waiver-expires" className="label">
          {t('expires')}
        </label>
        <input
          id="waiver-expires"
          type="date"
          className="input"
          aria-invalid={!!errors.expires_at}
          aria-describedby="waiver-expires-error"
          {...form.register('expires_at')}
        />
        <FieldError id="waiver-expires-error" message={errors.expires_at?.message} />
      </div>
      <button type="submit" className="btn btn-primary self-start" disabled={isSubmitting}>
        {t('saveWaiver')}
      </button>
    </form>
  );
}

function FindingDetail({
  tenant,
  f,
  onClose,
}: {
  tenant: string;
  f: Finding;
  onClose: () => void;
}) {
  const { t } = useTranslation('findings');
  const me = useMe();
  return (
    <Card
      title={f.title}
      actions={
        <button type="button" className="btn btn-secondary" onClick={onClose}>
          {t('close')}
        </button>
      }
    >
      <p className="mb-2 flex flex-wrap gap-2 text-sm">
        <Badge tone={f.severity}>{f.severity}</Badge>
        <Badge>{f.status}</Badge>
        <code>{f.check}</code>
      </p>
      <p className="text-sm">
        {t('resource')}:{' '}
        {f.asset_id ? (
          <Link
            className="link"
            to={`/t/${encodeURIComponent(tenant)}/assets/${encodeURIComponent(f.asset_id)}`}
          >
            {f.resource || f.asset_id}
          </Link>
        ) : (
          f.resource
        )}
      </p>
      <h3 className="mt-3 text-sm font-semibold">{t('evidence')}</h3>
      <pre className="mt-1 max-h-60 overflow-auto rounded-md bg-raised p-2 text-xs">
        {f.evidence || '—'}
      </pre>
      <h3 className="mt-3 text-sm font-semibold">{t('remediation')}</h3>
      <p className="text-sm whitespace-pre-wrap">{f.remediation || '—'}</p>
      {f.waiver && (
        <p className="mt-3 rounded-md bg-warn-soft p-2 text-sm text-warn">
          {t('waivedBy', {
            who: f.waiver.approver,
            until: formatDate(f.waiver.expires_at),
            reason: f.waiver.reason,
          })}
        </p>
      )}
      {f.status === 'open' && can(me, 'tenant.findings.waive', tenant) && (
        <WaiverForm tenant={tenant} finding={f} />
      )}
    </Card>
  );
}

export default function FindingsPage() {
  const { t } = useTranslation('findings');
  const { tenant = '' } = useParams();
  const [params, setParams] = useSearchParams();
  const [page, setPage] = useState(1);
  const filters: FindingFilters = {
    severity: params.get('severity') ?? undefined,
    status: params.get('status') ?? 'open',
    check: params.get('check') ?? undefined,
    q: params.get('q') ?? undefined,
  };
  const list = useFindings(tenant, filters, page);
  const selectedId = params.get('id');
  const selected = list.data?.items.find((f) => f.id === selectedId);
  const select = (id: string | null) => {
    const next = new URLSearchParams(params);
    if (id) next.set('id', id);
    else next.delete('id');
    setParams(next);
  };
  const submit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const fd = new FormData(e.currentTarget);
    const next = new URLSearchParams();
    for (const k of ['severity', 'status', 'check', 'q']) {
      const v = String(fd.get(k) ?? '').trim();
      if (v) next.set(k, v);
    }
    setPage(1);
    setParams(next);
  };
  return (
    <div>
      <PageHeader title={t('title')} />
      <Card className="mb-4">
        <form
          onSubmit={submit}
          className="grid gap-3 sm:grid-cols-2 lg:grid-cols-5"
          key={params.toString()}
        >
          <div>
            <label htmlFor="f-severity" className="label">
              {t('severity')}
            </label>
            <select
              id="f-severity"
              name="severity"
              className="input"
              defaultValue={filters.severity ?? ''}
            >
              <option value="">{t('all')}</option>
              {SEVERITIES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          <div>
            <label htmlFor="f-status" className="label">
              {t('status')}
            </label>
            <select
              id="f-status"
              name="status"
              className="input"
              defaultValue={filters.status ?? ''}
            >
              <option value="open">open</option>
              <option value="waived">waived</option>
              <option value="resolved">resolved</option>
            </select>
          </div>
          <div>
            <label htmlFor="f-check" className="label">
              {t('check')}
            </label>
            <input id="f-check" name="check" className="input" defaultValue={filters.check ?? ''} />
          </div>
          <div>
            <label htmlFor="f-q" className="label">
              {t('q')}
            </label>
            <input
              id="f-q"
              name="q"
              type="search"
              className="input"
              defaultValue={filters.q ?? ''}
            />
          </div>
          <div className="flex items-end">
            <button type="submit" className="btn btn-primary">
              {t('apply')}
            </button>
          </div>
        </form>
      </Card>
      <div className="grid gap-4 xl:grid-cols-[1fr_28rem]">
        <Card>
          {list.isPending ? (
            <Spinner />
          ) : !list.data ? (
            <NotAvailable what="findings" />
          ) : list.data.items.length === 0 ? (
            <EmptyState>{t('none')}</EmptyState>
          ) : (
            <>
              <table className="w-full">
                <caption className="sr-only">{t('title')}</caption>
                <thead>
                  <tr className="border-b border-line">
                    <th scope="col" className="th">
                      {t('severity')}
                    </th>
                    <th scope="col" className="th">
                      {t('finding')}
                    </th>
                    <th scope="col" className="th">
                      {t('resource')}
                    </th>
                    <th scope="col" className="th">
                      {t('lastSeen')}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.data.items.map((f) => (
                    <tr
                      key={f.id}
                      className={`border-b border-line last:border-0 ${f.id === selectedId ? 'bg-primary-soft' : ''}`}
                    >
                      <td className="td">
                        <Badge tone={f.severity}>{f.severity}</Badge>
                      </td>
                      <td className="td">
                        <button
                          type="button"
                          className="link text-left"
                          onClick={() => select(f.id)}
                        >
                          {f.title}
                        </button>
                      </td>
                      <td className="td">{f.resource}</td>
                      <td className="td text-muted">{formatDate(f.last_seen)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Pager
                page={page}
                pageSize={list.data.page_size}
                total={list.data.total}
                onPage={setPage}
              />
            </>
          )}
        </Card>
        {selected ? (
          <FindingDetail tenant={tenant} f={selected} onClose={() => select(null)} />
        ) : (
          list.data &&
          list.data.items.length > 0 && (
            <Card>
              <p className="text-sm text-muted">{t('select')}</p>
            </Card>
          )
        )}
      </div>
    </div>
  );
}
