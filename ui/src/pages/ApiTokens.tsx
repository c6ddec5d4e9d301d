// A tenant's API tokens on the Users & roles page: tenant admins and auditors see the list
// (never a secret), admins create and revoke. A created token's secret is in the create answer
// only, so it is shown once, with a copy button, until the admin dismisses it.
import { useRef, useState } from 'react';
import { useForm } from 'react-hook-form';
import { zodResolver } from '@hookform/resolvers/zod';
import { z } from 'zod';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { useApiTokens, useCreateApiToken, useRevokeApiToken } from '../api/queries';
import type { APIToken, CreatedAPIToken, TenantRole } from '../api/types';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import { DataTable } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import {
  Badge,
  Card,
  EmptyState,
  FieldError,
  FormError,
  Spinner,
  formatDate,
} from '../components/ui';

const ROLES: TenantRole[] = ['admin', 'standard', 'auditor'];
export const EXPIRIES = ['720h', '2160h', '8760h', '17520h'] as const;

export function newTokenSchema(t: TFunction) {
  return z.object({
    name: z.string().trim().min(1, t('tokens.nameRequired')).max(100, t('tokens.nameLong')),
    role: z.enum(['admin', 'standard', 'auditor']),
    expires_in: z.enum(EXPIRIES),
  });
}

type NewToken = z.infer<ReturnType<typeof newTokenSchema>>;

/** Whether a token still works now: not revoked and not past its expiry. */
export function tokenState(tok: APIToken, now = Date.now()): 'active' | 'revoked' | 'expired' {
  if (tok.revoked_at) return 'revoked';
  const exp = Date.parse(tok.expires_at);
  if (Number.isFinite(exp) && exp <= now) return 'expired';
  return 'active';
}

function NewSecret({ tok, onDismiss }: { tok: CreatedAPIToken; onDismiss: () => void }) {
  const { t } = useTranslation('admin');
  const input = useRef<HTMLInputElement>(null);
  const [copy, setCopy] = useState('');
  const doCopy = async () => {
    try {
      await navigator.clipboard.writeText(tok.token);
      setCopy(t('tokens.copied'));
    } catch {
      input.current?.select();
      setCopy(t('tokens.copyFailed'));
    }
  };
  return (
    <section
      aria-labelledby="new-token-title"
      className="mb-4 rounded-md border border-warn bg-warn-soft p-3"
    >
      <h3 id="new-token-title" className="font-semibold">
        {t('tokens.newTitle', { name: tok.name })}
      </h3>
      <p className="mt-1 text-sm">{t('tokens.once')}</p>
      <div className="mt-2 flex flex-wrap items-end gap-2">
        <div className="min-w-0 flex-1">
          <label htmlFor="new-token-secret" className="label">
            {t('tokens.secret')}
          </label>
          <input
            id="new-token-secret"
            ref={input}
            readOnly
            className="input font-mono"
            value={tok.token}
            onFocus={(e) => e.currentTarget.select()}
          />
        </div>
        <button type="button" className="btn btn-primary" onClick={() => void doCopy()}>
          {t('tokens.copy')}
        </button>
        <button type="button" className="btn btn-secondary" onClick={onDismiss}>
          {t('tokens.dismiss')}
        </button>
      </div>
      <p role="status" className="mt-1 text-sm">
        {copy}
      </p>
    </section>
  );
}

export function CreateTokenForm({
  tenant,
  onCreated,
}: {
  tenant: string;
  onCreated: (tok: CreatedAPIToken) => void;
}) {
  const { t } = useTranslation('admin');
  const create = useCreateApiToken(tenant);
  const form = useForm<NewToken>({
    resolver: zodResolver(newTokenSchema(t)),
    defaultValues: { name: '', role: 'standard', expires_in: '2160h' },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async (v) => {
    try {
      const tok = await create.mutateAsync({
        name: v.name.trim(),
        role: v.role,
        expires_in: v.expires_in,
      });
      form.reset();
      onCreated(tok);
    } catch {
      // shown inline
    }
  });
  return (
    <form
      onSubmit={submit}
      noValidate
      className="grid gap-3 md:grid-cols-4"
      aria-label={t('tokens.create')}
    >
      <div className="md:col-span-4">
        <FormError error={create.error} />
      </div>
      <div>
        <label htmlFor="tok-name" className="label">
          {t('tokens.name')}
        </label>
        <input
          id="tok-name"
          className="input"
          autoComplete="off"
          aria-invalid={!!errors.name}
          aria-describedby="tok-name-error"
          {...form.register('name')}
        />
        <FieldError id="tok-name-error" message={errors.name?.message} />
      </div>
      <div>
        <label htmlFor="tok-role" className="label">
          {t('tokens.role')}
        </label>
        <select id="tok-role" className="input" {...form.register('role')}>
          {ROLES.map((r) => (
            <option key={r} value={r}>
              {t(`users.roles.${r}`)}
            </option>
          ))}
        </select>
      </div>
      <div>
        <label htmlFor="tok-expires" className="label">
          {t('tokens.expires')}
        </label>
        <select id="tok-expires" className="input" {...form.register('expires_in')}>
          {EXPIRIES.map((e) => (
            <option key={e} value={e}>
              {t(`tokens.expiresOptions.${e}`)}
            </option>
          ))}
        </select>
      </div>
      <div className="flex items-start pt-6">
        <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
          {t('tokens.submit')}
        </button>
      </div>
    </form>
  );
}

/** The tenant's API tokens; renders nothing for a user who may not read them. */
export function ApiTokensSection({ tenant }: { tenant: string }) {
  const { t } = useTranslation('admin');
  const me = useMe();
  const read = can(me, 'tenant.tokens.read', tenant);
  const manage = can(me, 'tenant.tokens.manage', tenant);
  const tokens = useApiTokens(tenant, read);
  const revoke = useRevokeApiToken(tenant);
  const [created, setCreated] = useState<CreatedAPIToken | null>(null);
  if (!read) return null;
  const columns: Column<APIToken>[] = [
    { key: 'name', header: t('tokens.name'), sortValue: (x) => x.name, render: (x) => x.name },
    { key: 'role', header: t('tokens.role'), render: (x) => t(`users.roles.${x.role}`) },
    { key: 'by', header: t('tokens.createdBy'), render: (x) => x.created_by },
    {
      key: 'created',
      header: t('tokens.created'),
      sortValue: (x) => x.created_at,
      render: (x) => formatDate(x.created_at),
    },
    {
      key: 'expires',
      header: t('tokens.expiresAt'),
      sortValue: (x) => x.expires_at,
      render: (x) => formatDate(x.expires_at),
    },
    { key: 'used', header: t('tokens.lastUsed'), render: (x) => formatDate(x.last_used) },
    {
      key: 'status',
      header: t('tokens.status'),
      render: (x) => {
        const s = tokenState(x);
        return <Badge tone={s === 'active' ? 'ok' : 'neutral'}>{t(`tokens.${s}`)}</Badge>;
      },
    },
    ...(manage
      ? [
          {
            key: 'actions',
            header: '',
            render: (x: APIToken) =>
              tokenState(x) === 'active' && (
                <button
                  type="button"
                  className="btn btn-secondary"
                  onClick={() => revoke.mutate(x.id)}
                >
                  {t('tokens.revoke')}
                  <span className="sr-only"> {x.name}</span>
                </button>
              ),
          },
        ]
      : []),
  ];
  return (
    <Card title={t('tokens.title')} className="mt-4">
      <p className="mb-3 text-sm text-muted">{t('tokens.sub')}</p>
      {created && <NewSecret tok={created} onDismiss={() => setCreated(null)} />}
      {manage && (
        <div className="mb-4">
          <CreateTokenForm tenant={tenant} onCreated={setCreated} />
        </div>
      )}
      {tokens.isPending ? (
        <Spinner />
      ) : (
        <DataTable
          caption={t('tokens.title')}
          columns={columns}
          rows={tokens.data?.items ?? []}
          rowKey={(x) => x.id}
          initialSort={{ key: 'created', dir: 'desc' }}
          empty={<EmptyState>{t('tokens.none')}</EmptyState>}
        />
      )}
    </Card>
  );
}
