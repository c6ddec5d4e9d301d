// The tenant's credential vault: metadata only. A secret goes in through the form and is never
// shown again: the form clears itself after saving, and the list only says a secret is stored.
import { useState } from 'react';
import { useForm } from 'react-hook-form';
import { zodResolver } from '@hookform/resolvers/zod';
import { z } from 'zod';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { useParams } from 'react-router';
import {
  useCreateCredential,
  useCredentials,
  useDeleteCredential,
  useTestCredential,
} from '../api/queries';
import type { Credential } from '../api/types';
import { useMe } from '../auth/AuthProvider';
import { can } from '../auth/permissions';
import { DataTable } from '../components/DataTable';
import type { Column } from '../components/DataTable';
import { pushToast } from '../components/toast';
import {
  Badge,
  Card,
  FieldError,
  FormError,
  PageHeader,
  Spinner,
  formatDate,
} from '../components/ui';

export function credentialSchema(t: TFunction) {
  return z
    .object({
      name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, t('creds.nameInvalid')),
      kind: z.enum(['snmp-v2c', 'snmp-v3']),
      community: z.string(),
      user: z.string(),
      auth_proto: z.enum(['SHA', 'SHA-256']),
      auth_password: z.string(),
      priv_proto: z.enum(['AES']),
      priv_password: z.string(),
    })
    .superRefine((v, ctx) => {
      if (v.kind === 'snmp-v2c' && v.community === '') {
        ctx.addIssue({ code: 'custom', path: ['community'], message: t('creds.secretRequired') });
      }
      if (v.kind === 'snmp-v3') {
        if (v.user.trim() === '')
          ctx.addIssue({ code: 'custom', path: ['user'], message: t('creds.userRequired') });
        if (v.auth_password.length < 8) {
          ctx.addIssue({
            code: 'custom',
            path: ['auth_password'],
            message: t('creds.passwordShort'),
          });
        }
        if (v.priv_password.length < 8) {
          ctx.addIssue({
            code: 'custom',
            path: ['priv_password'],
            message: t('creds.passwordShort'),
          });
        }
      }
    });
}

type Values = z.infer<ReturnType<typeof credentialSchema>>;
const EMPTY: Values = {
  name: '',
  kind: 'snmp-v2c',
  community: '',
  user: '',
  auth_proto: 'SHA-256',
  auth_password: '',
  priv_proto: 'AES',
  priv_password: '',
};

function AddCredential({ tenant }: { tenant: string }) {
  const { t } = useTranslation('admin');
  const create = useCreateCredential(tenant);
  const form = useForm<Values>({
    resolver: zodResolver(credentialSchema(t)),
    defaultValues: EMPTY,
  });
  const { errors, isSubmitting } = form.formState;
  const kind = form.watch('kind');
  const submit = form.handleSubmit(async (v) => {
    const body: Record<string, string> =
      v.kind === 'snmp-v2c'
        ? { name: v.name, kind: v.kind, community: v.community }
        : {
            name: v.name,
            kind: v.kind,
            user: v.user.trim(),
            auth_proto: v.auth_proto,
            auth_password: v.auth_password,
            priv_proto: v.priv_proto,
            priv_password: v.priv_password,
          };
    try {
      await create.mutateAsync(body);
      // Drop every secret from the form state at once.
      form.reset(EMPTY);
      pushToast({ kind: 'success', message: t('creds.saved', { name: v.name }) });
    } catch {
      // inline
    }
  });
  const field = (name: keyof Values, label: string, type = 'text') => (
    <div>
      <label htmlFor={`c-${name}`} className="label">
        {label}
      </label>
      <input
        id={`c-${name}`}
        type={type}
        autoComplete={type === 'password' ? 'new-password' : 'off'}
        className="input"
        aria-invalid={!!errors[name]}
        aria-describedby={`c-${name}-error`}
        {...form.register(name)}
      />
      <FieldError id={`c-${name}-error`} message={errors[name]?.message} />
    </div>
  );
  return (
    <form
      onSubmit={submit}
      noValidate
      className="grid gap-3 md:grid-cols-3"
      aria-label={t('creds.add')}
    >
      <div className="md:col-span-3">
        <FormError error={create.error} />
      </div>
      {field('name', t('creds.name'))}
      <div>
        <label htmlFor="c-kind" className="label">
          {t('creds.kind')}
        </label>
        <select id="c-kind" className="input" {...form.register('kind')}>
          <option value="snmp-v2c">SNMP v2c</option>
          <option value="snmp-v3">SNMP v3</option>
        </select>
      </div>
      {kind === 'snmp-v2c' ? (
        field('community', t('creds.community'), 'password')
      ) : (
        <>
          {field('user', t('creds.user'))}
          <div>
            <label htmlFor="c-auth_proto" className="label">
              {t('creds.authProto')}
            </label>
            <select id="c-auth_proto" className="input" {...form.register('auth_proto')}>
              <option value="SHA-256">SHA-256</option>
              <option value="SHA">SHA</option>
            </select>
          </div>
          {field('auth_password', t('creds.authPassword'), 'password')}
          <div>
            <label htmlFor="c-priv_proto" className="label">
              {t('creds.privProto')}
            </label>
            <select id="c-priv_proto" className="input" {...form.register('priv_proto')}>
              <option value="AES">AES</option>
            </select>
          </div>
          {field('priv_password', t('creds.privPassword'), 'password')}
        </>
      )}
      <div className="md:col-span-3">
        <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
          {t('creds.save')}
        </button>
      </div>
    </form>
  );
}

function TestButton({ tenant, c }: { tenant: string; c: Credential }) {
  const { t } = useTranslation('admin');
  const test = useTestCredential(tenant);
  const [target, setTarget] = useState('');
  return (
    <form
      className="flex items-center gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        test.mutate(
          { name: c.name, target },
          {
            onSuccess: (r) =>
              pushToast({
                kind: r.ok ? 'success' : 'error',
                message: r.ok
                  ? t('creds.testOk', { target: r.target, descr: r.sys_descr ?? '' })
                  : t('creds.testFail', { target: r.target, error: r.error ?? '' }),
              }),
          },
        );
      }}
    >
      <input
        className="input w-40 py-1"
        placeholder="127.0.0.1:161"
        aria-label={t('creds.testTarget', { name: c.name })}
        value={target}
        onChange={(e) => setTarget(e.target.value)}
      />
      <button type="submit" className="btn btn-secondary" disabled={test.isPending}>
        {t('creds.test')}
      </button>
    </form>
  );
}

export default function CredentialsPage() {
  const { t } = useTranslation('admin');
  const { tenant = '' } = useParams();
  const me = useMe();
  const manage = can(me, 'tenant.credentials.manage', tenant);
  const list = useCredentials(tenant);
  const del = useDeleteCredential(tenant);
  const columns: Column<Credential>[] = [
    { key: 'name', header: t('creds.name'), sortValue: (c) => c.name, render: (c) => c.name },
    { key: 'kind', header: t('creds.kind'), sortValue: (c) => c.kind, render: (c) => c.kind },
    {
      key: 'meta',
      header: '',
      render: (c) => (
        <span className="flex flex-wrap gap-1">
          {Object.entries(c.metadata).map(([k, v]) => (
            <Badge key={k}>
              {k}: {v}
            </Badge>
          ))}
          {c.has_secret && <Badge tone="ok">{t('creds.stored')}</Badge>}
        </span>
      ),
    },
    {
      key: 'updated',
      header: 'Updated',
      sortValue: (c) => c.updated,
      render: (c) => formatDate(c.updated),
    },
    ...(manage
      ? [
          {
            key: 'actions',
            header: '',
            render: (c: Credential) => (
              <span className="flex flex-wrap items-center gap-2">
                <TestButton tenant={tenant} c={c} />
                <button
                  type="button"
                  className="btn btn-secondary"
                  onClick={() => del.mutate(c.name)}
                >
                  Delete<span className="sr-only"> {c.name}</span>
                </button>
              </span>
            ),
          },
        ]
      : []),
  ];
  return (
    <div>
      <PageHeader title={t('creds.title')} sub={t('creds.sub')} />
      {manage && (
        <Card title={t('creds.add')} className="mb-4">
          <AddCredential tenant={tenant} />
        </Card>
      )}
      <Card>
        {list.isPending ? (
          <Spinner />
        ) : (
          <DataTable
            caption={t('creds.title')}
            columns={columns}
            rows={list.data?.items ?? []}
            rowKey={(c) => c.id}
            empty={t('creds.none')}
          />
        )}
      </Card>
    </div>
  );
}
