// The signed-in user's own credentials on the My account page: changing the password and
// turning two-factor sign-in (TOTP) on or off. The server checks strength, breach lists and
// codes; these forms only catch the obvious mistakes early and show the server's message, with
// its trace id, inline.
import { useState } from 'react';
import { useForm } from 'react-hook-form';
import { zodResolver } from '@hookform/resolvers/zod';
import { z } from 'zod';
import type { TFunction } from 'i18next';
import { useTranslation } from 'react-i18next';
import { useChangePassword, useConfirmTotp, useDisableTotp, useStartTotp } from '../api/queries';
import { useAuth, useMe } from '../auth/AuthProvider';
import { Card, FieldError, FormError } from '../components/ui';

export function passwordSchema(t: TFunction) {
  return z
    .object({
      old_password: z.string().min(1, t('account.password.currentRequired')),
      new_password: z
        .string()
        .min(12, t('account.password.short'))
        .max(1024, t('account.password.long')),
      confirm: z.string(),
    })
    .refine((v) => v.new_password === v.confirm, {
      path: ['confirm'],
      message: t('account.password.mismatch'),
    })
    .refine((v) => v.new_password === '' || v.new_password !== v.old_password, {
      path: ['new_password'],
      message: t('account.password.same'),
    });
}

type PasswordValues = z.infer<ReturnType<typeof passwordSchema>>;

export function ChangePasswordForm() {
  const { t } = useTranslation('admin');
  const change = useChangePassword();
  const [done, setDone] = useState(false);
  const form = useForm<PasswordValues>({
    resolver: zodResolver(passwordSchema(t)),
    defaultValues: { old_password: '', new_password: '', confirm: '' },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async (v) => {
    setDone(false);
    try {
      await change.mutateAsync({ old_password: v.old_password, new_password: v.new_password });
      form.reset();
      setDone(true);
    } catch {
      // shown inline by FormError
    }
  });
  return (
    <form
      onSubmit={submit}
      noValidate
      className="flex max-w-md flex-col gap-3"
      aria-label={t('account.password.title')}
    >
      <FormError error={change.error} />
      {done && (
        <p role="status" className="rounded-md border border-ok bg-ok-soft p-3 text-sm text-ok">
          {t('account.password.done')}
        </p>
      )}
      <div>
        <label htmlFor="pw-old" className="label">
          {t('account.password.current')}
        </label>
        <input
          id="pw-old"
          type="password"
          autoComplete="current-password"
          className="input"
          aria-invalid={!!errors.old_password}
          aria-describedby="pw-old-error"
          {...form.register('old_password')}
        />
        <FieldError id="pw-old-error" message={errors.old_password?.message} />
      </div>
      <div>
        <label htmlFor="pw-new" className="label">
          {t('account.password.new')}
        </label>
        <input
          id="pw-new"
          type="password"
          autoComplete="new-password"
          className="input"
          aria-invalid={!!errors.new_password}
          aria-describedby="pw-new-help pw-new-error"
          {...form.register('new_password')}
        />
        <p id="pw-new-help" className="mt-1 text-xs text-muted">
          {t('account.password.newHelp')}
        </p>
        <FieldError id="pw-new-error" message={errors.new_password?.message} />
      </div>
      <div>
        <label htmlFor="pw-confirm" className="label">
          {t('account.password.confirm')}
        </label>
        <input
          id="pw-confirm"
          type="password"
          autoComplete="new-password"
          className="input"
          aria-invalid={!!errors.confirm}
          aria-describedby="pw-confirm-error"
          {...form.register('confirm')}
        />
        <FieldError id="pw-confirm-error" message={errors.confirm?.message} />
      </div>
      <div>
        <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
          {isSubmitting ? t('account.password.saving') : t('account.password.submit')}
        </button>
      </div>
    </form>
  );
}

export function totpCodeSchema(t: TFunction) {
  return z.object({
    code: z
      .string()
      .transform((s) => s.replace(/\s+/g, ''))
      .pipe(z.string().regex(/^\d{6}$/, t('account.totp.codeInvalid'))),
  });
}

export function disableSchema(t: TFunction) {
  return z.object({ password: z.string().min(1, t('account.totp.passwordRequired')) });
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const { t } = useTranslation('admin');
  return (
    <div role="status" className="flex flex-col gap-3">
      <p className="font-semibold text-ok">{t('account.totp.enabled')}</p>
      <h3 className="font-semibold">{t('account.totp.recoveryTitle')}</h3>
      <p className="text-sm text-muted">{t('account.totp.recoveryNote')}</p>
      <ul
        aria-label={t('account.totp.recoveryTitle')}
        className="grid max-w-md grid-cols-2 gap-1 font-mono text-sm"
      >
        {codes.map((c) => (
          <li key={c}>{c}</li>
        ))}
      </ul>
      <div>
        <button type="button" className="btn btn-secondary" onClick={onDone}>
          {t('account.totp.recoveryDone')}
        </button>
      </div>
    </div>
  );
}

function ConfirmTotp({
  secret,
  uri,
  qr,
  onConfirmed,
  onCancel,
}: {
  secret: string;
  uri: string;
  qr: string;
  onConfirmed: (codes: string[]) => void;
  onCancel: () => void;
}) {
  const { t } = useTranslation('admin');
  const confirm = useConfirmTotp();
  const form = useForm<{ code: string }>({
    resolver: zodResolver(totpCodeSchema(t)),
    defaultValues: { code: '' },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async ({ code }) => {
    try {
      const r = await confirm.mutateAsync(code);
      onConfirmed(r.recovery_codes);
    } catch {
      // shown inline
    }
  });
  return (
    <div className="flex flex-col gap-3">
      <p className="text-sm">{t('account.totp.step1')}</p>
      {qr && (
        <img
          src={`data:image/png;base64,${qr}`}
          alt={t('account.totp.qrAlt')}
          width={200}
          height={200}
          className="rounded-md border border-line bg-white p-2"
        />
      )}
      <dl className="grid gap-1 text-sm">
        <dt className="font-semibold">{t('account.totp.secret')}</dt>
        <dd>
          <code data-testid="totp-secret" className="break-all font-mono">
            {secret}
          </code>
        </dd>
        <dt className="font-semibold">{t('account.totp.uri')}</dt>
        <dd>
          <code className="break-all font-mono text-xs">{uri}</code>
        </dd>
      </dl>
      <form
        onSubmit={submit}
        noValidate
        className="flex max-w-md flex-col gap-3"
        aria-label={t('account.totp.confirm')}
      >
        <FormError error={confirm.error} />
        <div>
          <label htmlFor="totp-code" className="label">
            {t('account.totp.code')}
          </label>
          <input
            id="totp-code"
            className="input"
            inputMode="numeric"
            autoComplete="one-time-code"
            aria-invalid={!!errors.code}
            aria-describedby="totp-code-help totp-code-error"
            {...form.register('code')}
          />
          <p id="totp-code-help" className="mt-1 text-xs text-muted">
            {t('account.totp.codeHelp')}
          </p>
          <FieldError id="totp-code-error" message={errors.code?.message} />
        </div>
        <div className="flex gap-2">
          <button type="submit" className="btn btn-primary" disabled={isSubmitting}>
            {t('account.totp.confirm')}
          </button>
          <button type="button" className="btn btn-secondary" onClick={onCancel}>
            {t('account.totp.cancel')}
          </button>
        </div>
      </form>
    </div>
  );
}

function DisableTotp({ onDisabled }: { onDisabled: () => void }) {
  const { t } = useTranslation('admin');
  const disable = useDisableTotp();
  const form = useForm<{ password: string }>({
    resolver: zodResolver(disableSchema(t)),
    defaultValues: { password: '' },
  });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async ({ password }) => {
    try {
      await disable.mutateAsync(password);
      form.reset();
      onDisabled();
    } catch {
      // shown inline
    }
  });
  return (
    <form
      onSubmit={submit}
      noValidate
      className="flex max-w-md flex-col gap-3"
      aria-label={t('account.totp.disableTitle')}
    >
      <FormError error={disable.error} />
      <div>
        <label htmlFor="totp-off-password" className="label">
          {t('account.totp.disablePassword')}
        </label>
        <input
          id="totp-off-password"
          type="password"
          autoComplete="current-password"
          className="input"
          aria-invalid={!!errors.password}
          aria-describedby="totp-off-password-error"
          {...form.register('password')}
        />
        <FieldError id="totp-off-password-error" message={errors.password?.message} />
      </div>
      <div>
        <button type="submit" className="btn btn-secondary" disabled={isSubmitting}>
          {t('account.totp.disableSubmit')}
        </button>
      </div>
    </form>
  );
}

/** Two-factor sign-in: enrol an authenticator, confirm it with a code, or turn it off. */
export function TotpCard() {
  const { t } = useTranslation('admin');
  const me = useMe();
  const { reloadMe } = useAuth();
  const start = useStartTotp();
  const [codes, setCodes] = useState<string[] | null>(null);
  const [notice, setNotice] = useState('');
  const enabled = me.user.mfa_enabled;
  const refresh = () => {
    reloadMe().catch(() => {
      // the next page load shows the new state; the change itself succeeded
    });
  };

  let body;
  if (codes) {
    body = <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />;
  } else if (enabled) {
    body = (
      <>
        <p className="mb-3 text-sm">{t('account.totp.on')}</p>
        <DisableTotp
          onDisabled={() => {
            start.reset();
            setNotice(t('account.totp.disabled'));
            refresh();
          }}
        />
      </>
    );
  } else if (start.data) {
    body = (
      <ConfirmTotp
        secret={start.data.secret}
        uri={start.data.uri}
        qr={start.data.qr_png}
        onConfirmed={(c) => {
          start.reset();
          setNotice('');
          setCodes(c);
          refresh();
        }}
        onCancel={() => start.reset()}
      />
    );
  } else {
    body = (
      <div className="flex flex-col gap-3">
        <p className="text-sm">{t('account.totp.off')}</p>
        <FormError error={start.error} />
        <div>
          <button
            type="button"
            className="btn btn-primary"
            disabled={start.isPending}
            onClick={() => {
              setNotice('');
              start.mutate();
            }}
          >
            {start.isPending ? t('account.totp.starting') : t('account.totp.start')}
          </button>
        </div>
      </div>
    );
  }
  return (
    <Card title={t('account.totp.title')} className="mb-4">
      {notice && (
        <p role="status" className="mb-3 text-sm text-ok">
          {notice}
        </p>
      )}
      {body}
    </Card>
  );
}
