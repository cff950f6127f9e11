import { open, readFile, rm, stat } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DbError } from './errors.js';

const STALE_MS = 30_000;

/** Does process `pid` exist (EPERM: it does, as another user)? */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid written in a lock file, or undefined when it holds none (being written, or not ours). */
async function writtenHolder(lockFile: string): Promise<number | undefined> {
  const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
  return Number.isInteger(holder) && holder > 0 ? holder : undefined;
}

/** One attempt: true when the lock is now ours. A lock whose holder is gone (or unknown and old) is taken over. */
async function attempt(lockFile: string): Promise<boolean> {
  for (let i = 0; i < 2; i++) {
    try {
      const fh = await open(lockFile, 'wx', 0o600);
      await fh.writeFile(String(process.pid));
      await fh.close();
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const info = await stat(lockFile).catch(() => undefined);
      const holder = await writtenHolder(lockFile);
      // a holder that is gone leaves a stale lock at once; a live one keeps it however long it takes
      const holderGone = holder !== undefined && !pidAlive(holder);
      const holderUnknown = holder === undefined;
      if (!info || !(holderGone || (holderUnknown && Date.now() - info.mtimeMs > STALE_MS))) return false;
      await rm(lockFile, { force: true });
    }
  }
  return false;
}

/** Takes the lock if it is free (or stale) and returns its release; undefined when a live process holds it. */
export async function tryFileLock(lockFile: string): Promise<(() => Promise<void>) | undefined> {
  await mkdir(dirname(lockFile), { recursive: true, mode: 0o700 });
  if (!(await attempt(lockFile))) return undefined;
  return () => rm(lockFile, { force: true });
}

/** The pid in a lock file, when a live process holds it. */
export async function lockHolder(lockFile: string): Promise<number | undefined> {
  const holder = await writtenHolder(lockFile);
  return holder !== undefined && pidAlive(holder) ? holder : undefined;
}

/**
 * An exclusive-create lock file; a lock older than STALE_MS is taken over (its holder died).
 * `onWait` is told once, with the holder's pid when known, that this caller has to wait.
 */
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 15_000, onWait?: (holderPid: number | undefined) => void): Promise<T> {
  await mkdir(dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let told = false;
  while (!(await attempt(lockFile))) {
    if (!told && onWait) {
      told = true;
      onWait(await lockHolder(lockFile));
    }
    if (Date.now() > deadline) throw new DbError(`Timed out waiting for lock ${lockFile}.`, 'TIMEOUT', 'Another portunix-db command is running; retry when it ends, or remove the stale lock file.');
    await new Promise((r) => setTimeout(r, 50));
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}
