// Starts a real appliance for the suite: builds the console and the binary (so the console is
// embedded), serves it on a free loopback port with a temporary data dir, seeds a tenant with
// one user per role, and starts the lab network of fake hosts on 127.x addresses.
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STATE_FILE } from './state';
import type { E2EState } from './state';

const UI = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = resolve(UI, '..');
const PASSWORD = 'E2e console passphrase 7391';

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/** Waits until the child prints a line matching `re` (or exits, or the time runs out). */
function waitFor(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  re: RegExp,
  ms: number,
  what: string,
): Promise<string> {
  return new Promise((ok, fail) => {
    let buf = '';
    let errBuf = '';
    const timer = setTimeout(
      () => fail(new Error(`${what} did not start within ${ms} ms:\n${buf}\n${errBuf}`)),
      ms,
    );
    child[stream]?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (re.test(buf)) {
        clearTimeout(timer);
        ok(buf);
      }
    });
    if (stream !== 'stderr') child.stderr?.on('data', (d: Buffer) => (errBuf += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${what} exited with ${code}:\n${buf}\n${errBuf}`));
    });
  });
}

export default async function globalSetup() {
  mkdirSync(dirname(STATE_FILE), { recursive: true });
  rmSync(STATE_FILE, { force: true });
  const started: ChildProcess[] = [];
  try {
    await setup(started);
  } catch (e) {
    for (const c of started) c.kill('SIGKILL');
    throw e;
  }
}

async function setup(started: ChildProcess[]) {
  const bin = process.env.TENA_E2E_BIN ?? join(ROOT, 'bin', 'tenantra');
  if (!process.env.TENA_E2E_BIN) {
    // The console must be built before the binary that embeds it.
    if (!existsSync(join(UI, 'dist', 'index.html'))) {
      execFileSync('npx', ['vite', 'build'], { cwd: UI, stdio: 'inherit' });
    }
    execFileSync('go', ['build', '-o', bin, './cmd/tenantra'], { cwd: ROOT, stdio: 'inherit' });
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'tenantra-e2e-'));
  const port = await freePort();
  const url = `https://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    TENA_MASTER_KEY: '',
    TENA_ADMIN_PASSWORD: PASSWORD,
    TENA_LOG_FORMAT: 'text',
  };
  const server = spawn(
    bin,
    [
      'serve',
      '--data-dir',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--tls-hosts',
      '127.0.0.1,localhost',
      '--log-level',
      'warn',
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  started.push(server);
  await waitFor(server, 'stdout', /serving https:\/\//, 60_000, 'tenantra serve');
  server.stdout?.resume();
  server.stderr?.resume();

  const cli = (args: string[], input?: string) =>
    execFileSync(bin, ['--data-dir', dataDir, ...args], {
      env,
      input,
      stdio: ['pipe', 'pipe', 'inherit'],
      timeout: 60_000,
    }).toString();
  const tenant = 'acme';
  cli(['tenant', 'create', tenant, '--name', 'Acme Corp']);
  cli(['tenant', 'create', 'globex', '--name', 'Globex']);
  const users: E2EState['users'] = {
    platform: { email: 'admin@localhost', password: PASSWORD },
    admin: { email: 'tadmin@example.com', password: PASSWORD },
    standard: { email: 'standard@example.com', password: PASSWORD },
    auditor: { email: 'auditor@example.com', password: PASSWORD },
    locked: { email: 'locked@example.com', password: PASSWORD },
    session: { email: 'session@example.com', password: PASSWORD },
    refresher: { email: 'refresher@example.com', password: PASSWORD },
  };
  const roles: [keyof E2EState['users'], string][] = [
    ['admin', 'admin'],
    ['standard', 'standard'],
    ['auditor', 'auditor'],
    ['locked', 'standard'],
    ['session', 'standard'],
    ['refresher', 'standard'],
  ];
  for (const [k, role] of roles) {
    cli(
      [
        'user',
        'create',
        '--email',
        users[k].email,
        '--role',
        role,
        '--tenant',
        tenant,
        '--password-stdin',
      ],
      `${PASSWORD}\n`,
    );
  }

  // The lab: a few fake hosts on a /24 of its own, on unprivileged ports.
  const octet = 10 + (process.pid % 200);
  const base = `127.93.${octet}.1`;
  const lab = spawn(
    bin,
    ['lab', 'up', '--hosts', '4', '--base', base, '--port-offset', '20000', '--json'],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  started.push(lab);
  const out = await waitFor(lab, 'stdout', /^\s*\[[\s\S]*\]\s*$/m, 30_000, 'tenantra lab up');
  lab.stdout?.resume();
  lab.stderr?.resume();
  const truth = JSON.parse(out.slice(out.indexOf('['), out.lastIndexOf(']') + 1)) as {
    address: string;
    open_tcp_ports: number[];
  }[];
  const ports = [...new Set(truth.flatMap((h) => h.open_tcp_ports))].sort((a, b) => a - b);
  const addrs = truth.map((h) => h.address);

  const state: E2EState = {
    url,
    dataDir,
    bin,
    tenant,
    serverPid: server.pid ?? 0,
    labPid: lab.pid ?? 0,
    labTargets: `${addrs[0]}-${addrs[addrs.length - 1]}`,
    labPorts: ports.join(','),
    labAddresses: addrs,
    users,
  };
  writeFileSync(STATE_FILE, JSON.stringify(state, null, 2));
  // Let the children outlive this function; teardown ends them by pid.
  server.unref();
  lab.unref();
}
