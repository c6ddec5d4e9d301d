// The one HTTP client of the console, on fetch. It keeps the access token in memory only (the
// refresh token lives in an HttpOnly cookie the browser sends to /v1/auth/* by itself), refreshes
// it once on a 401 and retries, and turns the server's error envelope
// {"error":{"code","message","details"?,"trace_id"}} into an ApiError that toasts and forms show.

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
  trace_id?: string;
}

/** A failed request: the server's envelope, or a network failure (status 0). */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly traceId: string;
  readonly details: unknown;
  readonly retryAfter: number | undefined;

  constructor(status: number, body: ErrorBody, retryAfter?: number) {
    super(body.message);
    this.name = 'ApiError';
    this.status = status;
    this.code = body.code;
    this.traceId = body.trace_id ?? '';
    this.details = body.details;
    this.retryAfter = retryAfter;
  }

  /** Field messages from `details` when the server names fields ({field: message}). */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    const d = this.details;
    if (d && typeof d === 'object' && !Array.isArray(d)) {
      const fields = (d as { fields?: unknown }).fields ?? d;
      if (fields && typeof fields === 'object') {
        for (const [k, v] of Object.entries(fields as Record<string, unknown>)) {
          if (typeof v === 'string') out[k] = v;
        }
      }
    }
    return out;
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

export type SessionEndReason = 'expired' | 'signed-out';

export interface Tokens {
  access_token: string;
  token_type: string;
  expires_in: number;
}

export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | undefined | null>;
  body?: unknown;
  signal?: AbortSignal;
  headers?: Record<string, string>;
}

export interface ClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Called when the session cannot be renewed (refresh refused) or after logout. */
  onSessionEnded?: (reason: SessionEndReason) => void;
}

const NO_REFRESH_PATHS = ['/v1/auth/login', '/v1/auth/refresh'];

async function readError(res: Response): Promise<ErrorBody> {
  const traceId = res.headers.get('X-Trace-Id') ?? '';
  try {
    const j = (await res.json()) as { error?: ErrorBody };
    if (j && j.error && typeof j.error.message === 'string') {
      return { ...j.error, trace_id: j.error.trace_id || traceId };
    }
  } catch {
    // not JSON: fall through to a generic message
  }
  return {
    code: `http_${res.status}`,
    message: `the server answered ${res.status} ${res.statusText}`.trim(),
    trace_id: traceId,
  };
}

export function buildQuery(q: RequestOptions['query']): string {
  if (!q) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '') continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Serialises refreshes across tabs: a spent refresh token presented twice ends the session. */
async function withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks;
  if (locks && typeof locks.request === 'function') {
    return locks.request('tenantra-refresh', fn) as Promise<T>;
  }
  return fn();
}

export class ApiClient {
  private token: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private readonly baseUrl: string;
  private readonly doFetch: typeof fetch;
  private readonly listeners = new Set<(reason: SessionEndReason) => void>();

  constructor(opts: ClientOptions = {}) {
    this.baseUrl = opts.baseUrl ?? '';
    this.doFetch = opts.fetch ?? ((...a) => globalThis.fetch(...a));
    if (opts.onSessionEnded) this.listeners.add(opts.onSessionEnded);
  }

  /** Subscribes to the end of the session; returns the unsubscribe function. */
  onSessionEnded(fn: (reason: SessionEndReason) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get accessToken(): string | null {
    return this.token;
  }

  get signedIn(): boolean {
    return this.token !== null;
  }

  private endSession(reason: SessionEndReason) {
    this.token = null;
    for (const l of this.listeners) l(reason);
  }

  /** Spends the refresh cookie for a new access token; concurrent callers share one try. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = withRefreshLock(async () => {
        try {
          const res = await this.doFetch(this.baseUrl + '/v1/auth/refresh', {
            method: 'POST',
            credentials: 'same-origin',
            headers: { Accept: 'application/json' },
          });
          if (!res.ok) return false;
          const t = (await res.json()) as Tokens;
          this.token = t.access_token;
          return true;
        } catch {
          return false;
        }
      }).finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** Restores a session on page load from the refresh cookie; false when there is none. */
  async restore(): Promise<boolean> {
    return this.refresh();
  }

  async login(email: string, password: string, totp?: string): Promise<void> {
    const body: Record<string, string> = { email, password };
    if (totp) body.totp = totp;
    const t = await this.request<Tokens>('/v1/auth/login', { method: 'POST', body });
    this.token = t.access_token;
  }

  async logout(): Promise<void> {
    try {
      if (this.token) await this.request<void>('/v1/auth/logout', { method: 'POST' });
    } finally {
      this.endSession('signed-out');
    }
  }

  /** The raw response of an authenticated request (downloads, event streams). */
  async raw(path: string, opts: RequestOptions = {}): Promise<Response> {
    const send = () => {
      const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
      if (this.token) headers.Authorization = `Bearer ${this.token}`;
      let body: BodyInit | undefined;
      if (opts.body !== undefined) {
        headers['Content-Type'] = 'application/json';
        body = JSON.stringify(opts.body);
      }
      return this.doFetch(this.baseUrl + path + buildQuery(opts.query), {
        method: opts.method ?? 'GET',
        headers,
        body,
        credentials: 'same-origin',
        signal: opts.signal,
      });
    };
    let res: Response;
    try {
      res = await send();
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new ApiError(0, {
        code: 'network',
        message: 'the appliance could not be reached; check the connection and try again',
      });
    }
    if (res.status === 401 && !NO_REFRESH_PATHS.includes(path)) {
      if (await this.refresh()) {
        res = await send();
      }
      if (res.status === 401) {
        const err = await readError(res);
        this.endSession('expired');
        throw new ApiError(401, err);
      }
    }
    if (!res.ok) {
      const ra = Number(res.headers.get('Retry-After'));
      throw new ApiError(
        res.status,
        await readError(res),
        Number.isFinite(ra) && ra > 0 ? ra : undefined,
      );
    }
    return res;
  }

  /** A JSON request; resolves to undefined for 204 answers. */
  async request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(path, opts);
    if (res.status === 204 || res.headers.get('Content-Length') === '0') {
      return undefined as T;
    }
    return (await res.json()) as T;
  }

  /** Fetches a file with the bearer token and hands it to the browser as a download. */
  async download(path: string, fallbackName: string, opts: RequestOptions = {}): Promise<string> {
    const res = await this.raw(path, { ...opts, headers: { Accept: '*/*' } });
    const cd = res.headers.get('Content-Disposition') ?? '';
    const m = /filename="?([^";]+)"?/.exec(cd);
    const name = m?.[1] ?? fallbackName;
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    try {
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      document.body.appendChild(a);
      a.click();
      a.remove();
    } finally {
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    }
    return name;
  }
}

/** The console's client. */
export const api = new ApiClient();
