// Small building blocks shared by every page.
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { ApiError } from '../api/client';

export function Card({
  title,
  actions,
  children,
  className = '',
}: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <section className={`card p-4 ${className}`}>
      {(title || actions) && (
        <div className="mb-3 flex items-center justify-between gap-2">
          {title && <h2 className="text-base font-semibold">{title}</h2>}
          {actions}
        </div>
      )}
      {children}
    </section>
  );
}

export function PageHeader({
  title,
  actions,
  sub,
}: {
  title: string;
  actions?: ReactNode;
  sub?: ReactNode;
}) {
  return (
    <div className="mb-4 flex flex-wrap items-end justify-between gap-3">
      <div>
        <h1 className="text-2xl font-bold">{title}</h1>
        {sub && <p className="mt-1 text-sm text-muted">{sub}</p>}
      </div>
      {actions && <div className="flex flex-wrap gap-2">{actions}</div>}
    </div>
  );
}

export function EmptyState({ children }: { children: ReactNode }) {
  return (
    <div className="rounded-card border border-dashed border-line p-6 text-center text-sm text-muted">
      {children}
    </div>
  );
}

export function NotAvailable({ what }: { what: string }) {
  const { t } = useTranslation();
  return <EmptyState>{t('empty.notAvailable', { what })}</EmptyState>;
}

export function Spinner({ label }: { label?: string }) {
  const { t } = useTranslation();
  return (
    <p role="status" className="text-sm text-muted">
      {label ?? t('loading')}
    </p>
  );
}

const TONE: Record<string, string> = {
  critical: 'bg-sev-critical text-white dark:text-black',
  high: 'bg-sev-high text-white dark:text-black',
  medium: 'bg-sev-medium text-black',
  low: 'bg-sev-low text-white dark:text-black',
  info: 'bg-sev-info text-white dark:text-black',
  ok: 'bg-ok-soft text-ok',
  warn: 'bg-warn-soft text-warn',
  danger: 'bg-danger-soft text-danger',
  neutral: 'bg-raised text-fg border border-line',
  primary: 'bg-primary-soft text-primary',
};

export function Badge({ tone = 'neutral', children }: { tone?: string; children: ReactNode }) {
  return (
    <span
      className={`inline-block rounded-full px-2 py-0.5 text-xs font-semibold ${TONE[tone] ?? TONE.neutral}`}
    >
      {children}
    </span>
  );
}

export function ProgressBar({ value, max, label }: { value: number; max: number; label: string }) {
  const pct = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;
  return (
    <div>
      <progress className="tn-progress h-2 w-full" value={pct} max={100} aria-label={label}>
        {pct}%
      </progress>
    </div>
  );
}

/** An inline error for a form: the server's message and the trace id to quote. */
export function FormError({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  const msg = error instanceof Error ? error.message : String(error);
  const trace = error instanceof ApiError ? error.traceId : '';
  return (
    <div
      role="alert"
      className="rounded-md border border-danger bg-danger-soft p-3 text-sm text-danger"
    >
      <p>{msg}</p>
      {trace && <p className="mt-1 font-mono text-xs">{t('traceId', { id: trace })}</p>}
    </div>
  );
}

export function FieldError({ id, message }: { id: string; message?: string }) {
  if (!message) return null;
  return (
    <p id={id} className="mt-1 text-sm text-danger">
      {message}
    </p>
  );
}

export function Pager({
  page,
  pageSize,
  total,
  onPage,
}: {
  page: number;
  pageSize: number;
  total: number;
  onPage: (p: number) => void;
}) {
  const { t } = useTranslation();
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return (
    <nav
      aria-label={t('pager.label')}
      className="mt-3 flex items-center justify-between gap-2 text-sm"
    >
      <span className="text-muted">{t('pager.status', { page, pages, total })}</span>
      <span className="flex gap-2">
        <button
          type="button"
          className="btn btn-secondary"
          disabled={page <= 1}
          onClick={() => onPage(page - 1)}
        >
          {t('pager.prev')}
        </button>
        <button
          type="button"
          className="btn btn-secondary"
          disabled={page >= pages}
          onClick={() => onPage(page + 1)}
        >
          {t('pager.next')}
        </button>
      </span>
    </nav>
  );
}

export function Denied() {
  const { t } = useTranslation();
  return (
    <div className="card mx-auto mt-8 max-w-lg p-6" role="alert">
      <h1 className="text-xl font-bold">{t('denied.title')}</h1>
      <p className="mt-2 text-muted">{t('denied.body')}</p>
    </div>
  );
}

export function NotFoundPage() {
  const { t } = useTranslation();
  return (
    <div className="card mx-auto mt-8 max-w-lg p-6">
      <h1 className="text-xl font-bold">{t('notFound.title')}</h1>
      <p className="mt-2 text-muted">{t('notFound.body')}</p>
      <Link className="link mt-4 inline-block" to="/">
        {t('notFound.home')}
      </Link>
    </div>
  );
}

export function formatDate(s: string | null | undefined): string {
  if (!s) return '—';
  const d = new Date(s);
  if (Number.isNaN(d.getTime()) || d.getFullYear() < 1971) return '—';
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
