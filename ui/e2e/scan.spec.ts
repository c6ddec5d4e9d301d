import { test, expect, login, shot } from './fixtures';

test('a scan started from the console shows progress and then its assets', async ({
  page,
  state,
}) => {
  test.setTimeout(180_000);
  await login(page, state.users.standard, `/t/${state.tenant}/scans`);
  await page.getByRole('button', { name: 'New scan' }).click();
  const form = page.getByRole('form', { name: 'New scan' });
  await form.getByLabel('Targets').fill(state.labTargets);
  await form.getByLabel('Port profile').selectOption('custom');
  await form.getByLabel('Ports', { exact: true }).fill(state.labPorts);
  await form.getByRole('button', { name: 'Start scan' }).click();

  await expect(page).toHaveURL(new RegExp(`/t/${state.tenant}/scans/[^/]+$`));
  const status = page.getByTestId('scan-status');
  await expect(status).toBeVisible();
  await expect(page.getByRole('progressbar', { name: 'Progress' })).toBeVisible();
  // The live stream moves the job to its end without a reload.
  await expect(status).toContainText('succeeded', { timeout: 150_000 });
  await shot(page, 'scan-detail');
  const found = page.getByRole('list', { name: 'Assets found' });
  for (const addr of state.labAddresses) {
    await expect(found).toContainText(addr);
  }

  await page
    .getByRole('navigation', { name: 'Main navigation' })
    .getByRole('link', { name: 'Assets' })
    .click();
  const table = page.getByRole('table', { name: 'Assets' });
  await expect(table).toBeVisible();
  await expect(table).toHaveAttribute('aria-rowcount', String(state.labAddresses.length + 1));
  await expect(table).toContainText(state.labAddresses[0] ?? '');
  await shot(page, 'assets');
  await table.getByRole('link').first().click();
  await expect(page.getByRole('heading', { name: 'Services' })).toBeVisible();
  await shot(page, 'asset-detail');
});
