/**
 * Encryption at rest in the age format (age-encryption.org/v1, X25519 recipients), so the
 * standard `age` tool decrypts a backup in an emergency. age-encryption 0.3.1 encrypts and
 * decrypts Web ReadableStreams chunk by chunk (64 KiB STREAM chunks, each with its own tag), so
 * neither direction holds a whole backup in memory. Encrypting hashes the ciphertext as it is
 * written (the manifest's sha256 covers the encrypted file, no second pass); decrypting hashes
 * the ciphertext as it is read and refuses the result unless it matches the signed manifest.
 * The identities (private keys) live in the secret store; the newest encrypts, all decrypt.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DbError } from './errors.js';
import type { Seal } from './hashed-write.js';
import { homePaths } from './home.js';
import { getSecretStore } from './secrets.js';
import { withFileLock } from './file-lock.js';
import { join } from 'node:path';

/**
 * age and its curves load only when a backup is encrypted or decrypted: imported up front they
 * cost every backup 50-90 ms of start-up (issue 14).
 */
const age = () => import('age-encryption');

export const AGE_MAGIC = 'age-encryption.org/v1\n';
const KEY_NAME = () => `${homePaths.secrets()}::backup/age-identities`;
const IDENTITY = /^AGE-SECRET-KEY-1[0-9A-Z]{58}$/;

export interface EncryptionInfo {
  format: 'age';
  /** The public key it was encrypted to (age1...): names which key is needed. */
  recipient: string;
}

async function readIdentities(): Promise<string[]> {
  const raw = await getSecretStore().get(KEY_NAME());
  if (!raw) return [];
  const list = JSON.parse(raw) as unknown;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string' && IDENTITY.test(x)) : [];
}

async function writeIdentities(list: string[]): Promise<void> {
  await getSecretStore().set(KEY_NAME(), JSON.stringify(list));
}

/** The identity new backups are encrypted to; made (once) when `create`. */
export async function currentIdentity(create: boolean): Promise<string | undefined> {
  const have = await readIdentities();
  if (have.length || !create) return have[have.length - 1];
  return withFileLock(join(homePaths.state(), 'backup-key.lock'), async () => {
    const again = await readIdentities();
    if (again.length) return again[again.length - 1]!;
    const id = await (await age()).generateX25519Identity();
    await writeIdentities([id]);
    return id;
  });
}

export async function allIdentities(): Promise<string[]> {
  return readIdentities();
}

/**
 * Adds recovery keys (AGE-SECRET-KEY-1... lines: what `backup key export` or `age-keygen`
 * wrote) to this home's keys, e.g. on a new machine. An export of a home with several keys
 * holds them all, oldest first, as an age identity file does; every line that is not a comment
 * must be one. In a home without keys the last one imported encrypts new backups (it was the
 * exporting home's current key); otherwise the current one keeps encrypting.
 */
export async function importIdentity(text: string): Promise<{ recipient: string; recipients: string[]; added: boolean }> {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (!lines.length || lines.some((l) => !IDENTITY.test(l))) throw new DbError('That is not an age identity file (lines AGE-SECRET-KEY-1...; comment lines starting with # are allowed).', 'USAGE', 'Pass the file `backup key export` printed (or one `age-keygen` wrote), on stdin.');
  const ids = [...new Set(lines)];
  const recipients = await Promise.all(ids.map(async (id) => (await age()).identityToRecipient(id)));
  return withFileLock(join(homePaths.state(), 'backup-key.lock'), async () => {
    const have = await readIdentities();
    const fresh = ids.filter((id) => !have.includes(id));
    if (fresh.length) await writeIdentities([...fresh, ...have]);
    return { recipient: recipients[recipients.length - 1]!, recipients, added: fresh.length > 0 };
  });
}

export async function recipientOf(identity: string): Promise<string> {
  return (await age()).identityToRecipient(identity);
}

/** Streams `plain` through age into `out` (0600), hashing the ciphertext as it is written. */
export async function encryptFile(plain: string, out: string, signal?: AbortSignal): Promise<{ sha256: string; size: number; encryption: EncryptionInfo }> {
  // the same writer an engine gets for a backup sealed as it is written, fed from the file
  const seal = await encryptingWriter(out, signal);
  const w = seal.open();
  await Promise.all([pipeline(createReadStream(plain), w.stream), w.done]);
  const digest = await w.done;
  return { ...digest, encryption: seal.encryption };
}

/**
 * A Seal (core/hashed-write.ts) that age-encrypts to this home's current key into `out` as the
 * engine writes, hashing the encrypted bytes on their way to disk. When writing `out` fails, the
 * plaintext side is destroyed too, so the engine's producer stops instead of blocking.
 */
export async function encryptingWriter(out: string, signal?: AbortSignal): Promise<Seal & { encryption: EncryptionInfo }> {
  const identity = (await currentIdentity(true))!;
  const { Encrypter, identityToRecipient } = await age();
  const recipient = await identityToRecipient(identity);
  const seal: Seal & { encryption: EncryptionInfo } = {
    file: out,
    used: false,
    encryption: { format: 'age', recipient },
    open() {
      seal.used = true;
      const plain = new PassThrough();
      const e = new Encrypter();
      e.addRecipient(recipient);
      const hash = createHash('sha256');
      const done = e
        .encrypt(Readable.toWeb(plain) as unknown as ReadableStream<Uint8Array>)
        .then((encrypted) => pipeTo(encrypted, out, hash, signal))
        .then((size) => (seal.digest = { sha256: hash.digest('hex'), size }))
        .catch((err: unknown) => {
          plain.destroy(err as Error);
          throw err;
        });
      done.catch(() => undefined);
      return { stream: plain, done };
    },
  };
  return seal;
}

async function pipeTo(stream: ReadableStream<Uint8Array>, out: string, hash: Hash | undefined, signal?: AbortSignal): Promise<number> {
  const fh = await open(out, 'wx', 0o600);
  let size = 0;
  try {
    const reader = stream.getReader();
    for (;;) {
      if (signal?.aborted) throw new DbError('Stopped while encrypting.', 'COMMAND_FAILED');
      const { done, value } = await reader.read();
      if (done) break;
      hash?.update(value);
      size += value.length;
      await fh.write(value);
    }
  } finally {
    await fh.close();
  }
  return size;
}

async function startsWithMagic(file: string): Promise<boolean> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(AGE_MAGIC.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return bytesRead === buf.length && buf.toString('latin1') === AGE_MAGIC;
  } finally {
    await fh.close();
  }
}

/**
 * Decrypts `file` into `out` (0600), hashing the ciphertext as it streams; `out` exists only
 * when the whole file decrypted and its sha256 matched. A file that is not age, a key this home
 * does not have, or a tampered chunk: a clear error and no output.
 */
export async function decryptFile(file: string, out: string, expected: { sha256: string; encryption: EncryptionInfo }): Promise<void> {
  if (!(await startsWithMagic(file))) {
    throw new DbError(`${file} is not age-encrypted, although its manifest says it is.`, 'BACKUP_CORRUPT', 'Nothing was changed. The file was replaced after the backup; use another backup.');
  }
  const identities = await readIdentities();
  if (!identities.length) throw new DbError(`${file} is encrypted (to ${expected.encryption.recipient}) and this PORTUNIX_HOME has no backup key.`, 'AUTH_FAILED', 'Nothing was changed. Import the recovery key with `portunix-db backup key import < key.txt`.');
  const d = new (await age()).Decrypter();
  for (const id of identities) d.addIdentity(id);
  const hash = createHash('sha256');
  const source = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>;
  const hashed = source.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (chunk, c) => (hash.update(chunk), c.enqueue(chunk)) }));
  try {
    let plain: ReadableStream<Uint8Array>;
    try {
      plain = await d.decrypt(hashed);
    } catch (err) {
      throw new DbError(`${file} cannot be decrypted with this home's backup key (it was encrypted to ${expected.encryption.recipient}): ${(err as Error).message}.`, 'AUTH_FAILED', 'Nothing was changed. Import the right recovery key with `portunix-db backup key import < key.txt`.');
    }
    try {
      await pipeTo(plain, out, undefined);
    } catch (err) {
      if (err instanceof DbError) throw err;
      throw new DbError(`${file} is corrupt: decryption failed part way (${(err as Error).message}).`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
    }
    if (hash.digest('hex') !== expected.sha256) throw new DbError(`Backup ${file} is corrupt (or was edited): its sha256 does not match the signed manifest.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  } catch (err) {
    await rm(out, { force: true });
    throw err;
  }
}
