// What global setup hands to the tests: where the server listens and who can sign in.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const STATE_FILE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'test-results',
  'e2e-state.json',
);

export interface Account {
  email: string;
  password: string;
}

export interface E2EState {
  url: string;
  dataDir: string;
  bin: string;
  tenant: string;
  serverPid: number;
  labPid: number;
  labTargets: string;
  labPorts: string;
  labAddresses: string[];
  users: {
    platform: Account;
    admin: Account;
    standard: Account;
    auditor: Account;
    locked: Account;
    session: Account;
    refresher: Account;
  };
}

export function readState(): E2EState {
  return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as E2EState;
}
