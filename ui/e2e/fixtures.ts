// Shared helpers: the server's address from global setup as baseURL, signing in through the
// form, and a guard that fails any test whose page hit a CSP violation or a script error.
import { test as base, expect } from '@playwright/test';
import type { APIRequestContext, Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readState } from './state';
import type { Account, E2EState } from './state';

export const SCREENSHOTS = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'test-results',
  'screenshots',
);

export const test = base.extend<{ state: E2EState; pageErrors: string[] }>({
  state: async ({}, use) => {
    await use(readState());
  },
  baseURL: async ({ state }, use) => {
    await use(state.url);
  },
  pageErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('console', (m) => {
        const text = m.text();
        if (/Content Security Policy|Refused to (apply|execute|load)/i.test(text))
          errors.push(`CSP: ${text}`);
      });
      page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
      await use(errors);
      expect(errors, 'the page reported CSP violations or script errors').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };

export async function login(page: Page, who: Account, path = '/') {
  await page.goto(path);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(
    page.getByRole('button', { name: new RegExp(`User menu for ${who.email}`) }),
  ).toBeVisible();
}

export async function logout(page: Page, who: Account) {
  await page.getByRole('button', { name: new RegExp(`User menu for ${who.email}`) }).click();
  await page.getByRole('menuitem', { name: 'Sign out' }).click();
  await expect(page.getByRole('heading', { name: 'Sign in to Tenantra' })).toBeVisible();
}

/** Signs in through the API (a separate cookie jar) and answers the access token. */
export async function apiLogin(
  request: APIRequestContext,
  url: string,
  who: Account,
): Promise<string> {
  const res = await request.post(`${url}/v1/auth/login`, {
    data: { email: who.email, password: who.password },
  });
  expect(res.status(), await res.text()).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

export async function shot(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

export function nav(page: Page) {
  return page.getByRole('navigation', { name: 'Main navigation' });
}
