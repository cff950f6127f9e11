import { open, rm, stat } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DbError } from './errors.js';

const STALE_MS = 30_000;

/** An exclusive-create lock file; a lock older than STALE_MS is taken over (its holder died). */
export async function withFileLock<T>(lockFile: string, fn: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  await mkdir(dirname(lockFile), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fh = await open(lockFile, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const info = await stat(lockFile).catch(() => undefined);
      if (info && Date.now() - info.mtimeMs > STALE_MS) {
        await rm(lockFile, { force: true });
        continue;
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
