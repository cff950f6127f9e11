/**
 * What the CLI loads to start. `--version` and `status` must not pay for the MCP server, zod,
 * backup encryption or a database driver: each run gets an ESM resolve hook and a CommonJS
 * resolve hook that log every module, and the test reads the log. Each check has a control
 * run that does load the package, so a hook that logs nothing cannot pass for a light CLI.
 *
 * A home with instances legitimately loads: better-sqlite3 for a SQLite instance with database
 * files (status runs a quick_check on each); the engine's driver (pg, redis, mysql2...) the
 * first time `status` sees a running server, to ask its version once for that server process;
 * and zod the first time a config file's text is seen (later runs use the remembered result).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CLI_BUNDLE, CLI_SRC, freshHome } from '../helpers/cli.js';

const FORBIDDEN = ['@modelcontextprotocol/sdk', 'zod', 'zod-to-json-schema', 'age-encryption', '@noble', 'hono', '@hono', 'croner', 'pg', 'pg-protocol', 'mysql2', 'redis', '@redis', 'mongodb', '@elastic', '@influxdata', 'better-sqlite3'];

const hooks = freshHome('load-hooks');
const logFileVar = 'PDB_TEST_LOAD_LOG';
writeFileSync(
  join(hooks, 'hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function resolve(spec, ctx, next) {
  const r = await next(spec, ctx);
  if (process.env.${logFileVar} && !r.url.startsWith('node:')) appendFileSync(process.env.${logFileVar}, r.url + '\\n');
  return r;
}
`,
);
writeFileSync(join(hooks, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(hooks, 'hooks.mjs')).href)});\n`);
// require() of CommonJS packages (drivers are CommonJS) is outside the ESM hook in Node 20
writeFileSync(
  join(hooks, 'cjs.cjs'),
  `const Module = require('node:module');
const { appendFileSync } = require('node:fs');
const original = Module._resolveFilename;
Module._resolveFilename = function (...args) {
  const file = original.apply(this, args);
  if (process.env.${logFileVar} && file.includes('/')) appendFileSync(process.env.${logFileVar}, file + '\\n');
  return file;
};
`,
);

interface Traced {
  code: number;
  stdout: string;
  stderr: string;
  /** Every module file resolved, as a path or file: URL. */
  modules: string[];
}

let runs = 0;
function traced(cli: string, args: string[], home: string): Promise<Traced> {
  const log = join(hooks, `run-${++runs}.log`);
  writeFileSync(log, '');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', join(hooks, 'register.mjs'), '--require', join(hooks, 'cjs.cjs'), cli, ...args], {
      env: { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: 'file', [logFileVar]: log },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) }));
  });
}

/** The packages among the loaded files (node_modules/<pkg> or node_modules/@scope/pkg). */
function packagesOf(modules: string[]): Set<string> {
  const out = new Set<string>();
  for (const m of modules) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(decodeURIComponent(m));
    if (match) out.add(match[1]!);
  }
  return out;
}

function forbiddenIn(modules: string[], allowed: string[] = []): string[] {
  const pkgs = packagesOf(modules);
  return FORBIDDEN.filter((f) => !allowed.includes(f)).filter((f) => [...pkgs].some((p) => p === f || (f.startsWith('@') && !f.includes('/') && p.startsWith(`${f}/`))));
}

/**
 * In the bundle, packages are inlined; esbuild heads each inlined module with a
 * `// node_modules/<pkg>/...` comment, so the loaded chunk files name what they hold.
 */
function bundledPackagesOf(modules: string[]): Set<string> {
  const out = new Set<string>();
  for (const m of modules) {
    if (!m.startsWith('file:') || !m.includes('/dist/bundle/')) continue;
    const text = readFileSync(new URL(m), 'utf8');
    for (const match of text.matchAll(/^\/\/ node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)) out.add(match[1]!);
  }
  return out;
}

const bundleFresh = existsSync(CLI_BUNDLE) && statSync(CLI_BUNDLE).mtimeMs >= statSync(CLI_SRC).mtimeMs;

test('--version and status --json on a home with no instances load no MCP SDK, zod, age, noble, hono or driver', async () => {
  const home = freshHome('startup-empty');
  const version = await traced(CLI_SRC, ['--version'], home);
  assert.equal(version.code, 0, version.stderr);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  const status = await traced(CLI_SRC, ['status', '--json'], home);
  assert.equal(status.code, 0, status.stderr);
  assert.deepEqual(JSON.parse(status.stdout), []);
  for (const r of [version, status]) {
    // the hooks see the CLI's own modules and commander: they work
    assert.ok(r.modules.some((m) => m.endsWith('/dist/src/cli/main.js')), 'the hook logged the entry module');
    assert.ok(packagesOf(r.modules).has('commander'), 'the hook logged commander');
    assert.deepEqual(forbiddenIn(r.modules), []);
  }
});

test('control: `mcp tools` does load the MCP SDK and zod, and the hooks report them', async () => {
  const home = freshHome('startup-mcp');
  const r = await traced(CLI_SRC, ['mcp', 'tools', '--json'], home);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).tools.length > 0);
  const found = forbiddenIn(r.modules);
  assert.ok(found.includes('@modelcontextprotocol/sdk'), `found: ${found.join(', ')}`);
  assert.ok(found.includes('zod'), `found: ${found.join(', ')}`);
});

test('the bundle: --version and status load no chunk holding those packages (control: mcp tools does)', { skip: bundleFresh ? false : 'dist/bundle is older than tsc output: run npm run build' }, async () => {
  const home = freshHome('startup-bundle');
  for (const args of [['--version'], ['status', '--json']]) {
    const r = await traced(CLI_BUNDLE, args, home);
    assert.equal(r.code, 0, r.stderr);
    const bundled = [...bundledPackagesOf(r.modules)];
    assert.ok(bundled.includes('commander'), `the bundle's loaded files name their packages: ${bundled.join(', ')}`);
    assert.deepEqual(FORBIDDEN.filter((f) => bundled.some((p) => p === f || p.startsWith(`${f}/`))), [], args.join(' '));
  }
  const mcp = await traced(CLI_BUNDLE, ['mcp', 'tools', '--json'], home);
  assert.equal(mcp.code, 0, mcp.stderr);
  const bundled = bundledPackagesOf(mcp.modules);
  assert.ok(bundled.has('@modelcontextprotocol/sdk') && bundled.has('zod'), [...bundled].join(', '));
});

/** A home with a stopped PostgreSQL and Redis, a SQLite instance with one database file, and a "running" PostgreSQL. */
function homeWithInstances(): { home: string; runningPid: number; stopSleeper: () => void; pgRun: string } {
  const home = freshHome('startup-instances');
  const inst = (engine: string, name: string) => join(home, 'instances', engine, name);
  const entry = (engine: string, name: string, extra: Record<string, unknown> = {}) => ({ version: engine === 'postgresql' ? '16' : engine === 'redis' ? '7' : '3', data_dir: join(inst(engine, name), 'data'), backup_dir: join(home, 'backups', engine, name), ...extra });
  for (const [e, n] of [['postgresql', 'main'], ['postgresql', 'live'], ['redis', 'main'], ['sqlite', 'main']] as const) mkdirSync(join(inst(e, n), 'data'), { recursive: true });
  // a SQLite database file, made by the same driver the engine uses
  const sqlite = spawnSync(process.execPath, ['-e', `const D = require('better-sqlite3'); const db = new D(process.argv[1]); db.exec('CREATE TABLE t (x)'); db.close();`, join(inst('sqlite', 'main'), 'data', 'app.db')], { cwd: join(CLI_SRC, '..', '..', '..', '..'), encoding: 'utf8' });
  assert.equal(sqlite.status, 0, sqlite.stderr);
  // "live": a process of ours whose postmaster.pid says ready, and the version it reported once
  const sleeper = spawn('sleep', ['300'], { stdio: 'ignore', detached: true });
  sleeper.unref();
  const pid = sleeper.pid!;
  const started = new Date().toISOString();
  const pgRun = join(inst('postgresql', 'live'), 'run');
  mkdirSync(pgRun, { recursive: true });
  writeFileSync(join(pgRun, 'server.pid'), JSON.stringify({ pid, started_at: started, program: 'sleep' }) + '\n');
  writeFileSync(join(inst('postgresql', 'live'), 'data', 'postmaster.pid'), [pid, join(inst('postgresql', 'live'), 'data'), '1700000000', '55999', pgRun, '127.0.0.1', '  1234   5678', 'ready   ', ''].join('\n'));
  writeFileSync(join(pgRun, 'server.pid.version'), JSON.stringify({ pid, started_at: started, version: '16.9' }) + '\n');
  const config = {
    databases: {
      postgresql: { ...entry('postgresql', 'main', { port: 55998 }), instances: { live: entry('postgresql', 'live', { port: 55999 }) } },
      redis: entry('redis', 'main', { port: 56379 }),
      sqlite: entry('sqlite', 'main'),
    },
  };
  writeFileSync(join(home, 'config.json'), JSON.stringify(config, null, 2), { mode: 0o600 });
  return { home, runningPid: pid, pgRun, stopSleeper: () => process.kill(pid, 'SIGKILL') };
}

test('status with instances: better-sqlite3 for the SQLite files; zod only for a config text not seen before; no driver for a running server whose version is known', async () => {
  const { home, runningPid, stopSleeper } = homeWithInstances();
  try {
    const first = await traced(CLI_SRC, ['status', '--json'], home);
    assert.equal(first.code, 0, first.stderr);
    const rows = JSON.parse(first.stdout) as { engine: string; instance: string; state: string; pid?: number; full_version?: string; details?: { databases?: { name: string; integrity?: string }[] } }[];
    const row = (e: string, n: string) => rows.find((r) => r.engine === e && r.instance === n);
    assert.equal(row('postgresql', 'main')?.state, 'stopped');
    assert.equal(row('redis', 'main')?.state, 'stopped');
    assert.equal(row('postgresql', 'live')?.state, 'running', 'postmaster.pid says ready for our pid');
    assert.equal(row('postgresql', 'live')?.pid, runningPid);
    assert.equal(row('postgresql', 'live')?.full_version, '16.9', 'the version reported once for this server process');
    assert.equal(row('sqlite', 'main')?.details?.databases?.[0]?.integrity, 'ok');
    assert.deepEqual(forbiddenIn(first.modules, ['zod', 'croner', 'better-sqlite3']).sort(), [], 'first run: zod (validating the new config text), better-sqlite3');
    assert.ok(packagesOf(first.modules).has('zod'), 'control: a config text not seen before is validated with zod');
    assert.ok(packagesOf(first.modules).has('better-sqlite3'), 'control: the SQLite quick_check loads its driver');

    assert.equal(statSync(join(home, 'config.json.validated')).mode & 0o777, 0o600, 'the remembered validation is private, like the config');
    const second = await traced(CLI_SRC, ['status', '--json'], home);
    assert.equal(second.code, 0, second.stderr);
    const withoutUptime = (list: object[]) => list.map((r) => ({ ...r, uptime_seconds: undefined }));
    assert.deepEqual(withoutUptime(JSON.parse(second.stdout)), withoutUptime(rows), 'the remembered validation gives the same answer');
    assert.deepEqual(forbiddenIn(second.modules, ['better-sqlite3']), [], 'second run: no zod, no pg, no redis');
  } finally {
    stopSleeper();
  }
});

test('status: a postmaster.pid of another pid, or not (yet) ready, is not running; a changed config text is validated again', async () => {
  const { home, runningPid, stopSleeper } = homeWithInstances();
  try {
    const live = join(home, 'instances', 'postgresql', 'live', 'data', 'postmaster.pid');
    const base = readFileSync(live, 'utf8');
    writeFileSync(live, base.replace('ready   ', 'starting'));
    const starting = JSON.parse((await traced(CLI_SRC, ['status', 'postgresql', '--instance', 'live', '--json'], home)).stdout) as { state: string }[];
    assert.equal(starting[0]?.state, 'unresponsive', 'starting is not ready');
    writeFileSync(live, base.replace(String(runningPid), String(runningPid + 100000)));
    const other = JSON.parse((await traced(CLI_SRC, ['status', 'postgresql', '--instance', 'live', '--json'], home)).stdout) as { state: string }[];
    assert.equal(other[0]?.state, 'unresponsive', "a dead server's file names another pid");

    // attack: a cached validation must not outlive an edit of the file that makes it invalid
    const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
    config.databases.redis.port = 'not-a-port';
    writeFileSync(join(home, 'config.json'), JSON.stringify(config, null, 2));
    const r = await traced(CLI_SRC, ['status', '--json'], home);
    const rows = JSON.parse(r.stdout) as { engine: string; instance: string; state: string; problem?: string }[];
    assert.equal(rows.find((x) => x.engine === 'redis')?.state, 'invalid');
    assert.match(rows.find((x) => x.engine === 'redis')?.problem ?? '', /port/);
    assert.ok(packagesOf(r.modules).has('zod'), 'the edited text was validated again');
    // attack: a forged cache entry (wrong key) is not taken for a validation
    writeFileSync(join(home, 'config.json.validated'), JSON.stringify({ entries: [{ key: 'forged', config: { databases: {} } }] }));
    const again = JSON.parse((await traced(CLI_SRC, ['status', '--json'], home)).stdout) as { engine: string; state: string }[];
    assert.equal(again.find((x) => x.engine === 'redis')?.state, 'invalid');
  } finally {
    stopSleeper();
  }
});
