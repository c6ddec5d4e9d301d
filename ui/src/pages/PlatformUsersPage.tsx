// Every user of the appliance with their platform role and tenants (platform admins only).
import { useTranslation } from 'react-i18next';
import { usePlatformUsers } from '../api/queries';
import type { User } from '../api/types';
import { DataTable } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { Badge, Card, PageHeader, Spinner } from '../components/ui';

export default function PlatformUsersPage() {
  const { t } = useTranslation('admin');
  const users = usePlatformUsers(true);
  const columns: Column<User>[] = [
    { key: 'email', header: t('users.email'), sortValue: (u) => u.email, render: (u) => u.email },
    {
      key: 'role',
      header: t('users.role'),
      sortValue: (u) => u.platform_role,
      render: (u) =>
        u.platform_role === 'admin' ? <Badge tone="primary">platform admin</Badge> : '—',
    },
    {
      key: 'tenants',
      header: t('users.tenants'),
      render: (u) => u.memberships.map((m) => `${m.tenant} (${m.role})`).join(', ') || '—',
    },
    {
      key: 'status',
      header: t('users.status'),
      render: (u) => (
        <Badge tone={u.disabled ? 'danger' : 'ok'}>
          {u.disabled ? t('users.disabled') : t('users.active')}
        </Badge>
      ),
    },
    {
      key: 'mfa',
      header: t('users.mfa'),
      render: (u) => (u.mfa_enabled ? t('users.on') : t('users.off')),
    },
  ];
  return (
    <div>
      <PageHeader title={t('users.platformTitle')} />
      <Card>
        {users.isPending ? (
          <Spinner />
        ) : (
          <DataTable
            caption={t('users.platformTitle')}
            columns={columns}
            rows={users.data?.items ?? []}
            rowKey={(u) => u.id}
            initialSort={{ key: 'email', dir: 'asc' }}
          />
        )}
      </Card>
    </div>
  );
}
