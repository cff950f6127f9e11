/** Waiting on a condition instead of a fixed sleep. */
import { readFileSync } from 'node:fs';

/** Resolves when `check()` is true; polls every `everyMs`, throws after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Whether the process runs: a zombie (dead, not yet reaped by its parent) counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return process.platform !== 'linux';
  }
}

/** kill -9 and wait until the process is gone. */
export async function kill9(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  await waitFor(`pid ${pid} to exit after SIGKILL`, () => !alive(pid));
}

/**
 * Polls `probe` (never asserting on time) until `ok` holds on what it answered, and returns that;
 * gives up after `limitMs` showing what it saw last.
 */
export async function until<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, limitMs = 180_000, everyMs = 500): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}: ${JSON.stringify(v).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
