import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { lstat, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { DbError } from './errors.js';
import { homePaths } from './home.js';
import { fileDigest } from './install/execute.js';
import { getSecretStore } from './secrets.js';
import { withFileLock } from './file-lock.js';
import type { BackupFileDigest, BackupManifestView } from '../engines/contract.js';
import type { EncryptionInfo } from './backup-crypto.js';

/**
 * Every engine's backup manifest is written and read here. A manifest carries the backup
 * file's size and sha256 and is authenticated with an HMAC-SHA256 whose key is per
 * PORTUNIX_HOME and kept in the secret store: whoever can edit the backup folder but not
 * read the secret store cannot make an edited file or manifest pass.
 */
export const MANIFEST_SUFFIX = '.manifest.json';

export interface BackupManifest extends BackupManifestView {
  manifest_version: 1;
  tool: string;
  file: string;
  size_bytes: number;
  sha256: string;
  server_version: string;
  started_at: string;
  finished_at: string;
  status: 'complete';
  notes?: string[];
  /** Set when the file is age-encrypted: sha256 and size_bytes are the encrypted file's. */
  encryption?: EncryptionInfo;
  /** A directory backup (parallel pg_dump): every file with its size and sha256; `sha256` is then directoryDigest() of this list, `size_bytes` their sum. */
  files?: BackupFileDigest[];
  /** "hmac-sha256:<hex>" over the canonical JSON of every other field. */
  hmac?: string;
}

const KEY_NAME = () => `${homePaths.secrets()}::backup/manifest-hmac-key`;

async function manifestKey(create: boolean): Promise<Buffer | undefined> {
  const store = getSecretStore();
  const existing = await store.get(KEY_NAME());
  if (existing || !create) return existing ? Buffer.from(existing, 'base64') : undefined;
  // two first backups at once must agree on one key
  return withFileLock(join(homePaths.state(), 'manifest-key.lock'), async () => {
    const again = await store.get(KEY_NAME());
    if (again) return Buffer.from(again, 'base64');
    const key = randomBytes(32).toString('base64');
    await store.set(KEY_NAME(), key);
    return Buffer.from(key, 'base64');
  });
}

/** JSON with sorted keys at every level: the bytes the HMAC covers do not depend on key order. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function mac(key: Buffer, manifest: BackupManifest): string {
  const { hmac: _ignored, ...rest } = manifest;
  return `hmac-sha256:${createHmac('sha256', key).update(canonical(rest)).digest('hex')}`;
}

/** Signs and writes the manifest beside `backupFile`, 0600, atomically (through `tmp`). */
export async function writeManifest(backupFile: string, manifest: BackupManifest, tmp = `${backupFile}.manifest.tmp`): Promise<BackupManifest> {
  const key = (await manifestKey(true))!;
  const signed: BackupManifest = { ...manifest, hmac: mac(key, manifest) };
  await writeFile(tmp, JSON.stringify(signed, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, backupFile + MANIFEST_SUFFIX);
  return signed;
}

export function backupFileOf(file: string): string {
  const path = resolve(file);
  return path.endsWith(MANIFEST_SUFFIX) ? path.slice(0, -MANIFEST_SUFFIX.length) : path;
}

/** One sha256 over a directory backup's file list (sorted "sha256  path" lines, as sha256sum prints them). */
export function directoryDigest(files: readonly BackupFileDigest[]): string {
  const lines = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)).map((f) => `${f.sha256}  ${f.path}\n`);
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/** The regular files of a directory backup, relative and "/"-separated; anything else in it (a link, a device) is refused. */
export async function directoryFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const info = await lstat(join(dir, rel));
    if (info.isDirectory()) out.push(...(await directoryFiles(dir, rel)));
    else if (info.isFile()) out.push(rel);
    else throw new DbError(`Backup ${dir} holds ${rel}, which is not a regular file.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  }
  return out;
}

/** Hashes each file of a directory backup (the fallback when the writer did not hash as it wrote). */
export async function digestDirectory(dir: string): Promise<BackupFileDigest[]> {
  const out: BackupFileDigest[] = [];
  for (const path of await directoryFiles(dir)) out.push({ path, size_bytes: (await stat(join(dir, path))).size, sha256: await fileDigest(join(dir, path), 'sha256', 'hex') });
  return out;
}

/** The bytes a backup holds on disk: the file's size, or the sum of a directory backup's files. */
export async function backupSize(path: string): Promise<number | undefined> {
  const info = await lstat(path).catch(() => undefined);
  if (!info) return undefined;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const f of await directoryFiles(path).catch(() => [])) total += (await stat(join(path, f))).size;
  return total;
}

const TAMPER_HINT = 'Nothing was changed. The backup (or its manifest) was edited after portunix-db wrote it, or it comes from another PORTUNIX_HOME; use another backup.';

/** Reads a manifest and checks its HMAC. Refuses an unsigned, edited or foreign manifest. */
export async function readManifest(file: string): Promise<BackupManifest> {
  const path = backupFileOf(file);
  const manifestPath = path + MANIFEST_SUFFIX;
  let manifest: BackupManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as BackupManifest;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      const fileExists = await stat(path).then(() => true, () => false);
      throw new DbError(
        fileExists ? `${path} has no manifest (${basename(manifestPath)}), so it is not a complete portunix-db backup.` : `Backup ${path} does not exist.`,
        fileExists ? 'BACKUP_CORRUPT' : 'NOT_FOUND',
        'List good backups with `portunix-db backup list`.',
      );
    }
    throw new DbError(`The manifest ${manifestPath} is unreadable: ${(err as Error).message}`, 'BACKUP_CORRUPT', 'The backup cannot be trusted; use another one.');
  }
  if (!manifest || typeof manifest !== 'object' || manifest.status !== 'complete' || !manifest.sha256) throw new DbError(`${manifestPath} does not describe a complete backup.`, 'BACKUP_CORRUPT');
  if (typeof manifest.hmac !== 'string') throw new DbError(`The manifest ${manifestPath} is not signed, so the backup cannot be trusted.`, 'BACKUP_TAMPERED', TAMPER_HINT);
  const key = await manifestKey(false);
  if (!key) throw new DbError(`The manifest ${manifestPath} cannot be checked: this PORTUNIX_HOME has no manifest key (it made no backups).`, 'BACKUP_TAMPERED', TAMPER_HINT);
  const expected = Buffer.from(mac(key, manifest));
  const given = Buffer.from(manifest.hmac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new DbError(`The manifest ${manifestPath} has been altered: its HMAC does not match.`, 'BACKUP_TAMPERED', TAMPER_HINT);
  }
  return manifest;
}

/** The signed manifest and the file's size against it (the sha256 is left to the caller's pass over the bytes). */
export async function checkManifestAndSize(file: string): Promise<BackupManifest> {
  const path = backupFileOf(file);
  const manifest = await readManifest(path);
  const info = await lstat(path).catch(() => undefined);
  if (!info) throw new DbError(`Backup file ${path} is missing (its manifest exists).`, 'BACKUP_CORRUPT', 'Use another backup.');
  if (manifest.files) return checkDirectory(path, info.isDirectory(), manifest);
  if (!info.isFile()) throw new DbError(`Backup ${path} is not a regular file.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  if (info.size !== manifest.size_bytes) {
    throw new DbError(`Backup ${path} is corrupt: ${info.size} bytes, the manifest says ${manifest.size_bytes}.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  }
  return manifest;
}

/** The signed manifest, then the file's size and sha256 against it: before anything is touched. */
export async function checkIntegrity(file: string): Promise<BackupManifest> {
  const path = backupFileOf(file);
  const manifest = await checkManifestAndSize(path);
  // a directory backup's files were each hashed against the manifest already
  if (manifest.files) return manifest;
  const sha = await fileDigest(path, 'sha256', 'hex');
  if (sha !== manifest.sha256) {
    throw new DbError(`Backup ${path} is corrupt (or was edited): its sha256 does not match the signed manifest.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  }
  return manifest;
}

/** A directory backup: exactly the files the signed manifest lists, each of its size and sha256. */
async function checkDirectory(path: string, isDirectory: boolean, manifest: BackupManifest): Promise<BackupManifest> {
  const corrupt = (what: string) => new DbError(`Backup ${path} is corrupt (or was edited): ${what}.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  const listed = manifest.files!;
  if (!isDirectory) throw corrupt('the manifest describes a directory backup and this is not a directory');
  if (directoryDigest(listed) !== manifest.sha256) throw corrupt("the manifest's file list does not match its sha256");
  const present = await directoryFiles(path);
  const presentSet = new Set(present);
  const expected = new Map(listed.map((f) => [f.path, f]));
  const extra = present.filter((p) => !expected.has(p));
  if (extra.length) throw corrupt(`${extra.slice(0, 3).join(', ')} ${extra.length === 1 ? 'is' : 'are'} not in the manifest`);
  for (const f of listed) {
    if (!presentSet.has(f.path)) throw corrupt(`${f.path} is missing`);
    const size = (await stat(join(path, f.path))).size;
    if (size !== f.size_bytes) throw corrupt(`${f.path} has ${size} bytes, the manifest says ${f.size_bytes}`);
    if ((await fileDigest(join(path, f.path), 'sha256', 'hex')) !== f.sha256) throw corrupt(`the sha256 of ${f.path} does not match the signed manifest`);
  }
  return manifest;
}
