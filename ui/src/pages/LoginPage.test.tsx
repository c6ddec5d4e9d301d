import { describe, expect, it, vi, beforeEach } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { Route, Routes } from 'react-router';
import LoginPage from './LoginPage';
import { AuthProvider } from '../auth/AuthProvider';
import { renderWithProviders, jsonResponse, meFixture } from '../test/utils';

const trace = '4bf92f3577b34da6a3ce929d0e0e4736';

function mockFetch(handler: (url: string, init: RequestInit) => Response) {
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => handler(String(url), init ?? {})),
  );
}

function renderLogin(route = '/login') {
  return renderWithProviders(
    <AuthProvider>
      <Routes>
        <Route path="/login" element={<LoginPage />} />
        <Route path="*" element={<p>landed at app</p>} />
      </Routes>
    </AuthProvider>,
    { route },
  );
}

const me = meFixture();

describe('LoginPage', () => {
  beforeEach(() => vi.unstubAllGlobals());

  it('validates the fields before calling the server', async () => {
    const fetchSpy = vi.fn(async (url: RequestInfo | URL) =>
      String(url).endsWith('/refresh')
        ? jsonResponse(401, { error: { code: 'unauthenticated', message: 'x', trace_id: trace } })
        : jsonResponse(500, {}),
    );
    vi.stubGlobal('fetch', fetchSpy);
    renderLogin();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('Enter your email address.')).toBeInTheDocument();
    expect(screen.getByText('Enter your password.')).toBeInTheDocument();
    await user.type(screen.getByLabelText('Email'), 'not-an-email');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText(/valid email address/)).toBeInTheDocument();
    expect(screen.getByLabelText('Email')).toHaveAttribute('aria-invalid', 'true');
    // Only the session restore on load reached the network.
    expect(fetchSpy.mock.calls.map((c) => String(c[0]))).toEqual(['/v1/auth/refresh']);
  });

  it('shows a wrong password with its trace id', async () => {
    mockFetch((url) => {
      if (url.endsWith('/refresh'))
        return jsonResponse(401, {
          error: { code: 'unauthenticated', message: 'x', trace_id: trace },
        });
      return jsonResponse(401, {
        error: { code: 'unauthenticated', message: 'email or password is wrong', trace_id: trace },
      });
    });
    renderLogin();
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Email'), 'ops@example.com');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The email or password is wrong.');
    expect(alert).toHaveTextContent(`Trace ID: ${trace}`);
  });

  it('explains a lockout with the wait', async () => {
    mockFetch((url) => {
      if (url.endsWith('/refresh'))
        return jsonResponse(401, {
          error: { code: 'unauthenticated', message: 'x', trace_id: trace },
        });
      return jsonResponse(
        429,
        {
          error: {
            code: 'rate_limited',
            message: 'this account is locked after repeated failed sign-ins; try again in 1m0s',
            trace_id: trace,
          },
        },
        { 'Retry-After': '60' },
      );
    });
    renderLogin();
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Email'), 'ops@example.com');
    await user.type(screen.getByLabelText('Password'), 'whatever');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(
      'This account is locked after repeated failed sign-ins. Try again in 60 seconds.',
    );
  });

  it('asks for the TOTP code, then signs in and returns to next', async () => {
    const bodies: unknown[] = [];
    mockFetch((url, init) => {
      if (url.endsWith('/refresh'))
        return jsonResponse(401, {
          error: { code: 'unauthenticated', message: 'x', trace_id: trace },
        });
      if (url.endsWith('/login')) {
        const b = JSON.parse(String(init.body)) as { totp?: string };
        bodies.push(b);
        if (!b.totp) {
          return jsonResponse(401, {
            error: {
              code: 'unauthenticated',
              message:
                'a code from your authenticator app (or a recovery code) is required: send it as totp',
              trace_id: trace,
            },
          });
        }
        return jsonResponse(200, { access_token: 't', token_type: 'Bearer', expires_in: 900 });
      }
      if (url.endsWith('/me')) return jsonResponse(200, me);
      return jsonResponse(404, {});
    });
    renderLogin('/login?next=%2Ft%2Facme%2Fassets');
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Email'), 'ops@example.com');
    await user.type(screen.getByLabelText('Password'), 'right password');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    const code = await screen.findByLabelText('Authentication code');
    await user.type(code, '12');
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    expect(await screen.findByText(/The code is 6 digits/)).toBeInTheDocument();
    await user.clear(code);
    await user.type(code, '123456');
    await user.click(screen.getByRole('button', { name: 'Verify' }));
    await waitFor(() => expect(screen.getByText('landed at app')).toBeInTheDocument());
    expect(bodies[1]).toEqual({
      email: 'ops@example.com',
      password: 'right password',
      totp: '123456',
    });
  });

  it('says when the session expired', async () => {
    mockFetch(() =>
      jsonResponse(401, { error: { code: 'unauthenticated', message: 'x', trace_id: trace } }),
    );
    renderLogin('/login?expired=1');
    expect(
      await screen.findByText('Your session has expired. Sign in again to continue.'),
    ).toBeInTheDocument();
  });
});
