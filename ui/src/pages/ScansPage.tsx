// Scans: the form to start one (for roles that may), the history, and the schedules.
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useParams, useSearchParams } from 'react-router';
import { useDeleteSchedule, useScans, useSchedules } from '../api/queries';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import {
  Badge,
  Card,
  EmptyState,
  PageHeader,
  Pager,
  ProgressBar,
  Spinner,
  formatDate,
} from '../components/ui';
import { ScanForm } from './ScanForm';
import { scanTone } from './scanUtil';

export default function ScansPage() {
  const { t } = useTranslation('scans');
  const { tenant = '' } = useParams();
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const [page, setPage] = useState(1);
  const writable = can(me, 'tenant.write', tenant);
  const showForm = writable && params.get('new') === '1';
  const scans = useScans(tenant, page);
  const schedules = useSchedules(tenant);
  const del = useDeleteSchedule(tenant);
  const base = `/t/${encodeURIComponent(tenant)}`;
  const closeForm = () => setParams(new URLSearchParams());
  return (
    <div>
      <PageHeader
        title={t('title')}
        actions={
          writable && !showForm ? (
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => setParams({ new: '1' })}
            >
              {t('new')}
            </button>
          ) : undefined
        }
      />
      {showForm && (
        <Card
          title={t('new')}
          className="mb-4"
          actions={
            <button type="button" className="btn btn-secondary" onClick={closeForm}>
              Cancel
            </button>
          }
        >
          <ScanForm tenant={tenant} onDone={closeForm} />
        </Card>
      )}
      <Card title={t('history')} className="mb-4">
        {scans.isPending ? (
          <Spinner />
        ) : (scans.data?.items.length ?? 0) === 0 ? (
          <EmptyState>{t('noScans')}</EmptyState>
        ) : (
          <>
            <table className="w-full">
              <caption className="sr-only">{t('history')}</caption>
              <thead>
                <tr className="border-b border-line">
                  <th scope="col" className="th">
                    {t('targets')}
                  </th>
                  <th scope="col" className="th">
                    {t('state')}
                  </th>
                  <th scope="col" className="th">
                    {t('progress')}
                  </th>
                  <th scope="col" className="th">
                    {t('created')}
                  </th>
                </tr>
              </thead>
              <tbody>
                {scans.data?.items.map((s) => (
                  <tr key={s.id} className="border-b border-line last:border-0">
                    <td className="td">
                      <Link
                        className="link font-medium"
                        to={`${base}/scans/${encodeURIComponent(s.id)}`}
                      >
                        {(s.request.targets ?? []).join(', ') || s.id}
                      </Link>
                    </td>
                    <td className="td">
                      <Badge tone={scanTone(s.state)}>{s.state}</Badge>
                    </td>
                    <td className="td w-48">
                      <ProgressBar
                        value={s.state === 'succeeded' ? 1 : s.done}
                        max={s.state === 'succeeded' ? 1 : s.total}
                        label={`Progress of scan ${s.id}`}
                      />
                    </td>
                    <td className="td text-muted">{formatDate(s.created)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {scans.data && (
              <Pager
                page={page}
                pageSize={scans.data.page_size}
                total={scans.data.total}
                onPage={setPage}
              />
            )}
          </>
        )}
      </Card>
      <Card title={t('schedules')}>
        {schedules.isPending ? (
          <Spinner />
        ) : (schedules.data?.items.length ?? 0) === 0 ? (
          <EmptyState>{t('noSchedules')}</EmptyState>
        ) : (
          <ul className="divide-y divide-line text-sm">
            {schedules.data?.items.map((s) => (
              <li key={s.id} className="flex flex-wrap items-center gap-3 py-2">
                <code className="rounded bg-raised px-1">{s.cron}</code>
                <span>{(s.request.targets ?? []).join(', ')}</span>
                <span className="text-muted">
                  {t('lastFired')}: {formatDate(s.last_fired)}
                </span>
                {writable && (
                  <button
                    type="button"
                    className="btn btn-secondary ml-auto"
                    onClick={() => del.mutate(s.id)}
                  >
                    {t('deleteSchedule')}
                  </button>
                )}
              </li>
            ))}
          </ul>
        )}
      </Card>
    </div>
  );
}
