import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError, buildQuery } from './client';
import { jsonResponse } from '../test/utils';

type Call = { url: string; init: RequestInit };

function fakeFetch(responses: ((c: Call) => Response)[]) {
  const calls: Call[] = [];
  const fn = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
    const c = { url: String(url), init: init ?? {} };
    calls.push(c);
    const next = responses.shift();
    if (!next) throw new Error(`unexpected request ${c.url}`);
    return next(c);
  });
  return { fn: fn as unknown as typeof fetch, calls };
}

const envelope = (code: string, message: string, trace = 'a'.repeat(32)) => ({
  error: { code, message, trace_id: trace },
});

describe('ApiClient', () => {
  it('sends the bearer token and decodes JSON', async () => {
    const { fn, calls } = fakeFetch([
      () => jsonResponse(200, { access_token: 'tok1', token_type: 'Bearer', expires_in: 900 }),
      () => jsonResponse(200, { ok: true }),
    ]);
    const c = new ApiClient({ fetch: fn });
    await c.login('a@example.com', 'pw');
    expect(await c.request('/v1/x', { query: { a: 1, b: '', c: undefined } })).toEqual({
      ok: true,
    });
    expect(calls[1]?.url).toBe('/v1/x?a=1');
    expect((calls[1]?.init.headers as Record<string, string>).Authorization).toBe('Bearer tok1');
  });

  it('refreshes once on 401 and retries with the new token', async () => {
    const { fn, calls } = fakeFetch([
      () => jsonResponse(401, envelope('unauthenticated', 'expired')),
      () => jsonResponse(200, { access_token: 'tok2', token_type: 'Bearer', expires_in: 900 }),
      () => jsonResponse(200, { items: [] }),
    ]);
    const ended = vi.fn();
    const c = new ApiClient({ fetch: fn, onSessionEnded: ended });
    expect(await c.request('/v1/tenants')).toEqual({ items: [] });
    expect(calls.map((x) => x.url)).toEqual(['/v1/tenants', '/v1/auth/refresh', '/v1/tenants']);
    expect(calls[1]?.init.method).toBe('POST');
    expect((calls[2]?.init.headers as Record<string, string>).Authorization).toBe('Bearer tok2');
    expect(ended).not.toHaveBeenCalled();
  });

  it('shares one refresh between concurrent 401s', async () => {
    let refreshes = 0;
    const fn = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      if (String(url) === '/v1/auth/refresh') {
        refreshes++;
        await new Promise((r) => setTimeout(r, 10));
        return jsonResponse(200, { access_token: 'fresh', token_type: 'Bearer', expires_in: 900 });
      }
      const auth = (init?.headers as Record<string, string>).Authorization;
      return auth === 'Bearer fresh'
        ? jsonResponse(200, { ok: 1 })
        : jsonResponse(401, envelope('unauthenticated', 'x'));
    }) as unknown as typeof fetch;
    const c = new ApiClient({ fetch: fn });
    await Promise.all([c.request('/v1/a'), c.request('/v1/b'), c.request('/v1/c')]);
    expect(refreshes).toBe(1);
  });

  it('ends the session when the refresh is refused', async () => {
    const { fn } = fakeFetch([
      () => jsonResponse(401, envelope('unauthenticated', 'sign in first')),
      () => jsonResponse(401, envelope('unauthenticated', 'session ended')),
    ]);
    const ended = vi.fn();
    const c = new ApiClient({ fetch: fn, onSessionEnded: ended });
    await expect(c.request('/v1/tenants')).rejects.toMatchObject({
      status: 401,
      code: 'unauthenticated',
    });
    expect(ended).toHaveBeenCalledWith('expired');
    expect(c.signedIn).toBe(false);
  });

  it('does not refresh on a failed login', async () => {
    const { fn, calls } = fakeFetch([
      () => jsonResponse(401, envelope('unauthenticated', 'email or password is wrong')),
    ]);
    const c = new ApiClient({ fetch: fn });
    await expect(c.login('a@example.com', 'bad')).rejects.toBeInstanceOf(ApiError);
    expect(calls).toHaveLength(1);
  });

  it('maps the error envelope with trace id, details and Retry-After', async () => {
    const trace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const { fn } = fakeFetch([
      () =>
        jsonResponse(
          429,
          {
            error: {
              code: 'rate_limited',
              message: 'locked',
              trace_id: trace,
              details: { fields: { email: 'bad' } },
            },
          },
          { 'Retry-After': '60' },
        ),
    ]);
    const c = new ApiClient({ fetch: fn });
    const err = (await c.login('a@example.com', 'x').catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(429);
    expect(err.code).toBe('rate_limited');
    expect(err.traceId).toBe(trace);
    expect(err.retryAfter).toBe(60);
    expect(err.fieldErrors()).toEqual({ email: 'bad' });
  });

  it('falls back to the X-Trace-Id header when the body is not an envelope', async () => {
    const { fn } = fakeFetch([
      () =>
        new Response('<html>bad gateway</html>', {
          status: 502,
          statusText: 'Bad Gateway',
          headers: { 'X-Trace-Id': 'f'.repeat(32) },
        }),
    ]);
    const c = new ApiClient({ fetch: fn });
    const err = (await c.request('/v1/x').catch((e: unknown) => e)) as ApiError;
    expect(err.code).toBe('http_502');
    expect(err.traceId).toBe('f'.repeat(32));
  });

  it('reports network failures as status 0', async () => {
    const fn = vi.fn(async () => {
      throw new TypeError('Failed to fetch');
    }) as unknown as typeof fetch;
    const c = new ApiClient({ fetch: fn });
    await expect(c.request('/v1/x')).rejects.toMatchObject({ status: 0, code: 'network' });
  });

  it('answers undefined for 204', async () => {
    const { fn } = fakeFetch([() => jsonResponse(204, null)]);
    const c = new ApiClient({ fetch: fn });
    expect(await c.request('/v1/x', { method: 'DELETE' })).toBeUndefined();
  });
});

describe('buildQuery', () => {
  it('skips empty values and encodes the rest', () => {
    expect(buildQuery({ q: 'a b', page: 2, x: '', y: null })).toBe('?q=a+b&page=2');
    expect(buildQuery({})).toBe('');
  });
});
