import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DbError } from './errors.js';

/** What a backup writer hashed as the bytes went to disk: the core reads nothing back. */
export interface WrittenDigest {
  sha256: string;
  size: number;
}

/**
 * A stream that writes `file` (0600) and hashes every byte on its way there, so a backup's
 * sha256 is known the moment its last byte is written, without reading the file again.
 */
export function hashedFileWriter(file: string): { stream: Writable; done: Promise<WrittenDigest> } {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const done = pipeline(tap, createWriteStream(file, { mode: 0o600 })).then(() => ({ sha256: hash.digest('hex'), size }));
  // the caller awaits `done`; a failure here must not also surface as an unhandled rejection
  done.catch(() => undefined);
  return { stream: tap, done };
}

/**
 * A writer that seals a backup on its way to disk (age encryption: core/backup-crypto.ts
 * `encryptingWriter`): an engine whose backup is one file written in one pass writes through it,
 * so the plaintext never touches the disk and nothing is read back to encrypt it. `used` says
 * whether the engine did; one that did not left a plain file, which the core encrypts after.
 */
export interface Seal {
  /** Where the sealed bytes go (created new, 0600). */
  readonly file: string;
  used: boolean;
  /** The sealed file's sha256 and size, once its writer has finished. */
  digest?: WrittenDigest;
  open(): { stream: Writable; done: Promise<WrittenDigest> };
}

/**
 * Runs `produce` (a command writing into the stream it is given) into `file` through the hash;
 * with a `seal`, into the seal's file instead (and `file` is never created).
 * When both fail, the file's own error wins: a full disk breaks the pipe, and the producer then
 * only says that it failed.
 */
export async function writeHashed(file: string, produce: (stream: Writable) => Promise<unknown>, seal?: Seal): Promise<WrittenDigest> {
  const out = seal ? seal.open() : hashedFileWriter(file);
  const [made, written] = await Promise.allSettled([produce(out.stream), out.done]);
  if (written.status === 'rejected') {
    const err = written.reason as NodeJS.ErrnoException;
    throw err.code === 'ENOSPC' ? new DbError(`The backup destination is full: ${err.message}`, 'DISK_FULL', 'Free space there or choose another --destination.') : err;
  }
  if (made.status === 'rejected') throw made.reason;
  return written.value;
}
