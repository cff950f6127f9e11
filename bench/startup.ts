/**
 * Issue 14's start-up goals, measured side by side in one run, interleaved:
 *   - `node -e 0`, `--version` and `status --json` with 4 instances (2 PostgreSQL 16, one of
 *     them running, and 2 SQLite), wall time and peak RSS, for the bundle and the tsc output;
 *   - `start` / `stop` of PostgreSQL 16 against raw `pg_ctl -w start` / `pg_ctl -w -m fast stop`
 *     on the same data dir, run as the same service user the tool runs postgres as.
 * Goals: status <= 3x node -e 0 and < 90 MB; start/stop <= pg_ctl + node -e 0 + 150 ms.
 * Run: npm run build && node dist/bench/startup.js   (npm run bench runs it too)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { freePort } from '../src/core/process/supervisor.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUILDS = [
  { label: 'bundle', script: join(DIST, 'bundle', 'portunix-db.mjs') },
  { label: 'tsc', script: join(DIST, 'src', 'cli', 'main.js') },
].filter((b) => existsSync(b.script));
const CLI = BUILDS[0]!.script;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const home = mkdtempSync(join(tmpdir(), 'pdb-bench-startup-'));
const env = { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: 'file' };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}


/** One timed run: wall ms and peak RSS (GNU time's %M), failing loudly so a broken case never looks fast. */
function timed(argv: string[], options: { uid?: number; gid?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): { ms: number; rssMb: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { env: options.env ?? env, encoding: 'utf8', cwd: options.cwd ?? tmpdir(), ...(options.uid !== undefined ? { uid: options.uid, gid: options.gid } : {}) });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} failed (${r.status}): ${r.stderr.slice(-800)}${r.stdout.slice(-400)}`);
  const kb = Number(r.stderr.trim().split('\n').pop());
  return { ms, rssMb: Number.isFinite(kb) ? kb / 1024 : NaN };
}

function cli(args: string[]): { ms: number; rssMb: number } {
  return timed([process.execPath, CLI, ...args]);
}

function setup(args: string[]): void {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [CLI, ...args, '--quiet', '--json'], { env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`set-up \`${args.join(' ')}\` failed: ${r.stdout}${r.stderr}`);
  console.log(`  ${args.join(' ')}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

console.log(`\n== Start-up and start/stop (issue 14), home ${home}, ${ROUNDS} interleaved rounds, CLI ${CLI}`);
console.log('set-up:');
const [pgPort, sparePort] = [await freePort(), await freePort()];
setup(['install', 'postgresql', '--version', '16', '--port', String(pgPort)]);
setup(['install', 'postgresql', '--version', '16', '--instance', 'spare', '--port', String(sparePort), '--no-start']);
setup(['install', 'sqlite', '--source', 'embedded', '--instance', 'a']);
setup(['install', 'sqlite', '--source', 'embedded', '--instance', 'b']);

const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')) as { databases: { postgresql: { bin_dir: string; lib_dir?: string; data_dir: string; run_as?: string } } };
const pg = config.databases.postgresql;
/** The tool runs postgres as its service user when it runs as root; pg_ctl runs as that same user. */
function serviceUser(name: string | undefined): { uid: number; gid: number } | undefined {
  if (!name || process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.split(':')[0] === name);
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid && gid ? { uid: Number(uid), gid: Number(gid) } : undefined;
}
const runAs = serviceUser(pg.run_as);
const pgEnv = { ...process.env, LC_ALL: 'C', LANG: 'C', ...(pg.lib_dir ? { LD_LIBRARY_PATH: pg.lib_dir } : {}) };
const pgCtl = (args: string[]) => timed([join(pg.bin_dir, 'pg_ctl'), '-D', pg.data_dir, ...args], { env: pgEnv, ...(runAs ?? {}) });
console.log(`  pg_ctl: ${join(pg.bin_dir, 'pg_ctl')} as ${runAs ? `${pg.run_as} (uid ${runAs.uid})` : 'this user'}, data dir ${pg.data_dir}`);
const status = JSON.parse(spawnSync(process.execPath, [CLI, 'status', '--json'], { env, encoding: 'utf8' }).stdout) as { engine: string; instance: string; state: string }[];
console.log(`  instances: ${status.map((s) => `${s.engine}/${s.instance} ${s.state}`).join(', ')}`);

const samples = new Map<string, { ms: number[]; rss: number[] }>();
function record(label: string, r: { ms: number; rssMb: number }): void {
  const s = samples.get(label) ?? { ms: [], rss: [] };
  s.ms.push(r.ms);
  s.rss.push(r.rssMb);
  samples.set(label, s);
}

try {
  for (let i = 0; i < ROUNDS; i++) {
    record('node -e 0', timed([process.execPath, '-e', '0']));
    for (const b of BUILDS) {
      record(`--version [${b.label}]`, timed([process.execPath, b.script, '--version']));
      record(`status --json, 4 instances [${b.label}]`, timed([process.execPath, b.script, 'status', '--json']));
    }
    // the instance runs at the start of each round; the tool's and pg_ctl's turns alternate on the one data dir
    record('portunix-db stop postgresql', cli(['stop', 'postgresql', '--json']));
    record('pg_ctl -w start', pgCtl(['-l', '/dev/null', '-w', 'start']));
    record('pg_ctl -w -m fast stop', pgCtl(['-w', '-m', 'fast', 'stop']));
    record('portunix-db start postgresql', cli(['start', 'postgresql', '--json']));
  }
} finally {
  spawnSync(process.execPath, [CLI, 'uninstall', 'postgresql', '--json'], { env });
  spawnSync(process.execPath, [CLI, 'uninstall', 'postgresql', '--instance', 'spare', '--json'], { env });
  rmSync(home, { recursive: true, force: true });
}

const med = (label: string) => median(samples.get(label)?.ms ?? []);
const peak = (label: string) => Math.max(...(samples.get(label)?.rss ?? [NaN]));
const node = med('node -e 0');
const rows: string[][] = [['case', 'median ms', 'peak RSS MB', 'against', 'goal', 'met']];
rows.push(['node -e 0', node.toFixed(0), peak('node -e 0').toFixed(1), '', '', '']);
for (const b of BUILDS) {
  const v = `--version [${b.label}]`;
  rows.push([v, med(v).toFixed(0), peak(v).toFixed(1), `${(med(v) / node).toFixed(2)}x node -e 0`, 'close to node -e 0', '']);
  const s = `status --json, 4 instances [${b.label}]`;
  const ok = med(s) <= 3 * node && peak(s) < 90;
  rows.push([s, med(s).toFixed(0), peak(s).toFixed(1), `${(med(s) / node).toFixed(2)}x node -e 0`, '<= 3x, < 90 MB', ok ? 'yes' : 'NO']);
}
for (const [tool, raw] of [['portunix-db start postgresql', 'pg_ctl -w start'], ['portunix-db stop postgresql', 'pg_ctl -w -m fast stop']] as const) {
  const budget = med(raw) + node + 150;
  rows.push([raw, med(raw).toFixed(0), peak(raw).toFixed(1), '', '', '']);
  rows.push([tool, med(tool).toFixed(0), peak(tool).toFixed(1), `${(med(tool) / med(raw)).toFixed(2)}x raw; ${(med(tool) - med(raw) - node).toFixed(0)} ms over raw + node`, `<= ${budget.toFixed(0)} ms (raw + node + 150)`, med(tool) <= budget ? 'yes' : 'NO']);
}
const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
