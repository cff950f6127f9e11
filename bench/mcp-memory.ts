/**
 * Memory of the long-running MCP server (issue 14): `mcp serve` over stdio, driven by the SDK
 * client, 1,000 mixed calls against a real PostgreSQL 16 (portable, installed into a fresh home)
 * with 2,000 tables; RSS after 100 and 1,000 calls and the peak (VmHWM) from /proc, against the
 * goal of 150 MB. With DBHub provisioned (the test servers' upstream cache), DBHub's own process
 * (the upstream `mcp serve --with dbhub` starts) after the same number of calls, in the same run.
 * Opt-in (`npm run bench`), never in the test suite.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI, cliOk, freshHome, runCli } from '../test/helpers/cli.js';
import { pgClient } from '../test/helpers/pg.js';
import { freePort, mcpEnv } from '../test/helpers/mcp.js';
import { dbhubCache } from '../test/helpers/query.js';

const GOAL_MB = 150;
const CALLS = 1000;
const TABLES = 2000;
const home = freshHome('bench-mcp-memory');

/** RSS and peak RSS (VmHWM) of a process, in MB. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) / 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function serve(extra: string[], env: Record<string, string> = {}): Promise<{ client: Client; pid: number }> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', 'serve', ...extra], env: { ...mcpEnv(home), ...env }, stderr: 'ignore' });
  const client = new Client({ name: 'bench-mcp-memory', version: '0' });
  await client.connect(transport);
  return { client, pid: transport.pid! };
}

/** The calls an assistant makes while exploring: status, lists, pages walked with their cursor, details, a query, performance. */
function mixedCalls(): (cursor: string | undefined) => [string, Record<string, unknown>][] {
  const pg = { type: 'postgresql' };
  return (cursor) => [
    ['db_status', {}],
    ['db_list', pg],
    ['db_tables', { ...pg, database: 'big', limit: 100, ...(cursor ? { cursor } : {}) }],
    ['db_table_info', { ...pg, database: 'big', table: 't_00042' }],
    ['db_schema', { ...pg, database: 'big', limit: 100 }],
    ['db_query', { ...pg, database: 'big', query: 'SELECT count(*) AS n FROM pg_class' }],
    ['db_performance', pg],
    ['db_size', pg],
  ];
}

console.error(`set-up: PostgreSQL 16 (portable) with ${TABLES} tables in ${home}; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
const port = await freePort();
await cliOk(['install', 'postgresql', '--version', '16', '--source', 'portable', '--port', String(port), '-q'], { home });
await cliOk(['create', 'big', '--type', 'postgresql', '-q'], { home });
const admin = await pgClient(home, 'main', 'big');
for (let b = 0; b < TABLES / 1000; b++) await admin.query(`DO $$ BEGIN FOR i IN ${b * 1000}..${b * 1000 + 999} LOOP EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, name text)', 't_' || lpad(i::text, 5, '0')); END LOOP; END $$`);
await admin.end();

const rows: string[][] = [];
try {
  const ours = await serve(['--idle-timeout', '300']);
  const start = memoryOf(ours.pid).rss;
  const calls = mixedCalls();
  let cursor: string | undefined;
  let after100 = NaN;
  let errors = 0;
  for (let i = 0; i < CALLS; ) {
    for (const [name, args] of calls(cursor)) {
      const r = await ours.client.callTool({ name, arguments: args });
      if (r.isError) errors++;
      if (name === 'db_tables') cursor = (r.structuredContent as { next_cursor?: string } | undefined)?.next_cursor;
      if (++i === 100) after100 = memoryOf(ours.pid).rss;
      if (i === CALLS) break;
    }
  }
  const end = memoryOf(ours.pid);
  await ours.client.close();
  if (errors) console.error(`portunix-db: ${errors} of ${CALLS} calls failed`);
  rows.push(['portunix-db mcp serve', `${start.toFixed(0)} MB`, `${after100.toFixed(0)} MB`, `${end.rss.toFixed(0)} MB`, `${end.peak.toFixed(0)} MB`, end.rss < GOAL_MB && end.peak < GOAL_MB ? `met (< ${GOAL_MB} MB)` : `NOT met (< ${GOAL_MB} MB)`]);

  const cache = dbhubCache();
  if (cache) {
    const hub = await serve(['--with', 'dbhub', '--target', 'postgresql/main/big', '--idle-timeout', '300'], { PORTUNIX_DB_UPSTREAM_CACHE: cache });
    const tool = (await hub.client.listTools()).tools.find((t) => t.name.endsWith('execute_sql'));
    // DBHub's process: the upstream node process our server started (the newest child)
    const dbhubPid = childrenOf(hub.pid).pop();
    if (tool && dbhubPid) {
      const hubStart = memoryOf(dbhubPid).rss;
      let hub100 = NaN;
      for (let i = 1; i <= CALLS; i++) {
        await hub.client.callTool({ name: tool.name, arguments: { sql: 'SELECT count(*) AS n FROM pg_class' } });
        if (i === 100) hub100 = memoryOf(dbhubPid).rss;
      }
      const hubEnd = memoryOf(dbhubPid);
      rows.push([`DBHub (${tool.name}, its own process)`, `${hubStart.toFixed(0)} MB`, `${hub100.toFixed(0)} MB`, `${hubEnd.rss.toFixed(0)} MB`, `${hubEnd.peak.toFixed(0)} MB`, '-']);
    } else rows.push(['DBHub', '-', '-', '-', '-', 'its execute_sql tool or process not found']);
    await hub.client.close();
  } else rows.push(['DBHub', '-', '-', '-', '-', 'not provisioned (test servers: dbhub)']);
} finally {
  await runCli(['stop', 'postgresql'], { home });
}

console.log(`\nMCP server memory, ${CALLS} mixed calls (db_status, db_list, db_tables paged on, db_table_info, db_schema, db_query, db_performance, db_size)`);
console.log(`| server | RSS at start | after 100 calls | after ${CALLS} | peak | goal |\n|---|---|---|---|---|---|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}`);
console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
