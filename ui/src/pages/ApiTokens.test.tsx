import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ReactNode } from 'react';
import { AuthProvider, useAuth } from '../auth/AuthProvider';
import { renderWithProviders, jsonResponse, meFixture } from '../test/utils';
import type { APIToken } from '../api/types';
import { ApiTokensSection, tokenState } from './ApiTokens';

const trace = '4bf92f3577b34da6a3ce929d0e0e4736';

function meAs(role: 'admin' | 'auditor' | 'standard') {
  const perms: Record<typeof role, string[]> = {
    admin: ['tenant.read', 'tenant.tokens.read', 'tenant.tokens.manage'],
    auditor: ['tenant.read', 'tenant.tokens.read'],
    standard: ['tenant.read'],
  };
  return meFixture([{ tenant_id: 't1', tenant: 'acme', role }], { acme: perms[role] });
}

const existing: APIToken = {
  id: '7d1c0f5e-0000-4000-8000-000000000001',
  name: 'ci-sync',
  tenant_id: 't1',
  role: 'auditor',
  created_by: 'tadmin@example.com',
  created_at: '2026-01-02T10:00:00Z',
  expires_at: '2999-01-01T00:00:00Z',
};

interface Call {
  method: string;
  url: string;
  body: unknown;
}

function mockApi(me: unknown, handler: (c: Call) => Response | undefined) {
  const calls: Call[] = [];
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = String(input);
      const c: Call = {
        method: init?.method ?? 'GET',
        url,
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
      };
      calls.push(c);
      if (url.endsWith('/v1/auth/refresh'))
        return jsonResponse(200, { access_token: 't', token_type: 'Bearer', expires_in: 900 });
      if (url.endsWith('/v1/auth/me')) return jsonResponse(200, me);
      return handler(c) ?? jsonResponse(404, { error: { code: 'not_found', message: 'no' } });
    }),
  );
  return calls;
}

function SignedIn({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  return state.status === 'signed-in' ? <>{children}</> : null;
}

function renderSection() {
  return renderWithProviders(
    <AuthProvider>
      <SignedIn>
        <ApiTokensSection tenant="acme" />
      </SignedIn>
    </AuthProvider>,
  );
}

describe('tokenState', () => {
  it.each([
    [{}, 'active'],
    [{ revoked_at: '2026-01-03T00:00:00Z' }, 'revoked'],
    [{ expires_at: '2020-01-01T00:00:00Z' }, 'expired'],
  ] as const)('%o is %s', (patch, want) => {
    expect(tokenState({ ...existing, ...patch })).toBe(want);
  });
});

describe('ApiTokensSection', () => {
  beforeEach(() => vi.unstubAllGlobals());
  afterEach(() => vi.unstubAllGlobals());

  it('validates, shows a refusal with its trace id, then shows the secret once', async () => {
    const items: APIToken[] = [existing];
    let refuse = true;
    const calls = mockApi(meAs('admin'), (c) => {
      if (!c.url.endsWith('/v1/tenants/acme/tokens')) return undefined;
      if (c.method === 'GET') return jsonResponse(200, { items });
      if (refuse) {
        refuse = false;
        return jsonResponse(403, {
          error: {
            code: 'forbidden',
            message: 'a token cannot have a higher role than its creator',
            trace_id: trace,
          },
        });
      }
      const tok = {
        ...existing,
        id: '7d1c0f5e-0000-4000-8000-000000000002',
        name: 'inventory',
        role: 'standard' as const,
      };
      items.push(tok);
      return jsonResponse(201, { ...tok, token: 'tna_s3cr3t' });
    });
    renderSection();
    const user = userEvent.setup();
    expect(await screen.findByRole('cell', { name: 'ci-sync' })).toBeInTheDocument();
    const form = screen.getByRole('form', { name: 'Create API token' });
    await user.click(within(form).getByRole('button', { name: 'Create token' }));
    expect(await screen.findByText('Enter a name for the token.')).toBeInTheDocument();
    expect(calls.filter((c) => c.method === 'POST' && c.url.includes('/tokens'))).toHaveLength(0);

    await user.type(within(form).getByLabelText('Name'), '  inventory ');
    await user.selectOptions(within(form).getByLabelText('Expires in'), '720h');
    await user.click(within(form).getByRole('button', { name: 'Create token' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('a token cannot have a higher role than its creator');
    expect(alert).toHaveTextContent(`Trace ID: ${trace}`);

    await user.click(within(form).getByRole('button', { name: 'Create token' }));
    const secret = await screen.findByLabelText('Token secret');
    expect(secret).toHaveValue('tna_s3cr3t');
    expect(screen.getByText(/you will not see it again/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Copy token' }));
    // user-event stands in for the clipboard.
    expect(await navigator.clipboard.readText()).toBe('tna_s3cr3t');
    expect(await screen.findByText('Copied to the clipboard.')).toBeInTheDocument();
    expect(await screen.findByRole('cell', { name: 'inventory' })).toBeInTheDocument();
    const posts = calls.filter((c) => c.method === 'POST' && c.url.includes('/tokens'));
    expect(posts[1]?.body).toEqual({ name: 'inventory', role: 'standard', expires_in: '720h' });

    await user.click(screen.getByRole('button', { name: 'Done' }));
    expect(screen.queryByLabelText('Token secret')).toBeNull();
    expect(screen.queryByText('tna_s3cr3t')).toBeNull();
  });

  it('revokes a token', async () => {
    const calls = mockApi(meAs('admin'), (c) => {
      if (c.url.endsWith('/v1/tenants/acme/tokens'))
        return jsonResponse(200, { items: [existing] });
      if (c.method === 'DELETE') return jsonResponse(204, null);
      return undefined;
    });
    renderSection();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Revoke ci-sync' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE')).toBe(true));
    expect(calls.find((c) => c.method === 'DELETE')?.url).toBe(
      `/v1/tenants/acme/tokens/${existing.id}`,
    );
  });

  it('an auditor reads the list without write actions', async () => {
    mockApi(meAs('auditor'), (c) =>
      c.url.endsWith('/v1/tenants/acme/tokens')
        ? jsonResponse(200, { items: [existing] })
        : undefined,
    );
    renderSection();
    expect(await screen.findByRole('cell', { name: 'ci-sync' })).toBeInTheDocument();
    expect(screen.queryByRole('form', { name: 'Create API token' })).toBeNull();
    expect(screen.queryByRole('button', { name: /Revoke/ })).toBeNull();
  });

  it('a standard user gets nothing and sends no request', async () => {
    const calls = mockApi(meAs('standard'), () => undefined);
    const { container } = renderSection();
    await waitFor(() => expect(calls.some((c) => c.url.endsWith('/me'))).toBe(true));
    expect(container).toBeEmptyDOMElement();
    expect(calls.some((c) => c.url.includes('/tokens'))).toBe(false);
  });
});
