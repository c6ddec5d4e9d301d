// Appliance settings for platform admins: TLS and the status of every key.
import { useTranslation } from 'react-i18next';
import { useKeys } from '../api/queries';
import type { KeyInfo } from '../api/types';
import { DataTable } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { Badge, Card, PageHeader, Spinner, formatDate } from '../components/ui';

export default function SettingsPage() {
  const { t } = useTranslation('admin');
  const keys = useKeys(true);
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
        <p className="text-sm">
          {t('settings.tlsBody', {
            proto: window.location.protocol === 'https:' ? 'HTTPS' : 'HTTP',
          })}
        </p>
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
