import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { DbError } from '../errors.js';
import type { RunAs } from '../../engines/contract.js';

export const SERVICE_USER = 'portunix-db';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** From /etc/passwd itself (no `id` on PATH needed), then `id` for users from other sources (LDAP...). */
function lookup(user: string): RunAs | undefined {
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid, gid] = line.split(':');
      if (name === user && uid && gid) return { user, uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    /* no /etc/passwd: ask id */
  }
  try {
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { user, uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL refuses to run as root and MariaDB wants --user, so when the tool runs as root
 * its servers run as an unprivileged system user, created on first need.
 */
export function serviceUser(create = true, name = SERVICE_USER): RunAs | null {
  if (!isRoot()) return null;
  const found = lookup(name);
  if (found) return found;
  if (!create) return null;
  try {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    // another install running at the same time may have just created it
    const raced = lookup(name);
    if (raced) return raced;
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new DbError(`The system user ${name} does not exist, and useradd is not on PATH to create it.`, 'NOT_INSTALLED', `Create it by hand (\`useradd --system ${name}\`), or put useradd (/usr/sbin) on PATH.`);
    throw new DbError(`Could not create the system user ${name}: ${(err as Error).message}`, 'PERMISSION_DENIED', 'Create it by hand with `useradd --system portunix-db`.');
  }
  const created = lookup(name);
  if (!created) throw new DbError(`System user ${name} is missing after useradd.`, 'PERMISSION_DENIED', `Create it by hand with \`useradd --system ${name}\`.`);
  return created;
}

/** The service user must be able to reach its data dir: give search (o+x, not read) on each ancestor. */
export async function ensureTraversable(path: string): Promise<string[]> {
  const changed: string[] = [];
  let dir = resolve(path);
  for (;;) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
    const info = await stat(dir).catch(() => undefined);
    if (!info) continue;
    if ((info.mode & 0o001) === 0) {
      await chmod(dir, (info.mode & 0o7777) | 0o001);
      changed.push(dir);
    }
  }
  return changed;
}

export async function chownRecursive(path: string, runAs: RunAs): Promise<void> {
  execFileSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, path]);
}
