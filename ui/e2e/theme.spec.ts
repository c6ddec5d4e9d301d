import { test, expect, login } from './fixtures';

test('dark mode persists across reloads and sign-outs', async ({ page, state }) => {
  await login(page, state.users.auditor, `/t/${state.tenant}`);
  const html = page.locator('html');
  await expect(html).not.toHaveClass(/dark/);
  await page.getByTestId('theme-toggle').click();
  await expect(html).toHaveClass(/dark/);
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible();
  await expect(html).toHaveClass(/dark/);
  // The login page of a new visit uses it too (applied before the first paint).
  const other = await page.context().newPage();
  await other.goto('/login');
  await expect(other.locator('html')).toHaveClass(/dark/);
  await other.close();
  await page.getByTestId('theme-toggle').click();
  await expect(html).not.toHaveClass(/dark/);
  await page.reload();
  await expect(html).not.toHaveClass(/dark/);
});
