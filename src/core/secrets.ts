import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { mkdir, readFile, rename, writeFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
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

type EntryOptions = { linux?: { store?: 'secret-service' | 'keyutils' } };
type EntryClass = new (service: string, account: string, options?: EntryOptions) => KeyringEntry;

/**
 * On Linux the keychain means the Secret Service (gnome-keyring, KWallet, KeePassXC) and nothing
 * else. @napi-rs/keyring's default store also writes every secret into the kernel keyring, which
 * is volatile (gone after a reboot) and keeps the value even when the Secret Service then refuses
 * it, so the default would leave secrets behind in the kernel and could report success for a
 * password that is lost on the next reboot. Other platforms ignore this option.
 */
const ENTRY_OPTIONS: EntryOptions = { linux: { store: 'secret-service' } };

/**
 * How long the probe may take. A D-Bus session bus that accepts connections but never answers
 * blocks the keyring's synchronous calls forever, so the probe runs in a child process that is
 * killed after this long.
 */
const PROBE_TIMEOUT_MS = 5_000;

type BackendChoice = 'auto' | 'file' | 'keychain';

function backendChoice(): BackendChoice {
  const raw = (process.env['PORTUNIX_DB_SECRET_BACKEND'] ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'auto') return 'auto';
  if (raw === 'file' || raw === 'keychain') return raw;
  throw new DbError(`PORTUNIX_DB_SECRET_BACKEND=${raw} is not a secret backend.`, 'SECRET_STORE', 'Set PORTUNIX_DB_SECRET_BACKEND to auto (the default: the keychain when it answers, else the encrypted file), keychain or file.');
}

function keychainHint(): string {
  const fallback = 'or unset PORTUNIX_DB_SECRET_BACKEND (or set it to file) to use the encrypted file instead.';
  if (process.platform === 'linux') {
    return `Run a Secret Service (e.g. gnome-keyring-daemon --unlock --components=secrets, started inside a D-Bus session: DBUS_SESSION_BUS_ADDRESS must be set) with an unlocked default keyring, ${fallback}`;
  }
  return `Unlock the OS keychain for this user, ${fallback}`;
}

/**
 * Stores, reads back and deletes a probe entry in a child process, killed after PROBE_TIMEOUT_MS.
 * Resolves undefined when the keychain works, else the reason it does not.
 */
async function probeKeychain(modulePath: string): Promise<string | undefined> {
  const script = `
const { Entry } = require(${JSON.stringify(modulePath)});
try {
  const e = new Entry(${JSON.stringify(SERVICE)}, 'probe-' + process.pid, ${JSON.stringify(ENTRY_OPTIONS)});
  e.setPassword('probe');
  const back = e.getPassword();
  e.deletePassword();
  process.stdout.write(JSON.stringify(back === 'probe' ? { ok: true } : { ok: false, reason: 'the keychain did not return what was stored' }));
} catch (err) {
  process.stdout.write(JSON.stringify({ ok: false, reason: String(err && err.message || err) }));
}`;
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', script], { timeout: PROBE_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8', windowsHide: true }, (err, stdout) => {
      let answer: { ok: boolean; reason?: string } | undefined;
      try {
        answer = JSON.parse(stdout) as { ok: boolean; reason?: string };
      } catch {
        answer = undefined;
      }
      if (answer?.ok) return resolve(undefined);
      if (answer?.reason) return resolve(answer.reason);
      if (err && (err as { killed?: boolean }).killed) return resolve(`no answer within ${PROBE_TIMEOUT_MS / 1000} s (is the D-Bus session bus or the keychain hanging?)`);
      resolve(err ? err.message.split('\n')[0] ?? String(err) : 'the keychain probe printed nothing');
    });
  });
}

async function keychain(): Promise<{ Entry: EntryClass } | undefined> {
  const choice = backendChoice();
  if (choice === 'file') return undefined;
  const unavailable = (reason: string): undefined => {
    if (choice === 'keychain') throw new DbError(`The OS keychain is not available: ${reason}`, 'SECRET_STORE', keychainHint());
    return undefined;
  };
  let modulePath: string;
  try {
    modulePath = createRequire(import.meta.url).resolve('@napi-rs/keyring');
  } catch (err) {
    return unavailable(`@napi-rs/keyring is not installed (${(err as Error).message.split('\n')[0]})`);
  }
  const reason = await probeKeychain(modulePath);
  if (reason !== undefined) return unavailable(reason);
  try {
    const mod = (await import('@napi-rs/keyring')) as unknown as { Entry: EntryClass };
    return { Entry: mod.Entry };
  } catch (err) {
    return unavailable((err as Error).message);
  }
}

/** Runs one keychain call; its failures become SECRET_STORE errors that say what to do. */
function inKeychain<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    throw new DbError(`The OS keychain failed to ${what}: ${(err as Error).message}`, 'SECRET_STORE', keychainHint());
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
  let chosen: Promise<{ kind: 'keychain'; Entry: EntryClass } | { kind: 'encrypted-file'; file: EncryptedFileStore }> | undefined;
  const pick = () =>
    (chosen ??= keychain().then((k) => (k ? { kind: 'keychain' as const, Entry: k.Entry } : { kind: 'encrypted-file' as const, file: new EncryptedFileStore() })));
  shared = {
    async get(key) {
      const b = await pick();
      if (b.kind === 'encrypted-file') return b.file.get(key);
      return inKeychain('read a secret', () => new b.Entry(SERVICE, key, ENTRY_OPTIONS).getPassword() ?? undefined);
    },
    async set(key, value) {
      const b = await pick();
      if (b.kind === 'encrypted-file') return b.file.set(key, value);
      inKeychain('store a secret', () => new b.Entry(SERVICE, key, ENTRY_OPTIONS).setPassword(value));
    },
    async delete(key) {
      const b = await pick();
      if (b.kind === 'encrypted-file') return b.file.delete(key);
      // deletePassword() answers false for an absent entry and throws only when the keychain fails
      inKeychain('delete a secret', () => new b.Entry(SERVICE, key, ENTRY_OPTIONS).deletePassword());
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
