// Toasts: short notices in an aria-live region. Errors show the server's trace id so that a
// support request can name the exact request in the server log.
import { useSyncExternalStore } from 'react';
import { ApiError } from '../api/client';

export interface Toast {
  id: number;
  kind: 'error' | 'success' | 'info';
  message: string;
  traceId?: string;
}

let toasts: Toast[] = [];
let nextId = 1;
const listeners = new Set<() => void>();

function emit() {
  for (const l of listeners) l();
}

export function dismissToast(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  emit();
}

export function pushToast(t: Omit<Toast, 'id'>, ttlMs = 8000): number {
  const id = nextId++;
  toasts = [...toasts.slice(-4), { ...t, id }];
  emit();
  if (ttlMs > 0) setTimeout(() => dismissToast(id), ttlMs);
  return id;
}

/** Shows an error toast for any thrown value; ApiErrors carry their trace id. */
export function toastError(err: unknown): void {
  if (err instanceof ApiError) {
    pushToast({ kind: 'error', message: err.message, traceId: err.traceId || undefined });
  } else {
    pushToast({ kind: 'error', message: err instanceof Error ? err.message : String(err) });
  }
}

export function clearToasts(): void {
  toasts = [];
  emit();
}

function subscribe(l: () => void) {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function useToasts(): Toast[] {
  return useSyncExternalStore(
    subscribe,
    () => toasts,
    () => toasts,
  );
}

const KIND_CLASS: Record<Toast['kind'], string> = {
  error: 'border-danger bg-danger-soft',
  success: 'border-ok bg-ok-soft',
  info: 'border-brand bg-primary-soft',
};

export function Toaster() {
  const list = useToasts();
  return (
    <div
      aria-live="polite"
      aria-label="Notifications"
      role="region"
      className="pointer-events-none fixed right-4 bottom-4 z-50 flex w-96 max-w-[calc(100vw-2rem)] flex-col gap-2"
    >
      {list.map((t) => (
        <div
          key={t.id}
          role={t.kind === 'error' ? 'alert' : 'status'}
          className={`card pointer-events-auto flex items-start gap-3 border-l-4 p-3 text-sm text-fg ${KIND_CLASS[t.kind]}`}
        >
          <div className="flex-1">
            <p>{t.message}</p>
            {t.traceId && (
              <p className="mt-1 font-mono text-xs text-muted">Trace ID: {t.traceId}</p>
            )}
          </div>
          <button
            type="button"
            className="rounded px-1 text-muted hover:text-fg"
            aria-label="Dismiss notification"
            onClick={() => dismissToast(t.id)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}
