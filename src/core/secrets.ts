import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError } from './errors.js';
import { homePaths } from './home.js';
import { withFileLock } from './file-lock.js';
import type { EngineId } from '../engines/ids.js';

/**
 * One secret store for the whole tool. The OS keychain (through @napi-rs/keyring) when it
 * answers; otherwise an AES-256-GCM encrypted file (mode 0600) whose key lives in a separate
 * 0600 key file, or is derived from PORTUNIX_DB_SECRET_PASSPHRASE when that is set.
 */
export interface SecretStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
  backend(): Promise<'keychain' | 'encrypted-file'>;
}

const SERVICE = 'portunix-db';

export function secretKey(engine: EngineId, instance: string, what: string): string {
  // the home is part of the key so that test homes never collide with a user's real instances
  return `${homePaths.secrets()}::${engine}/${instance}/${what}`;
}

interface KeyringEntry {
  getPassword(): string | null | undefined;
  setPassword(p: string): void;
  deletePassword(): boolean | void;
}

async function keychain(): Promise<{ Entry: new (service: string, account: string) => KeyringEntry } | undefined> {
  const choice = process.env['PORTUNIX_DB_SECRET_BACKEND'] ?? 'auto';
  if (choice === 'file') return undefined;
  try {
    const mod = (await import('@napi-rs/keyring')) as unknown as { Entry: new (service: string, account: string) => KeyringEntry };
    // probe: a keychain that is present but locked or absent throws here
    const probe = new mod.Entry(SERVICE, `probe-${process.pid}`);
    probe.setPassword('probe');
    const back = probe.getPassword();
    probe.deletePassword();
    if (back !== 'probe') throw new Error('keychain did not return what was stored');
    return mod;
  } catch (err) {
    if (choice === 'keychain') throw new DbError(`The OS keychain is not available: ${(err as Error).message}`, 'SECRET_STORE', 'Unset PORTUNIX_DB_SECRET_BACKEND to fall back to the encrypted file.');
    return undefined;
  }
}

interface FilePayload {
  v: 1;
  kdf: 'keyfile' | 'scrypt';
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

class EncryptedFileStore {
  private readonly file = join(homePaths.secrets(), 'secrets.enc');
  private readonly keyFile = join(homePaths.secrets(), 'master.key');

  private async key(kdf: FilePayload['kdf'], salt: Buffer): Promise<Buffer> {
    if (kdf === 'scrypt') {
      const pass = process.env['PORTUNIX_DB_SECRET_PASSPHRASE'];
      if (!pass) throw new DbError('The secret file is protected by a passphrase, but PORTUNIX_DB_SECRET_PASSPHRASE is not set.', 'SECRET_STORE', 'Set PORTUNIX_DB_SECRET_PASSPHRASE to the passphrase used when the file was created.');
      return scryptSync(pass, salt, 32);
    }
    try {
      return Buffer.from((await readFile(this.keyFile, 'utf8')).trim(), 'base64');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(homePaths.secrets(), { recursive: true, mode: 0o700 });
      const fresh = randomBytes(32);
      await writeFile(this.keyFile, fresh.toString('base64'), { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
      return Buffer.from((await readFile(this.keyFile, 'utf8')).trim(), 'base64');
    }
  }

  private async readAll(): Promise<Record<string, string>> {
    let payload: FilePayload;
    try {
      payload = JSON.parse(await readFile(this.file, 'utf8')) as FilePayload;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new DbError(`The secret file ${this.file} is unreadable: ${(err as Error).message}`, 'SECRET_STORE');
    }
    const key = await this.key(payload.kdf, Buffer.from(payload.salt, 'base64'));
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(payload.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(payload.tag, 'base64'));
      const plain = Buffer.concat([decipher.update(Buffer.from(payload.data, 'base64')), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as Record<string, string>;
    } catch {
      throw new DbError(`Cannot decrypt ${this.file}: wrong key or tampered file.`, 'SECRET_STORE', 'Restore master.key (or the passphrase) that matches this file.');
    }
  }

  private async writeAll(values: Record<string, string>): Promise<void> {
    await mkdir(homePaths.secrets(), { recursive: true, mode: 0o700 });
    const kdf: FilePayload['kdf'] = process.env['PORTUNIX_DB_SECRET_PASSPHRASE'] ? 'scrypt' : 'keyfile';
    const salt = randomBytes(16);
    const iv = randomBytes(12);
    const key = await this.key(kdf, salt);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
    const payload: FilePayload = { v: 1, kdf, salt: salt.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(payload), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.file);
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.readAll())[key];
  }

  async set(key: string, value: string): Promise<void> {
    await withFileLock(this.file + '.lock', async () => {
      const all = await this.readAll();
      all[key] = value;
      await this.writeAll(all);
    });
  }

  async delete(key: string): Promise<void> {
    await withFileLock(this.file + '.lock', async () => {
      const all = await this.readAll();
      if (!(key in all)) return;
      delete all[key];
      await this.writeAll(all);
    });
  }
}

let shared: SecretStore | undefined;

export function getSecretStore(): SecretStore {
  if (shared) return shared;
  let chosen: Promise<{ kind: 'keychain'; Entry: new (s: string, a: string) => KeyringEntry } | { kind: 'encrypted-file'; file: EncryptedFileStore }> | undefined;
  const pick = () =>
    (chosen ??= keychain().then((k) => (k ? { kind: 'keychain' as const, Entry: k.Entry } : { kind: 'encrypted-file' as const, file: new EncryptedFileStore() })));
  shared = {
    async get(key) {
      const b = await pick();
      if (b.kind === 'encrypted-file') return b.file.get(key);
      return new b.Entry(SERVICE, key).getPassword() ?? undefined;
    },
    async set(key, value) {
      const b = await pick();
      if (b.kind === 'encrypted-file') return b.file.set(key, value);
      new b.Entry(SERVICE, key).setPassword(value);
    },
    async delete(key) {
      const b = await pick();
      if (b.kind === 'encrypted-file') return b.file.delete(key);
      try {
        new b.Entry(SERVICE, key).deletePassword();
      } catch {
        /* absent */
      }
    },
    async backend() {
      return (await pick()).kind;
    },
  };
  return shared;
}

/** For tests: forget the chosen backend (e.g. after changing PORTUNIX_HOME). */
export function resetSecretStore(): void {
  shared = undefined;
}

export function generatePassword(length = 32): string {
  // URL-safe and shell-safe: no quoting problems in option files or URLs
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}
