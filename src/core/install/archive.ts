/**
 * Unpacking vendor archives (tar.gz/tgz, zip, and jar/wheel, which are zips) for the `--archive`
 * install source. Every entry name is checked before anything is written: no absolute paths, no
 * `..` components, and after unpacking no symlink may point out of the tree. Zips are read here
 * (central directory + inflate) so entry types and names are ours to check; tarballs go through
 * tar after their listing was checked.
 */
import { open, readlink, lstat, mkdir, readdir, realpath, symlink, writeFile, chmod } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { createReadStream, createWriteStream } from 'node:fs';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import { DbError } from '../errors.js';
import { run } from '../process/exec.js';

export type ArchiveKind = 'tar.gz' | 'zip';

/** By the file's first bytes, not its name: a renamed file is still what it is. */
export async function archiveKind(file: string): Promise<ArchiveKind> {
  const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    throw new DbError(`Cannot read the archive ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}.`, 'NOT_FOUND', 'Pass the path of a downloaded vendor archive (tar.gz, tgz, zip, jar or wheel).');
  });
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'tar.gz';
    if (bytesRead === 4 && head.readUInt32LE(0) === 0x04034b50) return 'zip';
  } finally {
    await fh.close();
  }
  throw new DbError(`${file} is neither a gzip-compressed tarball nor a zip (jar, wheel) file.`, 'ARCHIVE_CORRUPT', 'Supported archives: .tar.gz, .tgz, .zip, .jar, .whl. Check that the download is complete.');
}

/** Throws ARCHIVE_UNSAFE for a name that would land outside the unpack folder. */
export function checkEntryName(name: string): void {
  const unsafe = (why: string) => new DbError(`The archive entry "${name}" ${why}; refusing to unpack the archive.`, 'ARCHIVE_UNSAFE', 'A vendor archive never needs this. Get the archive from the vendor again; nothing was unpacked.');
  if (name.includes('\0')) throw unsafe('contains a NUL byte');
  if (isAbsolute(name) || name.startsWith('\\') || /^[A-Za-z]:/.test(name)) throw unsafe('is an absolute path');
  if (name.split(/[\\/]+/).includes('..')) throw unsafe('climbs out of the archive with ".."');
}

/** A symlink's target, resolved from where the link sits, must stay inside the tree. */
export function checkLinkTarget(root: string, linkPath: string, target: string): void {
  const dest = resolve(dirname(linkPath), target);
  const rel = relative(resolve(root), dest);
  if (isAbsolute(target) || rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel)) {
    throw new DbError(`The archive holds a symlink ${relative(root, linkPath)} -> ${target} that points out of the unpacked tree; refusing it.`, 'ARCHIVE_UNSAFE', 'Vendor archives link only within themselves. Get the archive from the vendor again; nothing was installed.');
  }
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** Every symlink under root points inside root, by its name and, through chains of links, by where it really lands. */
export async function checkTreeLinks(root: string): Promise<void> {
  const realRoot = await realpath(root);
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isSymbolicLink()) {
        const target = await readlink(p);
        checkLinkTarget(root, p, target);
        const real = await realpath(p).catch(() => undefined);
        if (real !== undefined && !inside(realRoot, real)) checkLinkTarget(root, p, real);
      } else if (entry.isDirectory()) await walk(p);
    }
  };
  await walk(root);
}

/** A file or folder about to be made lands inside root even when folders on its way are symlinks. */
async function checkParentInside(root: string, target: string): Promise<void> {
  let existing = dirname(target);
  while (!(await lstat(existing).then(() => true, () => false))) existing = dirname(existing);
  const realParent = await realpath(existing);
  if (!inside(await realpath(root), realParent)) {
    throw new DbError(`The archive entry ${relative(root, target)} would be written through a symlink to ${realParent}, outside the unpacked tree; refusing it.`, 'ARCHIVE_UNSAFE', 'Get the archive from the vendor again; nothing was installed.');
  }
}

function corrupt(file: string, why: string): DbError {
  return new DbError(`The archive ${file} is damaged or incomplete: ${why}.`, 'ARCHIVE_CORRUPT', 'Download it again (a truncated download looks like this); nothing was installed.');
}

async function unpackTarGz(file: string, dest: string): Promise<void> {
  const list = await run(['tar', '-tzf', file], { allowFailure: true, timeoutMs: 10 * 60_000 });
  if (list.code !== 0) throw corrupt(file, list.stderr.trim().split('\n').slice(-2).join(' ') || `tar exited ${list.code}`);
  for (const name of list.stdout.split('\n')) if (name) checkEntryName(name);
  const x = await run(['tar', '-xzf', file, '-C', dest, '--no-same-owner', '--delay-directory-restore'], { allowFailure: true, timeoutMs: 20 * 60_000 });
  if (x.code !== 0) throw corrupt(file, x.stderr.trim().split('\n').slice(-2).join(' ') || `tar exited ${x.code}`);
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  /** Unix mode from the external attributes, when the zip was made on Unix. */
  mode?: number;
}

async function zipEntries(file: string, fh: Awaited<ReturnType<typeof open>>): Promise<ZipEntry[]> {
  const size = (await fh.stat()).size;
  const tailLen = Math.min(size, 65_557);
  const tail = Buffer.alloc(tailLen);
  await fh.read(tail, 0, tailLen, size - tailLen);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw corrupt(file, 'no zip end-of-directory record');
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  if (cdOffset === 0xffffffff || count === 0xffff) {
    // zip64: the locator sits just before the end record
    const loc = eocd - 20;
    if (loc < 0 || tail.readUInt32LE(loc) !== 0x07064b50) throw corrupt(file, 'zip64 locator missing');
    const rec = Buffer.alloc(56);
    await fh.read(rec, 0, 56, Number(tail.readBigUInt64LE(loc + 8)));
    if (rec.readUInt32LE(0) !== 0x06064b50) throw corrupt(file, 'zip64 end record missing');
    count = Number(rec.readBigUInt64LE(32));
    cdSize = Number(rec.readBigUInt64LE(40));
    cdOffset = Number(rec.readBigUInt64LE(48));
  }
  if (cdOffset + cdSize > size) throw corrupt(file, 'the central directory lies past the end of the file');
  const cd = Buffer.alloc(cdSize);
  await fh.read(cd, 0, cdSize, cdOffset);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== 0x02014b50) throw corrupt(file, 'bad central directory entry');
    const madeBy = cd.readUInt16LE(p + 4) >> 8;
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const external = cd.readUInt32LE(p + 38);
    const entry: ZipEntry = {
      name: cd.toString('utf8', p + 46, p + 46 + nameLen),
      method: cd.readUInt16LE(p + 10),
      crc: cd.readUInt32LE(p + 16),
      compressedSize: cd.readUInt32LE(p + 20),
      size: cd.readUInt32LE(p + 24),
      localOffset: cd.readUInt32LE(p + 42),
      ...(madeBy === 3 && external >>> 16 ? { mode: external >>> 16 } : {}),
    };
    // zip64 extra field: sizes and offset that did not fit
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = cd.readUInt16LE(e);
      const len = cd.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        if (entry.size === 0xffffffff) { entry.size = Number(cd.readBigUInt64LE(q)); q += 8; }
        if (entry.compressedSize === 0xffffffff) { entry.compressedSize = Number(cd.readBigUInt64LE(q)); q += 8; }
        if (entry.localOffset === 0xffffffff) entry.localOffset = Number(cd.readBigUInt64LE(q));
      }
      e += 4 + len;
    }
    entries.push(entry);
    p = extraEnd + commentLen;
  }
  return entries;
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const S_IFDIR = 0o040000;

async function unpackZip(file: string, dest: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const entries = await zipEntries(file, fh);
    for (const entry of entries) checkEntryName(entry.name);
    const size = (await fh.stat()).size;
    for (const entry of entries) {
      const target = join(dest, entry.name);
      const isDir = entry.name.endsWith('/') || (entry.mode !== undefined && (entry.mode & S_IFMT) === S_IFDIR);
      await checkParentInside(dest, target);
      if (isDir) {
        await mkdir(target, { recursive: true });
        continue;
      }
      const header = Buffer.alloc(30);
      await fh.read(header, 0, 30, entry.localOffset);
      if (header.readUInt32LE(0) !== 0x04034b50) throw corrupt(file, `bad local header for ${entry.name}`);
      const start = entry.localOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
      if (start + entry.compressedSize > size) throw corrupt(file, `${entry.name} is cut off`);
      await mkdir(dirname(target), { recursive: true });
      const isLink = entry.mode !== undefined && (entry.mode & S_IFMT) === S_IFLNK;
      if (entry.method !== 0 && entry.method !== 8) throw corrupt(file, `${entry.name} uses compression method ${entry.method}, which is not supported`);
      // streamed: a server binary inflates to hundreds of MB
      const chunks: Buffer[] = [];
      let crc = 0xffffffff;
      let written = 0;
      const check = new Transform({
        transform(chunk: Buffer, _enc, done) {
          for (let i = 0; i < chunk.length; i++) crc = CRC_TABLE[(crc ^ chunk[i]!) & 0xff]! ^ (crc >>> 8);
          written += chunk.length;
          if (isLink) chunks.push(chunk);
          done(null, isLink ? undefined : chunk);
        },
      });
      // no Unix mode (jar files): readable data; programs get their execute bit where the engine's binaries are found
      const mode = entry.mode !== undefined ? (entry.mode & 0o777) | 0o644 : 0o644;
      const source = entry.compressedSize === 0 ? Readable.from([]) : createReadStream(file, { start, end: start + entry.compressedSize - 1 });
      const sink = isLink ? new Writable({ write: (_c, _e, done) => done() }) : createWriteStream(target, { mode, flags: 'wx' });
      try {
        if (entry.method === 8) await pipeline(source, createInflateRaw(), check, sink);
        else await pipeline(source, check, sink);
      } catch (err) {
        if (err instanceof DbError) throw err;
        throw corrupt(file, `${entry.name} does not unpack (${(err as Error).message})`);
      }
      if (written !== entry.size || ((crc ^ 0xffffffff) >>> 0) !== entry.crc) throw corrupt(file, `${entry.name} fails its CRC check`);
      if (isLink) {
        const linkTarget = Buffer.concat(chunks).toString('utf8');
        checkLinkTarget(dest, target, linkTarget);
        await symlink(linkTarget, target);
      } else {
        await chmod(target, mode);
      }
    }
  } finally {
    await fh.close();
  }
}

/** Unpacks `file` into the (existing, empty) folder `dest`, refusing unsafe entries; checks symlinks afterwards. */
export async function unpackArchive(file: string, dest: string): Promise<ArchiveKind> {
  const kind = await archiveKind(file);
  if (kind === 'tar.gz') await unpackTarGz(file, dest);
  else await unpackZip(file, dest);
  await checkTreeLinks(dest);
  return kind;
}

/** Files and folders are readable (and folders searchable) by everyone: the service user runs the programs. */
export async function makeTreeReadable(root: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    await chmod(dir, ((await lstat(dir)).mode & 0o7777) | 0o755);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (entry.isFile()) await chmod(p, ((await lstat(p)).mode & 0o7777) | 0o444);
    }
  };
  await walk(root);
}
