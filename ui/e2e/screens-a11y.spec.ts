// Runs after the scan test (files run in name order), so the pages have data.
// Accessibility (axe-core, WCAG 2 A and AA) of the main pages, light and dark, with a
// screenshot of each page as an artefact under test-results/screenshots.
import AxeBuilder from '@axe-core/playwright';
import type { Page } from '@playwright/test';
import { test, expect, login, shot } from './fixtures';

async function audit(page: Page, name: string) {
  await page.waitForLoadState('networkidle');
  await expect(page.getByRole('status').filter({ hasText: 'Loading…' })).toHaveCount(0);
  await shot(page, name);
  const r = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    bad.map(
      (v) =>
        `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`,
    ),
    `${name}: serious or critical accessibility violations`,
  ).toEqual([]);
}

test('the login page is accessible', async ({ page }) => {
  await page.goto('/login');
  await audit(page, 'a11y-login');
});

const TENANT_PAGES = [
  '',
  'assets',
  'scans',
  'findings',
  'compliance',
  'modules',
  'users',
  'credentials',
  'audit',
];

for (const theme of ['light', 'dark'] as const) {
  test(`tenant pages are accessible (${theme})`, async ({ page, state }) => {
    test.setTimeout(180_000);
    await page.addInitScript((t) => window.localStorage.setItem('tenantra.theme', t), theme);
    await login(page, state.users.admin, `/t/${state.tenant}`);
    for (const p of TENANT_PAGES) {
      await page.goto(`/t/${state.tenant}${p ? `/${p}` : ''}`);
      await audit(page, `${theme}-${p || 'dashboard'}`);
    }
    await page.goto(`/t/${state.tenant}/scans?new=1`);
    await audit(page, `${theme}-scan-form`);
  });
}

test('platform pages are accessible', async ({ page, state }) => {
  await login(page, state.users.platform);
  for (const p of ['overview', 'users', 'audit', 'settings', 'account']) {
    await page.goto(`/${p}`);
    await audit(page, `platform-${p}`);
  }
});
