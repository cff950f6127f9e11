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

/** An exclusive-create lock file; a lock older than STALE_MS is taken over (its holder died). */
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 15_000, onWait?: (holderPid: number | undefined) => void): Promise<T> {
  await mkdir(dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    try {
      const fh = await open(lockFile, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const info = await stat(lockFile).catch(() => undefined);
      const holder = Number(await readFile(lockFile, 'utf8').catch(() => ''));
      // a holder that is gone leaves a stale lock at once; a live one keeps it however long it takes
      const holderGone = Number.isInteger(holder) && holder > 0 && !pidAlive(holder);
      const holderUnknown = !(Number.isInteger(holder) && holder > 0);
      if (info && (holderGone || (holderUnknown && Date.now() - info.mtimeMs > STALE_MS))) {
        await rm(lockFile, { force: true });
        continue;
      }
      if (!told && onWait) {
        told = true;
        onWait(holderUnknown ? undefined : holder);
      }
      if (Date.now() > deadline) throw new DbError(`Timed out waiting for lock ${lockFile}.`, 'TIMEOUT', 'Another portunix-db command is running; retry when it ends, or remove the stale lock file.');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockFile, { force: true });
  }
}
