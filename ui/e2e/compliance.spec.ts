import { readFileSync } from 'node:fs';
import { test, expect, login, apiLogin } from './fixtures';

test('the compliance report downloads as CSV', async ({ page, state, request }) => {
  const token = await apiLogin(request, state.url, state.users.admin);
  const probe = await request.get(
    `${state.url}/v1/tenants/${state.tenant}/reports/compliance.csv`,
    {
      headers: { Authorization: `Bearer ${token}` },
    },
  );
  test.fixme(
    probe.status() === 404,
    'GET /v1/tenants/{t}/reports/compliance.csv is not served yet (the lead adds it); the console button is in place',
  );
  await login(page, state.users.admin, `/t/${state.tenant}/compliance`);
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export CSV' }).click();
  const d = await download;
  expect(d.suggestedFilename()).toMatch(/\.csv$/);
  const path = await d.path();
  expect(readFileSync(path, 'utf8').length).toBeGreaterThan(0);
});

test('the audit log exports as CSV', async ({ page, state }) => {
  await login(page, state.users.admin, `/t/${state.tenant}/audit`);
  await expect(page.getByRole('heading', { name: 'Audit log', level: 1 })).toBeVisible();
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Export CSV' }).click();
  const d = await download;
  expect(d.suggestedFilename()).toBe('audit.csv');
  const text = readFileSync(await d.path(), 'utf8');
  expect(text.split('\n')[0]).toContain('seq,ts,actor');
});
