import { createHash, type Hash } from 'node:crypto';
import { constants, open, readdir, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BackupFileDigest } from '../engines/contract.js';
import { directoryFiles } from './backup-manifest.js';
import { DbError } from './errors.js';

interface Followed {
  fh: FileHandle;
  ino: number;
  offset: number;
  hash: Hash;
}

const CHUNK = 1 << 20;

/**
 * Hashes the files of a directory while another process writes them, so a directory backup's
 * digests are ready when its writer exits instead of costing a second pass over the data.
 * pg_dump --format=directory writes each file once, front to back, and never goes back: each look
 * reads only what was appended since the last one (from the page cache, on the core the dump
 * leaves idle). `finish()`, once the writer has exited, reads every file to its end and gives
 * what digestDirectory would; a file that was replaced meanwhile (another inode under its name)
 * is hashed again from its start. Anything but regular files is refused as directoryFiles does.
 * `stop()` closes everything after a failed write.
 */
export function followDirectory(dir: string, intervalMs = 200): { finish(): Promise<BackupFileDigest[]>; stop(): Promise<void> } {
  const files = new Map<string, Followed>();
  let stopped = false;
  let wake: (() => void) | undefined;

  const track = async (name: string): Promise<Followed | undefined> => {
    const known = files.get(name);
    if (known) return known;
    // never through a link, never blocked by a FIFO: only regular files are followed (the rest is refused at the end)
    const fh = await open(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
    if (!fh) return undefined;
    const info = await fh.stat();
    if (!info.isFile()) {
      await fh.close();
      return undefined;
    }
    const f = { fh, ino: info.ino, offset: 0, hash: createHash('sha256') };
    files.set(name, f);
    return f;
  };
  const drain = async (f: Followed): Promise<void> => {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await f.fh.read(buf, 0, CHUNK, f.offset);
      if (!bytesRead) return;
      f.hash.update(buf.subarray(0, bytesRead));
      f.offset += bytesRead;
    }
  };
  const look = async (): Promise<void> => {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const f = await track(name);
      if (f) await drain(f);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await look();
      if (stopped) break;
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, intervalMs).unref();
      });
    }
  })();
  const closeAll = async () => {
    for (const f of files.values()) await f.fh.close().catch(() => undefined);
    files.clear();
  };
  const halt = async () => {
    stopped = true;
    wake?.();
    await loop.catch(() => undefined);
  };

  return {
    async finish() {
      await halt();
      try {
        const out: BackupFileDigest[] = [];
        for (const path of await directoryFiles(dir)) {
          let f = path.includes('/') ? undefined : await track(path);
          if (f && (await stat(join(dir, path))).ino !== f.ino) {
            // replaced under its name: what is there now is what the backup holds
            await f.fh.close();
            files.delete(path);
            f = await track(path);
          }
          if (f) {
            await drain(f);
            if ((await f.fh.stat()).size !== f.offset) {
              // cut short after it was read (no writer we follow does this): hash what is there now
              await f.fh.close();
              files.delete(path);
              f = await track(path);
              if (!f) throw new DbError(`${path} vanished from ${dir} while it was hashed.`, 'COMMAND_FAILED', 'Run the backup again.');
              await drain(f);
            }
            out.push({ path, size_bytes: f.offset, sha256: f.hash.digest('hex') });
          } else {
            // nested (pg_dump writes none), or gone between the listing and the open: hashed whole
            const whole = await open(join(dir, path), 'r');
            try {
              const g = { fh: whole, ino: 0, offset: 0, hash: createHash('sha256') };
              await drain(g);
              out.push({ path, size_bytes: g.offset, sha256: g.hash.digest('hex') });
            } finally {
              await whole.close();
            }
          }
        }
        return out;
      } finally {
        await closeAll();
      }
    },
    async stop() {
      await halt();
      await closeAll();
    },
  };
}
