import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, within } from '@testing-library/react';
import type { ReactNode } from 'react';
import { Route, Routes } from 'react-router';
import { AuthProvider, useAuth } from '../auth/AuthProvider';
import { renderWithProviders, jsonResponse, meFixture } from '../test/utils';
import type { ScanJob } from '../api/types';
import ScanDetailPage from './ScanDetailPage';

const me = meFixture([{ tenant_id: 't1', tenant: 'acme', role: 'auditor' }], {
  acme: ['tenant.read'],
});

const note =
  "on-link addresses waited 8.1s for room in the kernel's neighbour table (1024 entries)";

const job: ScanJob = {
  id: 's1',
  state: 'succeeded',
  request: { targets: ['198.18.0.0/20'] },
  created: '2026-11-27T10:00:00Z',
  finished: '2026-11-27T10:00:12Z',
  stage: 'done',
  done: 1,
  total: 1,
  interruptions: 0,
  summary: {
    hosts: 1,
    open_ports: 1,
    assets: [{ id: 'a1', address: '198.18.0.1', new: true }],
    errors: [{ target: 'bad.invalid', error: 'no such host' }],
    notes: [note],
  },
};

function SignedIn({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  return state.status === 'signed-in' ? <>{children}</> : null;
}

function renderScan(body: ScanJob) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (input: RequestInfo | URL) => {
      const url = String(input);
      if (url.endsWith('/v1/auth/refresh'))
        return jsonResponse(200, { access_token: 't', token_type: 'Bearer', expires_in: 900 });
      if (url.endsWith('/v1/auth/me')) return jsonResponse(200, me);
      if (url.endsWith('/v1/tenants/acme/scans/s1')) return jsonResponse(200, body);
      return jsonResponse(404, { error: { code: 'not_found', message: 'no' } });
    }),
  );
  return renderWithProviders(
    <AuthProvider>
      <SignedIn>
        <Routes>
          <Route path="/t/:tenant/scans/:id" element={<ScanDetailPage />} />
        </Routes>
      </SignedIn>
    </AuthProvider>,
    { route: '/t/acme/scans/s1' },
  );
}

describe('ScanDetailPage', () => {
  beforeEach(() => vi.unstubAllGlobals());
  afterEach(() => vi.unstubAllGlobals());

  it('shows the summary with target errors and notes', async () => {
    renderScan(job);
    const notes = await screen.findByRole('list', { name: 'Notes' });
    expect(within(notes).getByText(note)).toBeInTheDocument();
    expect(screen.getByText('bad.invalid: no such host')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: '198.18.0.1' })).toHaveAttribute(
      'href',
      '/t/acme/assets/a1',
    );
  });

  it('shows no notes section when the scan had none', async () => {
    renderScan({ ...job, summary: { ...job.summary, notes: undefined } });
    await screen.findByRole('list', { name: 'Assets found' });
    expect(screen.queryByRole('list', { name: 'Notes' })).not.toBeInTheDocument();
  });
});
