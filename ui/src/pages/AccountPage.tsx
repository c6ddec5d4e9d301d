// The signed-in user's own account: password, two-factor sign-in and sessions.
import { useTranslation } from 'react-i18next';
import { useMe } from '../auth/AuthProvider';
import { useRevokeSession, useSessions } from '../api/queries';
import { Badge, Card, PageHeader, Spinner, formatDate } from '../components/ui';
import { ChangePasswordForm, TotpCard } from './AccountSecurity';

export default function AccountPage() {
  const { t } = useTranslation('admin');
  const me = useMe();
  const sessions = useSessions();
  const revoke = useRevokeSession();
  return (
    <div>
      <PageHeader title={t('account.title')} sub={me.user.email} />
      <Card title={t('account.password.title')} className="mb-4">
        <ChangePasswordForm />
      </Card>
      <TotpCard />
      <Card title={t('account.sessions')}>
        <p className="mb-2 text-sm text-muted">
          {t('account.mfa', { value: me.mfa ? 'yes' : 'no' })}
        </p>
        {sessions.isPending ? (
          <Spinner />
        ) : (
          <ul className="divide-y divide-line text-sm">
            {sessions.data?.items.map((s) => (
              <li key={s.id} className="flex flex-wrap items-center gap-3 py-2">
                <span className="font-medium">{s.user_agent || '—'}</span>
                <span className="text-muted">
                  {t('account.from')} {s.ip} · {t('account.created')} {formatDate(s.created_at)} ·{' '}
                  {t('account.lastSeen')} {formatDate(s.last_seen)}
                </span>
                {s.current ? (
                  <Badge tone="primary">{t('account.current')}</Badge>
                ) : (
                  <button
                    type="button"
                    className="btn btn-secondary ml-auto"
                    onClick={() => revoke.mutate(s.id)}
                  >
                    {t('account.revoke')}
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
