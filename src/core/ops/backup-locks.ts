/**
 * Locks around backups: one scheduled backup run per instance at a time, and backup files that
 * are being restored or verified marked in use so pruning never deletes them. Markers name their
 * process; a marker of a process that is gone (kill -9) does not count.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { homePaths } from '../home.js';
import { DbError } from '../errors.js';
import { lockHolder, pidAlive, tryFileLock, withFileLock } from '../file-lock.js';

const locksDir = () => join(homePaths.state(), 'locks');
const fileKey = (file: string) => createHash('sha256').update(resolve(file)).digest('hex').slice(0, 24);

/** Takes the instance's backup lock, or says which process holds it. */
export async function takeInstanceBackupLock(engine: string, instance: string): Promise<{ release: () => Promise<void> } | { heldBy: number | undefined }> {
  const file = join(locksDir(), `backup-${engine}-${instance}.lock`);
  const release = await tryFileLock(file);
  return release ? { release } : { heldBy: await lockHolder(file) };
}

/** Marks a backup file in use (restore, verify) until the returned release; fails if the file was pruned meanwhile. */
export async function markInUse(file: string, exists: () => Promise<boolean>): Promise<() => Promise<void>> {
  const key = fileKey(file);
  const marker = join(locksDir(), `use-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await withFileLock(join(locksDir(), `file-${key}.lock`), async () => {
    if (!(await exists())) throw new DbError(`Backup ${file} no longer exists (pruned?).`, 'NOT_FOUND', 'List what is there with `portunix-db backup list`.');
    await writeFile(marker, String(process.pid), { mode: 0o600 });
  });
  return () => rm(marker, { force: true });
}

async function inUse(key: string): Promise<boolean> {
  const names = await readdir(locksDir()).catch(() => [] as string[]);
  return names.some((n) => {
    if (!n.startsWith(`use-${key}-`)) return false;
    const pid = Number(n.split('-')[2]);
    return Number.isInteger(pid) && pid > 0 && pidAlive(pid);
  });
}

/** Runs `remove` unless the file is being restored or verified; false when it was in use (and nothing was removed). */
export async function removeUnlessInUse(file: string, remove: () => Promise<void>): Promise<boolean> {
  const key = fileKey(file);
  return withFileLock(join(locksDir(), `file-${key}.lock`), async () => {
    if (await inUse(key)) return false;
    await remove();
    return true;
  });
}
