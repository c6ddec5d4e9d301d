// Appliance settings for platform admins: TLS and the status of every key.
import { useTranslation } from 'react-i18next';
import { useKeys, useTLSStatus } from '../api/queries';
import type { KeyInfo } from '../api/types';
import { DataTable } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { Badge, Card, PageHeader, Spinner, formatDate } from '../components/ui';

export default function SettingsPage() {
  const { t } = useTranslation('admin');
  const keys = useKeys(true);
  const tls = useTLSStatus(true);
  const columns: Column<KeyInfo>[] = [
    {
      key: 'kind',
      header: t('settings.kind'),
      sortValue: (k) => k.kind + (k.tenant ?? ''),
      render: (k) => (k.tenant ? `${k.kind}: ${k.tenant}` : k.kind),
    },
    {
      key: 'version',
      header: t('settings.version'),
      sortValue: (k) => k.version,
      render: (k) => k.version,
    },
    {
      key: 'age',
      header: t('settings.age'),
      sortValue: (k) => k.age_days,
      render: (k) => k.age_days,
    },
    {
      key: 'rotate',
      header: t('settings.rotateBy'),
      sortValue: (k) => k.rotate_by,
      render: (k) => formatDate(k.rotate_by),
    },
    {
      key: 'due',
      header: t('settings.due'),
      sortValue: (k) => (k.due ? 1 : 0),
      render: (k) => (
        <Badge tone={k.due ? 'warn' : 'ok'}>{k.due ? t('settings.yes') : t('settings.no')}</Badge>
      ),
    },
  ];
  return (
    <div>
      <PageHeader title={t('settings.title')} />
      <Card title={t('settings.tls')} className="mb-4">
        {tls.data ? (
          <dl className="grid grid-cols-1 gap-x-4 gap-y-1 text-sm sm:grid-cols-[max-content_1fr]">
            <dt className="text-muted">{t('settings.tlsMode')}</dt>
            <dd>
              {tls.data.mode} (TLS ≥ {tls.data.min_version})
            </dd>
            <dt className="text-muted">{t('settings.tlsSubject')}</dt>
            <dd className="break-all">{tls.data.subject || '—'}</dd>
            <dt className="text-muted">{t('settings.tlsIssuer')}</dt>
            <dd className="break-all">{tls.data.issuer || '—'}</dd>
            <dt className="text-muted">{t('settings.tlsNames')}</dt>
            <dd className="break-all">
              {[...tls.data.dns_names, ...tls.data.ip_addresses].join(', ') || '—'}
            </dd>
            <dt className="text-muted">{t('settings.tlsExpires')}</dt>
            <dd>{tls.data.not_after ? formatDate(tls.data.not_after) : '—'}</dd>
            <dt className="text-muted">{t('settings.tlsFingerprint')}</dt>
            <dd className="break-all font-mono text-xs">{tls.data.fingerprint || '—'}</dd>
            {tls.data.notes.map((n) => (
              <dd key={n} className="text-muted sm:col-start-2">
                {n}
              </dd>
            ))}
          </dl>
        ) : (
          <p className="text-sm">
            {t('settings.tlsBody', {
              proto: window.location.protocol === 'https:' ? 'HTTPS' : 'HTTP',
            })}
          </p>
        )}
      </Card>
      <Card title={t('settings.keys')}>
        {keys.isPending ? (
          <Spinner />
        ) : (
          <>
            {keys.data && (
              <p className="mb-2 text-sm text-muted">
                {t('settings.policy', { days: keys.data.policy_days })}
              </p>
            )}
            <DataTable
              caption={t('settings.keys')}
              columns={columns}
              rows={keys.data?.keys ?? []}
              rowKey={(k) => `${k.kind}-${k.tenant ?? ''}-${k.version}`}
            />
          </>
        )}
      </Card>
    </div>
  );
}
