// One scan, followed live over server-sent events until it ends; then its summary with links
// to the assets it found.
import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { useTranslation } from 'react-i18next';
import { Link, useParams } from 'react-router';
import { api } from '../api/client';
import { readEvents } from '../api/sse';
import { useCancelScan, useScan } from '../api/queries';
import type { ScanJob } from '../api/types';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import {
  Badge,
  Card,
  EmptyState,
  FormError,
  PageHeader,
  ProgressBar,
  Spinner,
  formatDate,
} from '../components/ui';
import { isActive, scanTone } from './scanUtil';

/** Follows the job's event stream into the query cache while it is active. */
function useScanEvents(tenant: string, id: string, active: boolean) {
  const qc = useQueryClient();
  useEffect(() => {
    if (!active) return;
    const ctl = new AbortController();
    const key = ['tenant', tenant, 'scan', id];
    (async () => {
      try {
        const res = await api.raw(
          `/v1/tenants/${encodeURIComponent(tenant)}/scans/${encodeURIComponent(id)}/events`,
          { signal: ctl.signal, headers: { Accept: 'text/event-stream' } },
        );
        await readEvents(
          res,
          (e) => {
            if (e.event !== 'progress' && e.event !== 'done') return;
            const job = JSON.parse(e.data) as ScanJob;
            qc.setQueryData(key, job);
            if (e.event === 'done') {
              void qc.invalidateQueries({ queryKey: ['tenant', tenant, 'scans'] });
              void qc.invalidateQueries({ queryKey: ['tenant', tenant, 'assets'] });
            }
          },
          ctl.signal,
        );
      } catch {
        // The stream broke (network, restart): fall back to reading the job once more.
        if (!ctl.signal.aborted) void qc.invalidateQueries({ queryKey: key });
      }
    })();
    return () => ctl.abort();
  }, [tenant, id, active, qc]);
}

export default function ScanDetailPage() {
  const { t } = useTranslation('scans');
  const { tenant = '', id = '' } = useParams();
  const me = useMe();
  const scan = useScan(tenant, id);
  const cancel = useCancelScan(tenant);
  const active = !!scan.data && isActive(scan.data.state);
  useScanEvents(tenant, id, active);
  const base = `/t/${encodeURIComponent(tenant)}`;
  if (scan.isPending) return <Spinner />;
  if (scan.error) return <FormError error={scan.error} />;
  const s = scan.data;
  const found = s.summary?.assets ?? [];
  return (
    <div>
      <Link className="link text-sm" to={`${base}/scans`}>
        ← {t('back')}
      </Link>
      <PageHeader
        title={(s.request.targets ?? []).join(', ') || s.id}
        sub={
          <>
            {formatDate(s.created)}
            {s.requested_by ? ` · ${t('requestedBy', { who: s.requested_by })}` : ''}
          </>
        }
        actions={
          active && can(me, 'tenant.write', tenant) ? (
            <button
              type="button"
              className="btn btn-danger"
              disabled={cancel.isPending}
              onClick={() => cancel.mutate(s.id)}
            >
              {cancel.isPending ? t('cancelling') : t('cancel')}
            </button>
          ) : undefined
        }
      />
      <Card title={t('progress')} className="mb-4">
        <div
          className="flex flex-wrap items-center gap-3"
          aria-live="polite"
          data-testid="scan-status"
        >
          <Badge tone={scanTone(s.state)}>{s.state}</Badge>
          {s.stage && <span className="text-sm">{t('stage', { stage: s.stage })}</span>}
          <span className="text-sm text-muted">
            {s.done}/{s.total}
          </span>
          {active && <Badge tone="primary">{t('live')}</Badge>}
        </div>
        <div className="mt-3">
          <ProgressBar
            value={s.state === 'succeeded' ? 1 : s.done}
            max={s.state === 'succeeded' ? 1 : s.total}
            label={t('progress')}
          />
        </div>
        {s.error && <p className="mt-3 text-sm text-danger">{s.error}</p>}
      </Card>
      {s.summary && (
        <Card title={t('summary')}>
          <p className="mb-3 text-sm">
            {t('hosts', { count: s.summary.hosts ?? 0 })} ·{' '}
            {t('openPorts', { count: s.summary.open_ports ?? 0 })}
          </p>
          <h3 className="mb-2 text-sm font-semibold">{t('found')}</h3>
          {found.length === 0 ? (
            <EmptyState>{t('noScans')}</EmptyState>
          ) : (
            <ul className="divide-y divide-line text-sm" aria-label={t('found')}>
              {found.map((a, i) => (
                <li key={a.id ?? i} className="flex flex-wrap items-center gap-2 py-2">
                  {a.id ? (
                    <Link
                      className="link font-medium"
                      to={`${base}/assets/${encodeURIComponent(a.id)}`}
                    >
                      {a.name ||
                        a.address ||
                        (a as { addresses?: string[] }).addresses?.[0] ||
                        a.id}
                    </Link>
                  ) : (
                    <span>{a.address}</span>
                  )}
                  {a.new && <Badge tone="ok">{t('newAsset')}</Badge>}
                  <span className="text-muted">
                    {(a.services ?? [])
                      .map((x) => `${x.port}/${x.service || x.protocol}`)
                      .join(', ')}
                  </span>
                </li>
              ))}
            </ul>
          )}
          {(s.summary.errors?.length ?? 0) > 0 && (
            <>
              <h3 className="mt-4 mb-2 text-sm font-semibold">{t('errors')}</h3>
              <ul className="text-sm text-danger">
                {s.summary.errors?.map((e) => (
                  <li key={e.target}>
                    {e.target}: {e.error}
                  </li>
                ))}
              </ul>
            </>
          )}
          {(s.summary.notes?.length ?? 0) > 0 && (
            <>
              <h3 className="mt-4 mb-2 text-sm font-semibold">{t('notes')}</h3>
              <ul className="list-disc pl-5 text-sm" aria-label={t('notes')}>
                {s.summary.notes?.map((n) => (
                  <li key={n}>{n}</li>
                ))}
              </ul>
            </>
          )}
        </Card>
      )}
    </div>
  );
}
