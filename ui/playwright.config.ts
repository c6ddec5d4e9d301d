// End-to-end tests: Debian's chromium against a real `tenantra serve` with a seeded tenant and
// the loopback lab network (e2e/global-setup.ts starts both; global-teardown.ts stops them).
// Only loopback addresses are contacted: the resolver rules make every other name fail.
import { defineConfig } from '@playwright/test';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

export default defineConfig({
  testDir: 'e2e',
  globalSetup: './e2e/global-setup.ts',
  globalTeardown: './e2e/global-teardown.ts',
  // The whole run is bounded; a hung server or browser cannot stall `make test`.
  globalTimeout: 12 * 60_000,
  timeout: 90_000,
  expect: { timeout: 15_000 },
  // One worker: the tests share one server, its sign-in throttle and two CPU cores.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  outputDir: 'test-results/artifacts',
  reporter: [['list'], ['html', { outputFolder: 'playwright-report', open: 'never' }]],
  use: {
    browserName: 'chromium',
    ignoreHTTPSErrors: true, // the appliance's self-signed certificate
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    acceptDownloads: true,
    launchOptions: {
      executablePath: process.env.TENA_CHROMIUM ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
  },
});
