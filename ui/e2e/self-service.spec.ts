// Self-service credentials against the real server: changing one's password, enrolling an
// authenticator (the test computes the TOTP codes itself, RFC 6238) and creating an API token
// that a script then uses. Each test makes its own fresh user, so no other spec is affected.
import { createHmac } from 'node:crypto';
import AxeBuilder from '@axe-core/playwright';
import type { APIRequestContext, Page } from '@playwright/test';
import { test, expect, login, logout, apiLogin, shot } from './fixtures';
import type { Account, E2EState } from './state';

/** Decodes RFC 4648 base32 (upper or lower case, padding optional). */
function base32(s: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (HMAC-SHA-1, 30 s steps, 6 digits) of `secret` for time step `step`. */
function totp(secret: string, step: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32(secret)).update(counter).digest();
  const off = mac[mac.length - 1]! & 0x0f;
  const bin = mac.readUInt32BE(off) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, '0');
}

/** No serious or critical WCAG 2.1 A/AA violation in the state the page is in now. */
async function axe(page: Page, name: string) {
  await shot(page, name);
  const r = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual(
    [],
  );
}

const stepNow = () => Math.floor(Date.now() / 1000 / 30);

/** Adds a fresh standard user to the tenant through the API, as the tenant admin. */
async function freshUser(request: APIRequestContext, state: E2EState, name: string) {
  const who: Account = {
    email: `${name}-${Date.now()}@example.com`,
    password: 'Fresh e2e passphrase 5120',
  };
  const token = await apiLogin(request, state.url, state.users.admin);
  const res = await request.post(`${state.url}/v1/tenants/${state.tenant}/users`, {
    headers: { Authorization: `Bearer ${token}` },
    data: { email: who.email, role: 'standard', password: who.password },
  });
  expect(res.status(), await res.text()).toBe(201);
  return who;
}

test.describe('self-service credentials', () => {
  test('the RFC 6238 helper matches the published SHA-1 vector', () => {
    // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s → 94287082 (8 digits).
    const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
    expect(totp(secret, 1)).toBe('287082');
  });

  test('a user changes the password and signs in with the new one', async ({
    page,
    state,
    request,
  }) => {
    const who = await freshUser(request, state, 'pwchange');
    await login(page, who, '/account');
    const form = page.getByRole('form', { name: 'Change password' });
    const next = 'Renewed e2e passphrase 8462';
    await form.getByLabel('Current password').fill(who.password);
    await form.getByLabel('New password', { exact: true }).fill(next);
    await form.getByLabel('Repeat the new password').fill(next);
    await form.getByRole('button', { name: 'Change password' }).click();
    await expect(
      page.getByRole('status').filter({ hasText: 'Your password was changed' }),
    ).toBeVisible();
    await logout(page, who);
    await login(page, { email: who.email, password: next });
  });

  test('a user enrols an authenticator and signs in with a code', async ({
    page,
    state,
    request,
  }) => {
    const who = await freshUser(request, state, 'totp');
    await login(page, who, '/account');
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const secret = (await page.getByTestId('totp-secret').textContent())?.trim() ?? '';
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    await expect(page.getByText(/^otpauth:\/\/totp\//)).toBeVisible();
    await expect(page.getByRole('img', { name: /QR code/ })).toBeVisible();
    await axe(page, 'account-totp-enrol');
    const step = stepNow();
    await page.getByLabel('Code from the app').fill(totp(secret, step));
    await page.getByRole('button', { name: 'Turn on two-factor sign-in' }).click();
    const codes = page.getByRole('list', { name: 'Recovery codes' });
    await expect(codes.getByRole('listitem')).toHaveCount(10);
    await logout(page, who);

    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    // A code is accepted once: the next step's code is within the server's ±1 step window
    // and was not used for the confirmation.
    await page.getByLabel('Authentication code').fill(totp(secret, Math.max(step + 1, stepNow())));
    await page.getByRole('button', { name: 'Verify' }).click();
    await expect(
      page.getByRole('button', { name: new RegExp(`User menu for ${who.email}`) }),
    ).toBeVisible();
  });

  test('a tenant admin creates an API token that a script can use', async ({ page, state }) => {
    await login(page, state.users.admin, `/t/${state.tenant}/users`);
    const form = page.getByRole('form', { name: 'Create API token' });
    const name = `e2e-script-${Date.now()}`;
    await form.getByLabel('Name').fill(name);
    await form.getByLabel('Role').selectOption('auditor');
    await form.getByRole('button', { name: 'Create token' }).click();
    await expect(page.getByText('you will not see it again')).toBeVisible();
    const secret = await page.getByLabel('Token secret').inputValue();
    expect(secret).toMatch(/^tna_/);
    await expect(page.getByRole('button', { name: 'Copy token' })).toBeVisible();
    await expect(page.getByRole('cell', { name, exact: true })).toBeVisible();
    await axe(page, 'users-token-created');

    const assets = `/v1/tenants/${state.tenant}/assets`;
    const call = (token: string) =>
      page.evaluate(
        async ([path, tok]) =>
          (await fetch(path, { headers: { Authorization: `Bearer ${tok}` }, credentials: 'omit' }))
            .status,
        [assets, token] as const,
      );
    expect(await call(secret)).toBe(200);

    await page.getByRole('button', { name: 'Done' }).click();
    await expect(page.getByLabel('Token secret')).toHaveCount(0);
    await page.getByRole('button', { name: `Revoke ${name}` }).click();
    await expect(page.getByRole('button', { name: `Revoke ${name}` })).toHaveCount(0);
    expect(await call(secret)).toBe(401);
  });
});
