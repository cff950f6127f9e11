/**
 * Speed and memory of the paths users feel: CLI start-up (drivers must load lazily), engine
 * loading, bounded paging of a 5,000-table schema, and the secret store. Prints a table.
 * Run: npm run build && npm run bench
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { page } from '../src/core/paging.js';
import { ENGINE_IDS } from '../src/engines/ids.js';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Before: the tsc output that loads every module from node_modules. After: the esbuild bundle the plugin ships. */
const BUILDS = [
  { label: 'tsc', script: join(DIST, 'src', 'cli', 'main.js') },
  { label: 'bundle', script: join(DIST, 'bundle', 'portunix-db.mjs') },
].filter((b) => existsSync(b.script));
const home = mkdtempSync(join(tmpdir(), 'pdb-bench-'));
const rows: { case: string; median_ms: string; peak_rss_mb: string; note: string }[] = [];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall time and peak RSS of a whole CLI run, via GNU time when present. */
function cli(label: string, args: string[], runs = 7): void {
  for (const b of BUILDS) cliWith(b.script, `${label} [${b.label}]`, args, runs);
}

function cliWith(script: string, label: string, args: string[], runs: number): void {
  const times: number[] = [];
  let rss = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, script, ...args], { env: { ...process.env, PORTUNIX_HOME: home }, encoding: 'utf8' });
    times.push(performance.now() - t0);
    const kb = Number(r.stderr.trim().split('\n').pop());
    if (Number.isFinite(kb)) rss = Math.max(rss, kb / 1024);
  }
  rows.push({ case: label, median_ms: median(times).toFixed(1), peak_rss_mb: rss ? rss.toFixed(1) : '-', note: `${runs} runs` });
}

async function inProcess(label: string, fn: () => Promise<unknown> | unknown, runs = 20, note = ''): Promise<void> {
  const times: number[] = [];
  const before = process.memoryUsage().rss;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  rows.push({ case: label, median_ms: median(times).toFixed(3), peak_rss_mb: ((process.memoryUsage().rss - before) / 1e6).toFixed(1) + ' (delta)', note: note || `${runs} runs` });
}

cli('portunix-db --version', ['--version']);
cli('portunix-db --help', ['--help']);
cli('portunix-db status (no instances)', ['status', '--json']);
cli('portunix-db install postgresql --dry-run --platform macos-arm64', ['install', 'postgresql', '--dry-run', '--platform', 'macos-arm64', '--json'], 3);

for (const id of ENGINE_IDS) {
  const t0 = performance.now();
  const { loadEngine } = await import('../src/engines/registry.js');
  await loadEngine(id);
  rows.push({ case: `load engine ${id} (first use)`, median_ms: (performance.now() - t0).toFixed(1), peak_rss_mb: '-', note: 'drivers not loaded until a connection' });
}

const tables = Array.from({ length: 5000 }, (_, i) => ({ schema: 'public', name: `table_${i}`, kind: 'table', rows: i * 10, sizeBytes: i * 8192 }));
await inProcess('page 5,000 tables (first page)', () => page(tables, { limit: 100 }), 50, `${Buffer.byteLength(JSON.stringify(page(tables).items))} bytes out of ${Buffer.byteLength(JSON.stringify(tables))}`);
await inProcess('walk all pages of 5,000 tables', () => {
  let cursor: string | undefined;
  let n = 0;
  do {
    const p = page(tables, cursor ? { cursor } : {});
    n += p.items.length;
    cursor = p.next_cursor;
  } while (cursor);
  return n;
}, 10);

process.env['PORTUNIX_HOME'] = home;
process.env['PORTUNIX_DB_SECRET_BACKEND'] = 'file';
const { getSecretStore } = await import('../src/core/secrets.js');
const store = getSecretStore();
let k = 0;
await inProcess('secret store set (encrypted file)', () => store.set(`k${k++}`, 'value-1234567890'), 20);
await inProcess('secret store get (encrypted file)', () => store.get('k1'), 50);

const width = (key: keyof (typeof rows)[number]) => Math.max(key.length, ...rows.map((r) => r[key].length));
const cols = ['case', 'median_ms', 'peak_rss_mb', 'note'] as const;
console.log(cols.map((c) => c.padEnd(width(c))).join('  '));
for (const r of rows) console.log(cols.map((c) => r[c].padEnd(width(c))).join('  '));
await import('./startup.js'); // issue 14: start-up, status with 4 instances, start/stop vs pg_ctl
if (process.argv.includes('--backup')) await import('./backup.js');
if (process.argv.includes('--backup-others')) await import('./backup-mariadb-redis.js'); // issue 14: MariaDB and Redis beside their raw tools
await import('./inspect.js'); // issue 14: inspection vs psql and DBHub
await import('./mcp-memory.js'); // issue 14: MCP server memory after 1,000 calls
