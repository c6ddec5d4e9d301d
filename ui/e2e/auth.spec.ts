import { test, expect, login, logout, apiLogin, nav, shot } from './fixtures';

test.describe('sign-in', () => {
  test('signs in and lands on the tenant dashboard', async ({ page, state }) => {
    await page.goto('/');
    await expect(page).toHaveURL(/\/login$/);
    await shot(page, 'login');
    await login(page, state.users.admin);
    await expect(page).toHaveURL(new RegExp(`/t/${state.tenant}$`));
    await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible();
  });

  test('a wrong password says so and shows the trace id', async ({ page, state }) => {
    await page.goto('/login');
    await page.getByLabel('Email').fill(state.users.auditor.email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await expect(alert).toContainText('The email or password is wrong.');
    await expect(alert).toContainText(/Trace ID: [0-9a-f]{32}/);
    await expect(page).toHaveURL(/\/login/);
  });

  test('repeated failures lock the account with a clear message', async ({ page, state }) => {
    await page.goto('/login');
    const who = state.users.locked;
    for (let i = 0; i < 5; i++) {
      await page.getByLabel('Email').fill(who.email);
      await page.getByLabel('Password').fill(`wrong password ${i}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await expect(page.getByRole('alert')).toContainText('wrong');
      await page.waitForTimeout(1100); // stay under the per-address rate limit
    }
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password); // even the right one is refused now
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page.getByRole('alert')).toContainText(
      'This account is locked after repeated failed sign-ins.',
    );
    await expect(page.getByRole('alert')).toContainText(/Try again in \d+ seconds/);
  });

  test('a protected page sends an anonymous visitor to login and back', async ({ page, state }) => {
    const target = `/t/${state.tenant}/scans`;
    await page.goto(target);
    await expect(page).toHaveURL(/\/login\?next=%2Ft%2Facme%2Fscans$/);
    // The protected page never rendered.
    await expect(page.getByRole('heading', { name: 'Scans' })).toHaveCount(0);
    await page.getByLabel('Email').fill(state.users.standard.email);
    await page.getByLabel('Password').fill(state.users.standard.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect(page).toHaveURL(new RegExp(`${target}$`));
    await expect(page.getByRole('heading', { name: 'Scans', level: 1 })).toBeVisible();
  });

  test('the session survives a reload through the refresh cookie', async ({ page, state }) => {
    await login(page, state.users.refresher, `/t/${state.tenant}/assets`);
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/v1/auth/refresh'));
    await page.reload();
    expect((await refreshed).status()).toBe(200);
    await expect(page.getByRole('heading', { name: 'Assets', level: 1 })).toBeVisible();
    await expect(page).toHaveURL(new RegExp(`/t/${state.tenant}/assets$`));
  });

  test('an expired access token is refreshed and the request retried', async ({ page, state }) => {
    await login(page, state.users.refresher, `/t/${state.tenant}/scans`);
    // The server answers the next tenants read with 401, as for an access token past its
    // lifetime; the client must spend the refresh cookie and retry.
    let failed = false;
    await page.route(
      (u) => u.pathname === `/v1/tenants/${state.tenant}/assets`,
      async (route) => {
        if (failed) return route.continue();
        failed = true;
        await route.fulfill({
          status: 401,
          contentType: 'application/json',
          body: JSON.stringify({
            error: {
              code: 'unauthenticated',
              message: 'the access token has expired',
              trace_id: '0'.repeat(32),
            },
          }),
        });
      },
    );
    const refreshed = page.waitForResponse((r) => r.url().endsWith('/v1/auth/refresh'));
    await nav(page).getByRole('link', { name: 'Assets' }).click();
    expect((await refreshed).status()).toBe(200);
    await expect(page.getByRole('heading', { name: 'Assets', level: 1 })).toBeVisible();
    await expect(page.getByRole('form', { name: 'Filters' })).toBeVisible();
    expect(failed).toBe(true);
    await expect(page).toHaveURL(new RegExp(`/t/${state.tenant}/assets$`));
  });

  test('signing out ends the session', async ({ page, state }) => {
    await login(page, state.users.auditor);
    await logout(page, state.users.auditor);
    await page.goto(`/t/${state.tenant}`);
    await expect(page).toHaveURL(/\/login/);
    const res = await page.request.post('/v1/auth/refresh');
    expect(res.status()).toBe(401);
  });

  test('a session ended elsewhere sends the user to login with a notice', async ({
    page,
    state,
    request,
  }) => {
    await login(page, state.users.session, `/t/${state.tenant}/scans`);
    await expect(page.getByRole('heading', { name: 'History' })).toBeVisible();
    await page.waitForLoadState('networkidle');
    // "Sign out everywhere" from another client ends this browser's session too.
    const token = await apiLogin(request, state.url, state.users.session);
    const res = await request.delete(`${state.url}/v1/auth/sessions`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status()).toBe(204);
    await nav(page).getByRole('link', { name: 'Assets' }).click();
    await expect(page).toHaveURL(/\/login\?next=.*expired=1/);
    await expect(
      page.getByText('Your session has expired. Sign in again to continue.'),
    ).toBeVisible();
  });
});
