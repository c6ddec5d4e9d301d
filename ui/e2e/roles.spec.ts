import { test, expect, login, nav } from './fixtures';

test.describe('role gates', () => {
  test('a standard user sees no admin page and may scan', async ({ page, state }) => {
    await login(page, state.users.standard, `/t/${state.tenant}/scans`);
    const n = nav(page);
    await expect(n.getByRole('link', { name: 'Assets' })).toBeVisible();
    for (const name of [
      'Users & roles',
      'Credentials',
      'Audit log',
      'MSP overview',
      'Settings',
      'All users',
    ]) {
      await expect(n.getByRole('link', { name })).toHaveCount(0);
    }
    await expect(page.getByRole('button', { name: 'New scan' })).toBeVisible();
    for (const path of ['users', 'credentials', 'audit']) {
      await page.goto(`/t/${state.tenant}/${path}`);
      await expect(
        page.getByRole('heading', { name: 'You do not have access to this page' }),
      ).toBeVisible();
    }
    await page.goto('/settings');
    await expect(
      page.getByRole('heading', { name: 'You do not have access to this page' }),
    ).toBeVisible();
  });

  test('an auditor reads everything and sees no write action', async ({ page, state }) => {
    await login(page, state.users.auditor, `/t/${state.tenant}/scans`);
    await expect(page.getByRole('heading', { name: 'Scans', level: 1 })).toBeVisible();
    await expect(page.getByRole('button', { name: 'New scan' })).toHaveCount(0);
    const n = nav(page);
    await expect(n.getByRole('link', { name: 'Audit log' })).toBeVisible();
    await n.getByRole('link', { name: 'Users & roles' }).click();
    await expect(page.getByRole('heading', { name: 'Users & roles', level: 1 })).toBeVisible();
    await expect(page.getByRole('form', { name: 'Add user' })).toHaveCount(0);
    await expect(page.getByRole('button', { name: /Remove/ })).toHaveCount(0);
    await n.getByRole('link', { name: 'Credentials' }).click();
    await expect(page.getByRole('heading', { name: 'Credentials vault' })).toBeVisible();
    await expect(page.getByRole('form', { name: 'Add credential' })).toHaveCount(0);
    await n.getByRole('link', { name: 'Audit log' }).click();
    await expect(page.getByRole('heading', { name: 'Audit log', level: 1 })).toBeVisible();
    await page.goto(`/t/${state.tenant}/scans?new=1`);
    await expect(page.getByRole('form', { name: 'New scan' })).toHaveCount(0);
  });

  test('a tenant admin manages the tenant but not the platform', async ({ page, state }) => {
    await login(page, state.users.admin, `/t/${state.tenant}/users`);
    await expect(page.getByRole('form', { name: 'Add user' })).toBeVisible();
    await nav(page).getByRole('link', { name: 'Credentials' }).click();
    const form = page.getByRole('form', { name: 'Add credential' });
    await expect(form).toBeVisible();
    // A secret is never shown again once saved: the form clears and the list says "stored".
    await form.getByLabel('Name').fill('lab-community');
    await form.getByLabel('Community').fill('s3cret-community');
    await form.getByRole('button', { name: 'Save credential' }).click();
    await expect(page.getByRole('cell', { name: 'lab-community', exact: true })).toBeVisible();
    await expect(page.getByText('secret stored')).toBeVisible();
    await expect(form.getByLabel('Community')).toHaveValue('');
    await expect(page.getByText('s3cret-community')).toHaveCount(0);
    await expect(nav(page).getByRole('link', { name: 'Settings' })).toHaveCount(0);
    await page.goto('/overview');
    await expect(
      page.getByRole('heading', { name: 'You do not have access to this page' }),
    ).toBeVisible();
  });

  test('a platform admin sees the MSP overview and key status', async ({ page, state }) => {
    await login(page, state.users.platform);
    await expect(page).toHaveURL(/\/overview$/);
    await expect(page.getByRole('heading', { name: 'MSP overview', level: 1 })).toBeVisible();
    await expect(page.getByRole('link', { name: 'Acme Corp' })).toBeVisible();
    await nav(page).getByRole('link', { name: 'Settings' }).click();
    await expect(page.getByRole('heading', { name: 'Key status' })).toBeVisible();
    await expect(page.getByRole('cell', { name: 'master' })).toBeVisible();
  });
});
