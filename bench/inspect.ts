/**
 * Inspection at catalog speed, side by side (issue 14): a real PostgreSQL 16 with 10,000 tables.
 * Interleaved pairs, medians, ratios; set-up, sizes and the load average printed. Opt-in
 * (`npm run bench`), never in the test suite.
 *  - `tables --json` (first page of 1,000) vs `node -e 0` + psql running the same catalog query
 *  - MCP db_tables warm page (pooled) vs DBHub's search_objects (wrapped by `mcp serve --with dbhub`) when provisioned
 *  - tools/list bytes, ours vs DBHub's (when provisioned)
 *  - `status --json` time and RSS vs `node -e 0`; MCP server RSS after 1,000 mixed calls
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { readFileSync } from 'node:fs';
import { CLI, cliOk, freshHome, runCli } from '../test/helpers/cli.js';
import { pgClient, pgUrl } from '../test/helpers/pg.js';
import { freePort, mcpEnv } from '../test/helpers/mcp.js';
import { dbhubCache } from '../test/helpers/query.js';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 5);
const TABLES = 10_000;
const home = freshHome('bench-inspect');
const rows: string[][] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (n: number) => `${n.toFixed(1)} ms`;

function timed(cmd: string, args: string[], env: Record<string, string> = {}): { ms: number; rssMb: number } {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', cmd, ...args], { env: { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: 'file', ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  const t = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return { ms: t, rssMb: Number(r.stderr.trim().split('\n').pop()) / 1024 };
}

async function rssOf(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function mcp(extra: string[], env: Record<string, string> = {}): Promise<{ client: Client; pid: number }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', 'serve', ...extra], env: { ...mcpEnv(home), ...env }, stderr: 'ignore' });
  const client = new Client({ name: 'bench', version: '0' });
  await client.connect(transport);
  return { client, pid: transport.pid! };
}

async function callMs(client: Client, name: string, args: Record<string, unknown>): Promise<number> {
  const t0 = performance.now();
  const r = await client.callTool({ name, arguments: args });
  if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
  return performance.now() - t0;
}

console.error(`set-up: PostgreSQL 16 (portable) with ${TABLES} tables in ${home}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const port = await freePort();
await cliOk(['install', 'postgresql', '--version', '16', '--source', 'portable', '--port', String(port), '-q'], { home });
await cliOk(['create', 'big', '--type', 'postgresql', '-q'], { home });
const admin = await pgClient(home, 'main', 'big');
for (let b = 0; b < TABLES / 1000; b++) await admin.query(`DO $$ BEGIN FOR i IN ${b * 1000}..${b * 1000 + 999} LOOP EXECUTE format('CREATE TABLE %I (id int)', 't_' || lpad(i::text, 5, '0')); END LOOP; END $$`);
await admin.end();
const url = await pgUrl(home, 'main', 'big');
const CATALOG = `SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname !~ '^pg_' ORDER BY 1, 2`;

try {
  // CLI tables --json vs node -e 0 + psql
  const ours: number[] = [];
  const raw: number[] = [];
  const node0: number[] = [];
  for (let i = 0; i < PAIRS; i++) {
    ours.push(timed(process.execPath, [CLI, 'tables', 'big', '--type', 'postgresql', '--json', '--limit', '1000']).ms);
    const n = timed(process.execPath, ['-e', '0']).ms;
    node0.push(n);
    raw.push(n + timed('psql', [url, '-Atc', CATALOG]).ms);
  }
  rows.push(['`tables --json`, 10,000 tables, a page of 1,000', ms(median(ours)), `node -e 0 + psql catalog query ${ms(median(raw))}`, `${(median(ours) / median(raw)).toFixed(2)}×`]);

  // status --json vs node -e 0
  const st: number[] = [];
  const n0: number[] = [];
  let stRss = 0;
  let nRss = 0;
  for (let i = 0; i < PAIRS; i++) {
    const a = timed(process.execPath, [CLI, 'status', '--json']);
    st.push(a.ms);
    stRss = Math.max(stRss, a.rssMb);
    const b = timed(process.execPath, ['-e', '0']);
    n0.push(b.ms);
    nRss = Math.max(nRss, b.rssMb);
  }
  rows.push(['`status --json` (1 instance)', `${ms(median(st))}, ${stRss.toFixed(0)} MB`, `node -e 0 ${ms(median(n0))}, ${nRss.toFixed(0)} MB`, `${(median(st) / median(n0)).toFixed(2)}×`]);

  // MCP warm page, tools/list, memory
  const ourServer = await mcp(['--idle-timeout', '300']);
  const page = { type: 'postgresql', database: 'big', limit: 100 };
  await callMs(ourServer.client, 'db_tables', page);
  const listed = await ourServer.client.listTools();
  const ourBytes = Buffer.byteLength(JSON.stringify(listed));
  const cache = dbhubCache();
  const hub = cache ? await mcp(['--with', 'dbhub', '--target', 'postgresql/main/big', '--idle-timeout', '300'], { PORTUNIX_DB_UPSTREAM_CACHE: cache }) : undefined;
  const hubTool = hub ? (await hub.client.listTools()).tools.find((t) => t.name.endsWith('search_objects')) : undefined;
  const warm: number[] = [];
  const peer: number[] = [];
  for (let i = 0; i < PAIRS * 4; i++) {
    warm.push(await callMs(ourServer.client, 'db_tables', page));
    if (hub && hubTool) peer.push(await callMs(hub.client, hubTool.name, { object_type: 'table', pattern: '%', limit: 100 }).catch(() => NaN));
  }
  rows.push(['MCP db_tables warm page of 100 (pooled)', ms(median(warm)), hubTool ? `DBHub ${hubTool.name} (wrapped) ${ms(median(peer))}` : 'DBHub not provisioned', hubTool ? `${(median(warm) / median(peer)).toFixed(2)}×` : '-']);
  rows.push(['tools/list, 15 tools (admin: 12 read-only here)', `${ourBytes} bytes (${listed.tools.length} tools)`, 'DBHub: see its 2-tool list', '-']);
  const mixed = [['db_tables', page], ['db_status', {}], ['db_list', { type: 'postgresql' }], ['db_table_info', { type: 'postgresql', database: 'big', table: 't_00001' }], ['db_size', { type: 'postgresql' }]] as const;
  for (let i = 0; i < 1000; i++) await callMs(ourServer.client, mixed[i % mixed.length]![0], mixed[i % mixed.length]![1]);
  rows.push(['MCP server RSS after 1,000 mixed calls', `${(await rssOf(ourServer.pid)).toFixed(0)} MB`, '-', '-']);
  await ourServer.client.close();
  await hub?.client.close();
} finally {
  await runCli(['stop', 'postgresql'], { home });
}

console.log(`| what | portunix-db | raw / peer | ratio |\n|---|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}`);
console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${PAIRS} interleaved pairs`);
