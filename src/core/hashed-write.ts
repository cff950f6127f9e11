import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

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
