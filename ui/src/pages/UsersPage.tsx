// The tenant's users and their roles; admins add users and change or remove roles, auditors
// only read. The tenant's API tokens are listed below (ApiTokens.tsx).
import { useForm } from 'react-hook-form';
import { zodResolver } from '@hookform/resolvers/zod';
import { z } from 'zod';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router';
import {
  useAddTenantUser,
  useRemoveTenantUser,
  useSetTenantRole,
  useTenantUsers,
} from '../api/queries';
import type { TenantRole, User } from '../api/types';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import { DataTable } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { Badge, Card, FieldError, FormError, PageHeader, Spinner } from '../components/ui';
import { ApiTokensSection } from './ApiTokens';

const ROLES: TenantRole[] = ['admin', 'standard', 'auditor'];

export function addUserSchema(t: TFunction) {
  return z.object({
    email: z
      .string()
      .trim()
      .regex(/^[^\s@]+@[^\s@]+$/, t('users.emailInvalid')),
    role: z.enum(['admin', 'standard', 'auditor']),
    password: z.string().refine((s) => s === '' || s.length >= 12, t('users.passwordShort')),
  });
}

function AddUser({ tenant }: { tenant: string }) {
  const { t } = useTranslation('admin');
  const add = useAddTenantUser(tenant);
  const form = useForm<{ email: string; role: TenantRole; password: string }>({
    resolver: zodResolver(addUserSchema(t)),
    defaultValues: { email: '', role: 'standard', password: '' },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async (v) => {
    try {
      await add.mutateAsync({
        email: v.email.trim(),
        role: v.role,
        ...(v.password ? { password: v.password } : {}),
      });
      form.reset();
    } catch {
      // inline
    }
  });
  return (
    <form
      onSubmit={submit}
      noValidate
      className="grid gap-3 md:grid-cols-4"
      aria-label={t('users.add')}
    >
      <div className="md:col-span-4">
        <FormError error={add.error} />
      </div>
      <div>
        <label htmlFor="u-email" className="label">
          {t('users.email')}
        </label>
        <input
          id="u-email"
          type="email"
          className="input"
          aria-invalid={!!errors.email}
          aria-describedby="u-email-error"
          {...form.register('email')}
        />
        <FieldError id="u-email-error" message={errors.email?.message} />
      </div>
      <div>
        <label htmlFor="u-role" className="label">
          {t('users.role')}
        </label>
        <select id="u-role" className="input" {...form.register('role')}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`users.roles.${r}`)}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="u-password" className="label">
          {t('users.password')}
        </label>
        <input
          id="u-password"
          type="password"
          autoComplete="new-password"
          className="input"
          aria-invalid={!!errors.password}
          aria-describedby="u-password-help u-password-error"
          {...form.register('password')}
        />
        <p id="u-password-help" className="mt-1 text-xs text-muted">
          {t('users.passwordHelp')}
        </p>
        <FieldError id="u-password-error" message={errors.password?.message} />
      </div>
      <div className="flex items-start pt-6">
        <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
          {t('users.save')}
        </button>
      </div>
    </form>
  );
}

export default function UsersPage() {
  const { t } = useTranslation('admin');
  const { tenant = '' } = useParams();
  const me = useMe();
  const users = useTenantUsers(tenant);
  const setRole = useSetTenantRole(tenant);
  const remove = useRemoveTenantUser(tenant);
  const manage = can(me, 'tenant.users.manage', tenant);
  const roleOf = (u: User) => u.memberships.find((m) => m.tenant === tenant)?.role ?? '';
  const columns: Column<User>[] = [
    { key: 'email', header: t('users.email'), sortValue: (u) => u.email, render: (u) => u.email },
    {
      key: 'role',
      header: t('users.role'),
      sortValue: roleOf,
      render: (u) =>
        manage && u.id !== me.user.id ? (
          <select
            className="input w-36 py-1"
            aria-label={t('users.changeRole', { email: u.email })}
            value={roleOf(u)}
            onChange={(e) => setRole.mutate({ user: u.email, role: e.target.value })}
          >
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {t(`users.roles.${r}`)}
              </option>
            ))}
          </select>
        ) : (
          t(`users.roles.${roleOf(u) || 'standard'}`)
        ),
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
    ...(manage
      ? [
          {
            key: 'actions',
            header: '',
            render: (u: User) =>
              u.id !== me.user.id && (
                <button
                  type="button"
                  className="btn btn-secondary"
                  onClick={() => remove.mutate(u.email)}
                >
                  {t('users.remove')}
                  <span className="sr-only"> {u.email}</span>
                </button>
              ),
          },
        ]
      : []),
  ];
  return (
    <div>
      <PageHeader title={t('users.title')} />
      {manage && (
        <Card title={t('users.add')} className="mb-4">
          <AddUser tenant={tenant} />
        </Card>
      )}
      <Card>
        {users.isPending ? (
          <Spinner />
        ) : (
          <DataTable
            caption={t('users.title')}
            columns={columns}
            rows={users.data?.items ?? []}
            rowKey={(u) => u.id}
            initialSort={{ key: 'email', dir: 'asc' }}
          />
        )}
      </Card>
      <ApiTokensSection tenant={tenant} />
    </div>
  );
}
