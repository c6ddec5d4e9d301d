import type { ReactElement, ReactNode } from 'react';
import { Suspense } from 'react';
import { render } from '@testing-library/react';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { MemoryRouter } from 'react-router';

export function renderWithProviders(ui: ReactElement, { route = '/' }: { route?: string } = {}) {
  const qc = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const Wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={qc}>
      <MemoryRouter initialEntries={[route]}>
        <Suspense fallback={null}>{children}</Suspense>
      </MemoryRouter>
    </QueryClientProvider>
  );
  return { qc, ...render(ui, { wrapper: Wrapper }) };
}

export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
  });
}

/** A /v1/auth/me body for ops@example.com with the given memberships and permissions. */
export function meFixture(
  memberships: { tenant_id: string; tenant: string; role: string }[] = [],
  permissions: Record<string, string[]> = {},
) {
  return {
    user: {
      id: 'u1',
      email: 'ops@example.com',
      platform_role: '',
      disabled: false,
      mfa_enabled: false,
      memberships,
      created_at: '',
      updated_at: '',
    },
    permissions,
    mfa: false,
  };
}
