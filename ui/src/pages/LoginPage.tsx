// Sign-in: email and password, then the TOTP step when the account has a second factor.
// Wrong passwords and lockouts get clear messages; the server's trace id is shown with errors.
import { useState } from 'react';
import { useForm } from 'react-hook-form';
import { zodResolver } from '@hookform/resolvers/zod';
import { z } from 'zod';
import { useTranslation } from 'react-i18next';
import type { TFunction } from 'i18next';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { isApiError } from '../api/client';
import { safeNext, useAuth } from '../auth/AuthProvider';
import { FieldError } from '../components/ui';
import { useTheme } from '../theme/theme';

export function loginSchema(t: TFunction) {
  return z.object({
    email: z
      .string()
      .trim()
      .min(1, t('errors.emailRequired'))
      .max(254)
      // Loose on purpose: the first admin is admin@localhost, which has no dot after the @.
      .regex(/^[^\s@]+@[^\s@]+$/, t('errors.emailInvalid')),
    password: z.string().min(1, t('errors.passwordRequired')).max(1024),
  });
}

export function totpSchema(t: TFunction) {
  return z.object({
    totp: z
      .string()
      .trim()
      .min(1, t('errors.totpRequired'))
      .regex(/^(\d{6}|[A-Za-z0-9]{4,}(-[A-Za-z0-9]{4,})+)$/, t('errors.totpInvalid')),
  });
}

type Creds = z.infer<ReturnType<typeof loginSchema>>;

interface Problem {
  message: string;
  traceId?: string;
}

/** Whether a 401 from login asks for the second factor rather than reporting a wrong password. */
export function needsTotp(err: unknown): boolean {
  return (
    isApiError(err) &&
    err.status === 401 &&
    (err.code === 'totp_required' || /totp|authenticator/i.test(err.message))
  );
}

function describe(err: unknown, t: TFunction): Problem {
  if (isApiError(err)) {
    if (err.status === 429) {
      const locked = /locked/i.test(err.message);
      const base = locked ? t('errors.locked') : t('errors.tooMany');
      const wait = err.retryAfter ? ` ${t('errors.retryIn', { seconds: err.retryAfter })}` : '';
      return { message: base + wait, traceId: err.traceId };
    }
    if (err.status === 401) return { message: t('errors.wrong'), traceId: err.traceId };
    return { message: err.message, traceId: err.traceId };
  }
  return { message: err instanceof Error ? err.message : String(err) };
}

function ProblemBox({ p }: { p: Problem | null }) {
  if (!p) return null;
  return (
    <div
      role="alert"
      className="rounded-md border border-danger bg-danger-soft p-3 text-sm text-danger"
    >
      <p>{p.message}</p>
      {p.traceId && <p className="mt-1 font-mono text-xs">Trace ID: {p.traceId}</p>}
    </div>
  );
}

function TotpStep({ creds, onBack }: { creds: Creds; onBack: () => void }) {
  const { t } = useTranslation('auth');
  const { login } = useAuth();
  const [problem, setProblem] = useState<Problem | null>(null);
  const form = useForm<{ totp: string }>({ resolver: zodResolver(totpSchema(t)) });
  const { errors, isSubmitting } = form.formState;
  const submit = form.handleSubmit(async ({ totp }) => {
    setProblem(null);
    try {
      await login(creds.email, creds.password, totp.trim());
    } catch (e) {
      setProblem(describe(e, t));
    }
  });
  return (
    <form onSubmit={submit} noValidate className="flex flex-col gap-4">
      <ProblemBox p={problem} />
      <div>
        <label htmlFor="totp" className="label">
          {t('totp')}
        </label>
        <input
          id="totp"
          className="input"
          inputMode="numeric"
          autoComplete="one-time-code"
          autoFocus
          aria-invalid={!!errors.totp}
          aria-describedby="totp-help totp-error"
          {...form.register('totp')}
        />
        <p id="totp-help" className="mt-1 text-sm text-muted">
          {t('totpHelp')}
        </p>
        <FieldError id="totp-error" message={errors.totp?.message} />
      </div>
      <button
        type="submit"
        className="btn btn-primary w-full py-2.5 text-base"
        disabled={isSubmitting}
      >
        {isSubmitting ? t('signingIn') : t('verify')}
      </button>
      <button type="button" className="link text-sm" onClick={onBack}>
        {t('back')}
      </button>
    </form>
  );
}

export default function LoginPage() {
  const { t } = useTranslation('auth');
  const { state, login } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const [problem, setProblem] = useState<Problem | null>(null);
  const [totpFor, setTotpFor] = useState<Creds | null>(null);
  useTheme(); // re-render on theme changes made elsewhere
  const form = useForm<Creds>({
    resolver: zodResolver(loginSchema(t)),
    defaultValues: { email: '', password: '' },
  });
  const { errors, isSubmitting } = form.formState;
  const next = safeNext(params.get('next'));

  if (state.status === 'signed-in') return <Navigate to={next} replace />;

  const submit = form.handleSubmit(async (creds) => {
    setProblem(null);
    try {
      await login(creds.email, creds.password);
      navigate(next, { replace: true });
    } catch (e) {
      if (needsTotp(e)) {
        setTotpFor(creds);
        return;
      }
      setProblem(describe(e, t));
      form.setValue('password', '');
      form.setFocus('password');
    }
  });

  const expired = params.get('expired') === '1';
  return (
    <main className="flex min-h-screen items-center justify-center p-4">
      <div className="w-full max-w-sm">
        <p className="mb-2 text-center text-4xl font-bold text-brand" aria-hidden="true">
          tenantra
        </p>
        <div className="card p-6">
          <h1 className="mb-1 text-xl font-bold">{t('title')}</h1>
          <p className="mb-4 text-sm text-muted">{t('subtitle')}</p>
          {expired && !problem && (
            <p
              role="status"
              className="mb-4 rounded-md border border-warn bg-warn-soft p-3 text-sm text-warn"
            >
              {t('expired')}
            </p>
          )}
          {totpFor ? (
            <TotpStep creds={totpFor} onBack={() => setTotpFor(null)} />
          ) : (
            <form onSubmit={submit} noValidate className="flex flex-col gap-4">
              <ProblemBox p={problem} />
              <div>
                <label htmlFor="email" className="label">
                  {t('email')}
                </label>
                <input
                  id="email"
                  type="email"
                  className="input"
                  autoComplete="username"
                  aria-invalid={!!errors.email}
                  aria-describedby={errors.email ? 'email-error' : undefined}
                  {...form.register('email')}
                />
                <FieldError id="email-error" message={errors.email?.message} />
              </div>
              <div>
                <label htmlFor="password" className="label">
                  {t('password')}
                </label>
                <input
                  id="password"
                  type="password"
                  className="input"
                  autoComplete="current-password"
                  aria-invalid={!!errors.password}
                  aria-describedby={errors.password ? 'password-error' : undefined}
                  {...form.register('password')}
                />
                <FieldError id="password-error" message={errors.password?.message} />
              </div>
              <button
                type="submit"
                className="btn btn-primary w-full py-2.5 text-base"
                disabled={isSubmitting}
              >
                {isSubmitting ? t('signingIn') : t('submit')}
              </button>
            </form>
          )}
        </div>
      </div>
    </main>
  );
}
