// Stops the server and the lab that global setup started (by pid) and removes the data dir.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { readState, STATE_FILE } from './state';

/** Whether pid is still one of our tenantra processes (a pid may be reused after exit). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('tenantra');
  } catch {
    return true; // no /proc: trust the signal probe
  }
}

async function stop(pid: number) {
  if (!pid || !alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export default async function globalTeardown() {
  if (!existsSync(STATE_FILE)) return;
  const s = readState();
  await stop(s.labPid);
  await stop(s.serverPid);
  rmSync(STATE_FILE, { force: true });
  if (s.dataDir.includes('tenantra-e2e-')) rmSync(s.dataDir, { recursive: true, force: true });
}
