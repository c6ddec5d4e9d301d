import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import type { ReactNode } from 'react';
import { AuthProvider, useAuth } from '../auth/AuthProvider';
import { renderWithProviders, jsonResponse, meFixture } from '../test/utils';
import { ChangePasswordForm, TotpCard } from './AccountSecurity';

const trace = '4bf92f3577b34da6a3ce929d0e0e4736';

function meWith(mfa: boolean) {
  const me = meFixture();
  return { ...me, user: { ...me.user, mfa_enabled: mfa }, mfa };
}

interface Call {
  method: string;
  url: string;
  body: unknown;
}

/** Stubs fetch: a session restores, /me answers `me()`, other routes go to `handler`. */
function mockApi(me: () => unknown, handler: (c: Call) => Response | undefined) {
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
      if (url.endsWith('/v1/auth/me')) return jsonResponse(200, me());
      return handler(c) ?? jsonResponse(404, { error: { code: 'not_found', message: 'no' } });
    }),
  );
  return calls;
}

function SignedIn({ children }: { children: ReactNode }) {
  const { state } = useAuth();
  return state.status === 'signed-in' ? <>{children}</> : null;
}

function renderSignedIn(ui: ReactNode) {
  return renderWithProviders(
    <AuthProvider>
      <SignedIn>{ui}</SignedIn>
    </AuthProvider>,
  );
}

describe('ChangePasswordForm', () => {
  beforeEach(() => vi.unstubAllGlobals());
  afterEach(() => vi.unstubAllGlobals());

  it('validates before calling the server', async () => {
    const calls = mockApi(
      () => meWith(false),
      () => undefined,
    );
    renderSignedIn(<ChangePasswordForm />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('Enter your current password.')).toBeInTheDocument();
    expect(screen.getByText('Use at least 12 characters.')).toBeInTheDocument();
    expect(screen.getByLabelText('New password')).toHaveAttribute('aria-invalid', 'true');

    await user.type(screen.getByLabelText('Current password'), 'old password 123');
    await user.type(screen.getByLabelText('New password'), 'a much longer passphrase');
    await user.type(screen.getByLabelText('Repeat the new password'), 'something else entirely');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('The two new passwords differ.')).toBeInTheDocument();

    await user.clear(screen.getByLabelText('New password'));
    await user.type(screen.getByLabelText('New password'), 'old password 123');
    await user.clear(screen.getByLabelText('Repeat the new password'));
    await user.type(screen.getByLabelText('Repeat the new password'), 'old password 123');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(
      await screen.findByText('The new password must differ from the current one.'),
    ).toBeInTheDocument();
    expect(calls.some((c) => c.url.endsWith('/v1/auth/password'))).toBe(false);
  });

  it('shows the server refusal with its trace id, then succeeds', async () => {
    let refuse = true;
    const calls = mockApi(
      () => meWith(false),
      (c) => {
        if (!c.url.endsWith('/v1/auth/password')) return undefined;
        if (refuse) {
          refuse = false;
          return jsonResponse(400, {
            error: {
              code: 'invalid',
              message: 'the new password is on the list of common breached passwords',
              trace_id: trace,
            },
          });
        }
        return jsonResponse(204, null);
      },
    );
    renderSignedIn(<ChangePasswordForm />);
    const user = userEvent.setup();
    await user.type(await screen.findByLabelText('Current password'), 'old password 123');
    await user.type(screen.getByLabelText('New password'), 'password1234');
    await user.type(screen.getByLabelText('Repeat the new password'), 'password1234');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('the new password is on the list of common breached');
    expect(alert).toHaveTextContent(`Trace ID: ${trace}`);

    await user.clear(screen.getByLabelText('New password'));
    await user.type(screen.getByLabelText('New password'), 'Quiet harbour lantern 58');
    await user.clear(screen.getByLabelText('Repeat the new password'));
    await user.type(screen.getByLabelText('Repeat the new password'), 'Quiet harbour lantern 58');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Your password was changed.');
    expect(screen.queryByRole('alert')).toBeNull();
    expect(screen.getByLabelText('Current password')).toHaveValue('');
    const sent = calls.filter((c) => c.url.endsWith('/v1/auth/password'));
    expect(sent.map((c) => c.method)).toEqual(['POST', 'POST']);
    expect(sent[1]?.body).toEqual({
      old_password: 'old password 123',
      new_password: 'Quiet harbour lantern 58',
    });
  });
});

describe('TotpCard', () => {
  beforeEach(() => vi.unstubAllGlobals());
  afterEach(() => vi.unstubAllGlobals());

  it('enrols: shows the secret and URI, checks the code, then shows recovery codes', async () => {
    let mfa = false;
    let wrong = true;
    const uri = 'otpauth://totp/Tenantra:ops@example.com?issuer=Tenantra&secret=JBSWY3DPEHPK3PXP';
    const calls = mockApi(
      () => meWith(mfa),
      (c) => {
        if (c.url.endsWith('/v1/auth/mfa/totp') && c.method === 'POST')
          return jsonResponse(200, { secret: 'JBSWY3DPEHPK3PXP', uri, qr_png: 'iVBORw0KGgo=' });
        if (c.url.endsWith('/v1/auth/mfa/totp/confirm')) {
          if (wrong) {
            wrong = false;
            return jsonResponse(400, {
              error: {
                code: 'invalid',
                message: 'the code does not match; check the authenticator clock',
                trace_id: trace,
              },
            });
          }
          mfa = true;
          return jsonResponse(200, { recovery_codes: ['abcd-efgh', 'ijkl-mnop'] });
        }
        return undefined;
      },
    );
    renderSignedIn(<TotpCard />);
    const user = userEvent.setup();
    expect(await screen.findByText(/Two-factor sign-in is off/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Set up an authenticator app' }));
    expect(await screen.findByText('JBSWY3DPEHPK3PXP')).toBeInTheDocument();
    expect(screen.getByText(uri)).toBeInTheDocument();
    expect(screen.getByRole('img', { name: /QR code/ })).toHaveAttribute(
      'src',
      'data:image/png;base64,iVBORw0KGgo=',
    );

    const code = screen.getByLabelText('Code from the app');
    await user.type(code, '12a');
    await user.click(screen.getByRole('button', { name: 'Turn on two-factor sign-in' }));
    expect(await screen.findByText('The code is 6 digits.')).toBeInTheDocument();
    expect(calls.some((c) => c.url.endsWith('/confirm'))).toBe(false);

    await user.clear(code);
    await user.type(code, '123 456');
    await user.click(screen.getByRole('button', { name: 'Turn on two-factor sign-in' }));
    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('the code does not match');
    expect(alert).toHaveTextContent(`Trace ID: ${trace}`);

    await user.clear(code);
    await user.type(code, '654321');
    await user.click(screen.getByRole('button', { name: 'Turn on two-factor sign-in' }));
    const list = await screen.findByRole('list', { name: 'Recovery codes' });
    expect(
      within(list)
        .getAllByRole('listitem')
        .map((li) => li.textContent),
    ).toEqual(['abcd-efgh', 'ijkl-mnop']);
    expect(screen.getByText(/shown only this once/)).toBeInTheDocument();
    const confirms = calls.filter((c) => c.url.endsWith('/confirm'));
    expect(confirms.map((c) => c.body)).toEqual([{ code: '123456' }, { code: '654321' }]);
    // The session's view of the user is reloaded, so the card offers turning it off next.
    await user.click(screen.getByRole('button', { name: 'I have stored the codes' }));
    expect(await screen.findByRole('form', { name: 'Turn off two-factor sign-in' })).toBeVisible();
  });

  it('turns TOTP off with the password and shows a refusal inline', async () => {
    let mfa = true;
    let wrong = true;
    const calls = mockApi(
      () => meWith(mfa),
      (c) => {
        if (c.url.endsWith('/v1/auth/mfa/totp') && c.method === 'DELETE') {
          if (wrong) {
            wrong = false;
            return jsonResponse(400, {
              error: { code: 'invalid', message: 'the password is wrong', trace_id: trace },
            });
          }
          mfa = false;
          return jsonResponse(204, null);
        }
        return undefined;
      },
    );
    renderSignedIn(<TotpCard />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Turn off' }));
    expect(await screen.findByText('Enter your password.')).toBeInTheDocument();
    await user.type(screen.getByLabelText('Your password'), 'not it');
    await user.click(screen.getByRole('button', { name: 'Turn off' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(`Trace ID: ${trace}`);
    await user.clear(screen.getByLabelText('Your password'));
    await user.type(screen.getByLabelText('Your password'), 'the right one');
    await user.click(screen.getByRole('button', { name: 'Turn off' }));
    await waitFor(() =>
      expect(screen.getByRole('button', { name: 'Set up an authenticator app' })).toBeVisible(),
    );
    expect(screen.getByRole('status')).toHaveTextContent('Two-factor sign-in is off.');
    const del = calls.filter((c) => c.method === 'DELETE');
    expect(del.map((c) => c.body)).toEqual([{ password: 'not it' }, { password: 'the right one' }]);
  });
});
