/**
 * The two install sources that take server binaries the tool did not download itself:
 *   --archive FILE [--sha256 HEX]  a vendor archive, checked, then unpacked into the cache keyed by sha256;
 *   --bin-dir DIR                  binaries already on disk, adopted in place.
 * Both find the engine's programs through its `install.localBinaries`, read the version from
 * the server binary itself, and become an ordinary plan (verify, unpack, adopt) that the
 * generic install steps (service user, instance set-up, TLS, secrets, supervision) follow.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DbError, UsageError } from '../errors.js';
import { homePaths } from '../home.js';
import { run } from '../process/exec.js';
import type { Engine, LocalBinaries, Progress } from '../../engines/contract.js';
import type { EngineId } from '../../engines/ids.js';
import { unpackArchive, makeTreeReadable } from './archive.js';
import { fileDigest } from './digest.js';
import type { HostPlatform, InstallPlan, PlanStep } from './plan.js';

export type LocalRequest = { kind: 'archive'; file: string; sha256?: string } | { kind: 'bin-dir'; dir: string };

export interface LocalFound {
  source: 'archive' | 'bin-dir';
  binDir: string;
  libDir?: string;
  /** What the server binary says, e.g. "7.2.0". */
  fullVersion: string;
  /** Programs of `optional` that are present. */
  optionalFound: string[];
  archive?: { file: string; sha256: string; expectedFrom: 'given' | 'known'; tree: string };
}

/** Where the unpacked tree of an archive lives: one folder per engine and sha256. */
export function archiveTree(engine: EngineId, sha256: string): string {
  return join(homePaths.cache(), 'archives', engine, sha256);
}

export function localBinariesOf(engine: Engine): LocalBinaries {
  const lb = engine.install.localBinaries;
  if (!lb) {
    throw new DbError(`${engine.info.displayName} cannot be installed from an archive or an existing bin dir yet.`, 'NOT_APPLICABLE', `Sources for ${engine.info.displayName}: ${engine.info.sources.join(', ')} (--source).`);
  }
  return lb;
}

/** Folders beside a server binary where the engine's other programs live in vendor trees (MariaDB keeps mariadb-install-db in scripts/). */
export function programDirs(binDir: string): string[] {
  const parent = dirname(binDir);
  return [...new Set([binDir, join(parent, 'bin'), join(parent, 'sbin'), join(parent, 'scripts')])];
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

async function findProgram(binDir: string, name: string): Promise<string | undefined> {
  for (const dir of programDirs(binDir)) if (await isFile(join(dir, name))) return join(dir, name);
  return undefined;
}

/** Folders (shallowest first, at most 8 levels down) that hold a file named `name`. */
async function foldersWith(root: string, name: string): Promise<string[]> {
  const found: string[] = [];
  let level = [root];
  for (let depth = 0; depth <= 8 && level.length; depth++) {
    const next: string[] = [];
    for (const dir of level) {
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) {
        if (e.name === name && (e.isFile() || (e.isSymbolicLink() && (await isFile(join(dir, e.name)))))) found.push(dir);
        else if (e.isDirectory()) next.push(join(dir, e.name));
      }
    }
    level = next.sort();
  }
  return found;
}

const SYSTEM_PREFIXES = new Set(['/', '/usr', '/usr/local', '/opt/homebrew']);

/** The tree's own shared-library folder beside bin/, if it has one (never a system prefix's lib). */
async function libDirFor(binDir: string): Promise<string | undefined> {
  const parent = dirname(binDir);
  if (SYSTEM_PREFIXES.has(parent)) return undefined;
  for (const name of ['lib', 'lib64', 'libs']) {
    const dir = join(parent, name);
    if (await stat(dir).then((s) => s.isDirectory(), () => false)) return dir;
  }
  return undefined;
}

/** Finds the engine's server (and the rest of `required`) in a tree; the error names what is missing. */
export async function locateBinaries(engine: Engine, root: string, what: string): Promise<{ binDir: string; libDir?: string; optionalFound: string[] }> {
  const lb = localBinariesOf(engine);
  const [server, ...rest] = lb.required;
  if (!server) throw new DbError(`${engine.info.displayName} names no server program for local installs.`, 'INTERNAL');
  const candidates = await foldersWith(root, server);
  if (candidates.length === 0) {
    throw new DbError(`${what} holds no ${server}, so it is not a ${engine.info.displayName} server.`, 'WRONG_ENGINE', `A ${engine.info.displayName} install needs ${lb.required.join(', ')}. Check that this is the ${engine.info.displayName} server package (not a client-only package, nor another engine). Nothing was installed.`);
  }
  let lastMissing: string[] = [];
  for (const binDir of candidates) {
    const missing: string[] = [];
    for (const name of rest) if (!(await findProgram(binDir, name))) missing.push(name);
    if (missing.length === 0) {
      const optionalFound: string[] = [];
      for (const name of lb.optional ?? []) if (await findProgram(binDir, name)) optionalFound.push(name);
      const libDir = await libDirFor(binDir);
      return { binDir, ...(libDir ? { libDir } : {}), optionalFound };
    }
    lastMissing = missing;
  }
  throw new DbError(`${what} has ${server} but not ${lastMissing.join(', ')}.`, 'WRONG_ENGINE', `A ${engine.info.displayName} install needs ${lb.required.join(', ')} together. Nothing was installed.`);
}

/** Runs the server binary to learn its version (as the invoking user, with the tree's libraries). */
export async function readVersion(engine: Engine, binDir: string, libDir: string | undefined): Promise<string> {
  const lb = localBinariesOf(engine);
  const env: Record<string, string> = libDir ? { LD_LIBRARY_PATH: [libDir, process.env['LD_LIBRARY_PATH'] ?? ''].filter(Boolean).join(':') } : {};
  const runIt = async (argv: string[]) => {
    const program = argv[0] && !argv[0].includes('/') ? join(binDir, argv[0]) : argv[0]!;
    const r = await run([program, ...argv.slice(1)], { env, allowFailure: true, timeoutMs: 60_000 }).catch((err: Error) => ({ code: -1, stdout: '', stderr: err.message }));
    if (r.code !== 0) {
      throw new DbError(`${program} ${argv.slice(1).join(' ')} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 400)}`, 'COMMAND_FAILED', 'The binary may be built for another platform or C library, or miss shared libraries. Nothing was installed.');
    }
    return r.stdout + r.stderr;
  };
  const version = (await lb.version(binDir, runIt)).trim();
  if (!/^\d+(\.\d+)*/.test(version)) throw new DbError(`Could not read a version from ${join(binDir, lb.required[0]!)} (got "${version}").`, 'COMMAND_FAILED', 'Nothing was installed.');
  return version;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Checks the archive's sha256 against --sha256 or the engine's table of known releases. */
export async function checkArchive(engine: Engine, file: string, given: string | undefined): Promise<{ sha256: string; expectedFrom: 'given' | 'known'; knownAs?: string }> {
  const info = await stat(file).catch(() => undefined);
  if (!info?.isFile()) throw new DbError(`The archive ${file} does not exist or is not a file.`, 'NOT_FOUND', 'Pass the path of the downloaded vendor archive to --archive.');
  if (given !== undefined && !HEX64.test(given.trim().toLowerCase())) throw new UsageError(`--sha256 takes 64 hex digits; got "${given}".`);
  const sha256 = await fileDigest(file, 'sha256', 'hex');
  const known = localBinariesOf(engine).knownArchives?.find((k) => k.sha256 === sha256);
  if (given !== undefined) {
    if (given.trim().toLowerCase() !== sha256) {
      throw new DbError(`${file} does not match the given sha256: expected ${given.trim().toLowerCase()}, the file has ${sha256}.`, 'INTEGRITY_MISMATCH', 'The file is damaged, incomplete or not the release you meant. Download it again and compare with the vendor\'s published checksum. Nothing was unpacked.');
    }
    return { sha256, expectedFrom: 'given', ...(known ? { knownAs: known.name } : {}) };
  }
  if (known) return { sha256, expectedFrom: 'known', knownAs: known.name };
  throw new DbError(`${basename(file)} is not a ${engine.info.displayName} release whose sha256 portunix-db knows (its sha256 is ${sha256}).`, 'CHECKSUM_REQUIRED', `Compare that sha256 with the one the vendor publishes for the file, then pass it: --sha256 ${sha256}. Nothing was unpacked.`);
}

/**
 * Unpacks the archive into `dest` (through a temporary folder renamed at the end), finds the
 * engine's programs in it and makes the tree readable for the service user. Reuses a complete
 * tree. A failure leaves no folder behind.
 */
async function unpackInto(engine: Engine, file: string, dest: string, progress: Progress): Promise<void> {
  if (existsSync(join(dest, '.portunix-complete'))) {
    progress(`already unpacked (cached): ${dest}`);
    return;
  }
  await mkdir(dirname(dest), { recursive: true, mode: 0o755 });
  const partial = `${dest}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { mode: 0o755 });
  try {
    progress(`unpacking ${basename(file)}...`);
    await unpackArchive(file, partial);
    const found = await locateBinaries(engine, partial, `The archive ${basename(file)}`);
    await makeTreeReadable(partial);
    // zips without Unix modes (jar files) carry no execute bits: the engine's programs get them
    const lb = localBinariesOf(engine);
    for (const name of [...lb.required, ...found.optionalFound]) {
      for (const dir of programDirs(found.binDir)) {
        const p = join(dir, name);
        if (await isFile(p)) await chmod(p, 0o755);
      }
    }
    await writeFile(join(partial, '.portunix-complete'), `${new Date().toISOString()}\n`, { mode: 0o644 });
    await rm(dest, { recursive: true, force: true });
    await rename(partial, dest);
  } catch (err) {
    await rm(partial, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/**
 * Everything an archive or bin-dir install needs to know before its plan: where the binaries
 * are, their libraries, and their version. A dry run unpacks into a temporary folder that it
 * removes again; a real run unpacks into the cache (reused by the install's own unpack step).
 */
export async function inspectLocal(engine: Engine, request: LocalRequest, options: { dryRun: boolean; progress: Progress }): Promise<LocalFound> {
  if (request.kind === 'bin-dir') {
    const dir = resolve(request.dir);
    if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new DbError(`--bin-dir ${dir} does not exist or is not a folder.`, 'NOT_FOUND', `Pass the folder that holds ${localBinariesOf(engine).required[0]}.`);
    const found = await locateBinaries(engine, dir, `The folder ${dir}`);
    const fullVersion = await readVersion(engine, found.binDir, found.libDir);
    return { source: 'bin-dir', ...found, fullVersion };
  }
  const file = resolve(request.file);
  const checked = await checkArchive(engine, file, request.sha256);
  const tree = archiveTree(engine.info.id, checked.sha256);
  const archive = { file, sha256: checked.sha256, expectedFrom: checked.expectedFrom, tree };
  if (!options.dryRun || existsSync(join(tree, '.portunix-complete'))) {
    await unpackInto(engine, file, tree, options.progress);
    const found = await locateBinaries(engine, tree, `The archive ${basename(file)}`);
    return { source: 'archive', ...found, fullVersion: await readVersion(engine, found.binDir, found.libDir), archive };
  }
  // dry run: unpack to a throw-away folder to read the version, then report the cache paths
  const scratch = await mkdtemp(join(tmpdir(), 'portunix-db-archive-'));
  try {
    const dest = join(scratch, 'tree');
    await unpackInto(engine, file, dest, options.progress);
    const found = await locateBinaries(engine, dest, `The archive ${basename(file)}`);
    const fullVersion = await readVersion(engine, found.binDir, found.libDir);
    const relocate = (p: string) => join(tree, p.slice(dest.length));
    return { source: 'archive', binDir: relocate(found.binDir), ...(found.libDir ? { libDir: relocate(found.libDir) } : {}), optionalFound: found.optionalFound, fullVersion, archive };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The plan of an archive or bin-dir install; the generic steps (service user, instance) are added by install(). */
export function localPlan(engine: Engine, found: LocalFound, versionLine: string, host: HostPlatform): InstallPlan {
  const lb = localBinariesOf(engine);
  const steps: PlanStep[] = [];
  if (found.archive) {
    steps.push(
      { kind: 'verify-archive', description: `Check ${found.archive.file} against sha256 ${found.archive.sha256} (${found.archive.expectedFrom === 'given' ? 'given with --sha256' : `known for this ${engine.info.displayName} release`})`, archive: found.archive.file, sha256: found.archive.sha256 },
      { kind: 'unpack-archive', description: `Unpack into the cache, keyed by sha256 (entries with absolute paths or "..", and symlinks out of the tree, are refused)`, engine: engine.info.id, archive: found.archive.file, sha256: found.archive.sha256, dest: found.archive.tree },
    );
  }
  steps.push({
    kind: 'adopt-binaries',
    description: `Use ${lb.required[0]} ${found.fullVersion} from ${found.binDir}${found.libDir ? ` with the libraries in ${found.libDir}` : ''}${found.source === 'bin-dir' ? ' (in place)' : ''}`,
    engine: engine.info.id,
    binDir: found.binDir,
    ...(found.libDir ? { libDir: found.libDir } : {}),
    version: found.fullVersion,
  });
  const notes = [`${engine.info.displayName} ${found.fullVersion}, read from ${join(found.binDir, lb.required[0]!)} --version.`];
  const missingOptional = (lb.optional ?? []).filter((n) => !found.optionalFound.includes(n));
  if (missingOptional.length) notes.push(`Not in this tree (looked up on PATH when needed): ${missingOptional.join(', ')}.`);
  return {
    engine: engine.info.id,
    version: versionLine,
    source: found.source,
    platform: { os: host.os, arch: host.arch, ...(host.distro ? { distro: `${host.distro.id} ${host.distro.versionId}` } : {}) },
    steps,
    binDir: found.binDir,
    ...(found.libDir ? { libDir: found.libDir } : {}),
    notes,
  };
}

/** Runs the local-source steps of a plan (each is cheap when inspectLocal already did the work). */
export async function runLocalStep(engine: Engine, step: Extract<PlanStep, { kind: 'verify-archive' | 'unpack-archive' | 'adopt-binaries' }>, progress: Progress): Promise<void> {
  switch (step.kind) {
    case 'verify-archive': {
      const actual = await fileDigest(step.archive, 'sha256', 'hex');
      if (actual !== step.sha256) throw new DbError(`${step.archive} changed while installing: its sha256 is now ${actual}.`, 'INTEGRITY_MISMATCH', 'Run the install again.');
      progress(`sha256 ok: ${actual}`);
      return;
    }
    case 'unpack-archive':
      return unpackInto(engine, step.archive, step.dest, progress);
    case 'adopt-binaries': {
      const server = localBinariesOf(engine).required[0]!;
      if (!(await isFile(join(step.binDir, server)))) throw new DbError(`${join(step.binDir, server)} is gone.`, 'NOT_FOUND', 'Run the install again.');
      progress(`using ${join(step.binDir, server)} (${step.version})`);
      return;
    }
  }
}
