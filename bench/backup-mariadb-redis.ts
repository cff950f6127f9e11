/**
 * MariaDB and Redis backups (and MariaDB restore / verify) beside the raw tools, measured in the
 * same run as interleaved pairs: ours, raw, raw, ours, ... so both sides share the machine's
 * load (it is shared with other work: the load average is printed with every case). Opt-in and
 * slow: never part of the test suite (issue 14).
 *   npm run build && npm run bench -- --backup-others [--rows N] [--pairs N] [--cases backup,restore,verify,redis]
 * BENCH_CLI: the CLI script to measure (default the shipped bundle, dist/bundle/portunix-db.mjs).
 * --rows: MariaDB rows (~560 bytes of SQL each, as in the issue) and Redis keys; default 1,000,000.
 * Needs Debian's mariadb-server/-client and redis-server/-tools packages (`install ... --source apt`).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}
const ROWS = Number(option('rows', process.env['BENCH_ROWS'] ?? '1000000'));
const PAIRS = Number(option('pairs', process.env['BENCH_PAIRS'] ?? '3'));
const CASES = new Set(option('cases', 'backup,restore,verify,redis').split(','));
// the bundle is what ships (package.json bin); BENCH_CLI may name another build of the CLI (dist/src/cli/main.js: tsc's output)
const CLI = process.env['BENCH_CLI'] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'bundle', 'portunix-db.mjs');
const HOME = mkdtempSync(join(tmpdir(), 'pdb-bench-others-'));
const ENV = { ...process.env, PORTUNIX_HOME: HOME, PORTUNIX_DB_SECRET_BACKEND: 'file', NO_COLOR: '1' };
const table: { case: string; ours: string; raw: string; ratio: string; goal: string; runs: string }[] = [];
const load = () => loadavg().map((l) => l.toFixed(1)).join(' ');

function run(argv: string[], env: NodeJS.ProcessEnv = ENV): string {
  const r = spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${argv.slice(0, 4).join(' ')} ... exited ${r.status}: ${String(r.stderr).slice(-1500)}`);
  return r.stdout;
}
const tool = (...args: string[]) => run([process.execPath, CLI, ...args]);
const toolJson = (...args: string[]) => JSON.parse(tool(...args, '--json')) as Record<string, unknown>;

function seconds(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return (performance.now() - t0) / 1000;
}
function mid(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = Math.floor(s.length / 2);
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
}
async function portFree(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** PAIRS interleaved pairs, the side that goes first alternating; `reset` runs after every measurement (not timed). */
function interleaved(label: string, goal: string, goalRatio: number, ours: (i: number) => void, raw: (i: number) => void, reset: () => void): void {
  const o: number[] = [];
  const r: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const sides: [number[], (i: number) => void][] = i % 2 ? [[r, raw], [o, ours]] : [[o, ours], [r, raw]];
    for (const [into, fn] of sides) {
      into.push(seconds(() => fn(i)));
      reset();
    }
  }
  const ratio = mid(o) / mid(r);
  table.push({ case: label, ours: `${mid(o).toFixed(2)} s`, raw: `${mid(r).toFixed(2)} s`, ratio: `${ratio.toFixed(2)}×`, goal: `${goal} ${ratio <= goalRatio ? 'met' : 'NOT met'}`, runs: `ours ${o.map((x) => x.toFixed(1)).join('/')}, raw ${r.map((x) => x.toFixed(1)).join('/')}; load ${load()}` });
  console.error(`bench: ${label}: ours ${mid(o).toFixed(2)} s, raw ${mid(r).toFixed(2)} s (load ${load()})`);
}

function emptied(dir: string): string {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

console.error(`bench: ${CLI}; PORTUNIX_HOME ${HOME}; ${ROWS} rows/keys; ${PAIRS} interleaved pairs; 2-core machine shared with other work, load ${load()}`);

if (['backup', 'restore', 'verify'].some((c) => CASES.has(c))) {
  tool('install', 'mariadb', '--version', '10.11', '--source', 'apt', '--instance', 'bench', '--port', String(await portFree()), '-q');
  tool('create', 'bench', '--type', 'mariadb', '--instance', 'bench', '-q');
  const url = new URL(toolJson('url', 'mariadb', '--instance', 'bench', '--show-password')['url'] as string);
  const ca = toolJson('url', 'mariadb', '--instance', 'bench')['ca_cert'] as string;
  const client = ['--host=127.0.0.1', `--port=${url.port}`, '--user=root', '--ssl', `--ssl-ca=${ca}`];
  const myEnv = { ...ENV, MYSQL_PWD: decodeURIComponent(url.password) };
  const sql = (db: string | undefined, text: string) => run(['mariadb', ...client, ...(db ? [db] : []), '-e', text], myEnv);
  // ~560 bytes of dump text a row, as in the measurement
  const loadS = seconds(() => sql('bench', `CREATE TABLE t (id INT PRIMARY KEY, k INT, v VARCHAR(600), at DATETIME) ENGINE=InnoDB; INSERT INTO t SELECT seq, seq % 1000, REPEAT(MD5(seq), 16), '2026-01-01' + INTERVAL seq SECOND FROM seq_1_to_${ROWS};`));
  const ours = join(HOME, 'my-ours');
  const raw = join(HOME, 'my-raw');
  const rawDump = (file: string) => run(['bash', '-c', `mariadb-dump ${client.join(' ')} --single-transaction --routines --triggers --events --hex-blob bench | gzip -6 > ${file}`], myEnv);
  rawDump(join(emptied(raw), 'probe.sql.gz'));
  const sqlBytes = Number(run(['bash', '-c', `zcat ${join(raw, 'probe.sql.gz')} | wc -c`]).trim());
  console.error(`bench: MariaDB 10.11, ${ROWS} rows loaded in ${loadS.toFixed(1)} s; ${(sqlBytes / 1e6).toFixed(0)} MB of SQL, ${(statSync(join(raw, 'probe.sql.gz')).size / 1e6).toFixed(0)} MB gzipped by gzip -6`);
  if (CASES.has('backup')) {
    interleaved(`MariaDB backup, ${ROWS} rows (${(sqlBytes / 1e6).toFixed(0)} MB SQL), manifest included`, '≤ 1.1×', 1.1, () => tool('backup', 'bench', '--type', 'mariadb', '--instance', 'bench', '--destination', ours, '-q'), (i) => rawDump(join(raw, `raw${i}.sql.gz`)), () => {
      emptied(ours);
      emptied(raw);
    });
  }
  if (CASES.has('restore') || CASES.has('verify')) {
    tool('backup', 'bench', '--type', 'mariadb', '--instance', 'bench', '--destination', emptied(ours), '-q');
    const file = join(ours, readdirSync(ours).find((f) => f.endsWith('.sql.gz'))!);
    const rawLoad = (db: string) => {
      sql(undefined, `CREATE DATABASE ${db}`);
      run(['bash', '-c', `zcat ${file} | mariadb ${client.join(' ')} --binary-mode ${db}`], myEnv);
    };
    const drop = () => sql(undefined, 'DROP DATABASE IF EXISTS r_ours; DROP DATABASE IF EXISTS r_raw');
    if (CASES.has('restore')) interleaved('MariaDB restore --target (fingerprints checked)', 'report', Infinity, () => tool('restore', file, '--instance', 'bench', '--target', 'r_ours', '-q'), () => rawLoad('r_raw'), drop);
    if (CASES.has('verify')) interleaved('MariaDB backup verify (scratch server + fingerprints)', 'report', Infinity, () => tool('backup', 'verify', file, '-q'), () => rawLoad('r_raw'), drop);
  }
  tool('stop', 'mariadb', '--instance', 'bench', '-q');
}

if (CASES.has('redis')) {
  tool('install', 'redis', '--version', '7.0', '--source', 'apt', '--instance', 'bench', '--port', String(await portFree()), '-q');
  const url = new URL(toolJson('url', 'redis', '--instance', 'bench', '--show-password')['url'] as string);
  const ca = toolJson('url', 'redis', '--instance', 'bench')['ca_cert'] as string;
  const cli = ['redis-cli', '-h', '127.0.0.1', '-p', url.port, '--user', 'default', '--no-auth-warning', ...(url.protocol === 'rediss:' ? ['--tls', '--cacert', ca] : [])];
  const rEnv = { ...ENV, REDISCLI_AUTH: decodeURIComponent(url.password) };
  run([...cli, 'EVAL', "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'key:' .. i, string.rep('x', 64)) end return 1", '0', String(ROWS)], rEnv);
  // as in the issue: the raw side without the 5 s wait for more replicas
  run([...cli, 'CONFIG', 'SET', 'repl-diskless-sync-delay', '0'], rEnv);
  const ours = join(HOME, 'r-ours');
  const raw = join(HOME, 'r-raw');
  emptied(raw);
  interleaved(`Redis 7.0 backup, ${ROWS} keys, manifest included`, 'ahead (≤ 1.0×)', 1, () => tool('backup', '0', '--type', 'redis', '--instance', 'bench', '--destination', ours, '-q'), (i) => run([...cli, '--rdb', join(raw, `raw${i}.rdb`)], rEnv), () => {
    emptied(ours);
    emptied(raw);
  });
  tool('stop', 'redis', '--instance', 'bench', '-q');
}

const cols = ['case', 'ours', 'raw', 'ratio', 'goal', 'runs'] as const;
const width = (c: (typeof cols)[number]) => Math.max(c.length, ...table.map((r) => r[c].length));
console.log(`\nMariaDB / Redis backup bench: ${PAIRS} interleaved pairs, medians, raw tools measured in the same run; load average now ${load()}`);
console.log(cols.map((c) => c.padEnd(width(c))).join('  '));
for (const r of table) console.log(cols.map((c) => r[c].padEnd(width(c))).join('  '));
rmSync(HOME, { recursive: true, force: true });
