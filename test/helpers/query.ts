/**
 * Shared pieces of the read-only query tests: the MCP server with DBHub wrapped, the audit log,
 * the upstream child's pid, and the bypass lists of issue 13.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI } from './cli.js';
import { call, mcpEnv, text } from './mcp.js';
import { testServer } from '../servers/cache.js';

/** The upstream cache the dbhub test server was provisioned into, or undefined (skip) when it was not. */
export function dbhubCache(): string | undefined {
  return testServer('dbhub')?.extra?.['upstreamCache'];
}

/** `mcp serve [...extra]` over stdio with the upstream cache set; returns the client and the server's pid. */
export async function serve(home: string, extra: string[], upstreamCache?: string): Promise<{ client: Client; pid: number }> {
  const env = { ...mcpEnv(home), ...(upstreamCache ? { PORTUNIX_DB_UPSTREAM_CACHE: upstreamCache } : {}) };
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', 'serve', ...extra], env, stderr: 'ignore' });
  const client = new Client({ name: 'query-integration', version: '0' });
  await client.connect(transport);
  return { client, pid: transport.pid! };
}

/** Children of `pid` whose command line matches. */
export function childPids(pid: number, match: RegExp): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(join('/proc', d, 'stat'), 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      if (match.test(readFileSync(join('/proc', d, 'cmdline'), 'utf8').replace(/\0/g, ' '))) out.push(Number(d));
    } catch {
      /* gone */
    }
  }
  return out;
}

export interface AuditLine {
  action: string;
  ok: boolean;
  query?: string;
  detail?: string;
  engine?: string;
  upstream?: string;
}

export function auditLines(home: string): AuditLine[] {
  try {
    return readFileSync(join(home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditLine);
  } catch {
    return [];
  }
}

/**
 * Runs each bypass through `tool` (db_query or an upstream's SQL tool) and checks that it fails
 * with the database's own refusal (`refusal` matches the text) and that the audit log has a
 * failed entry with that query text.
 */
export async function expectRefused(home: string, client: Client, tool: string, args: (sql: string) => Record<string, unknown>, cases: { sql: string; refusal: RegExp }[]): Promise<void> {
  for (const c of cases) {
    const r = await call(client, tool, args(c.sql));
    assert.equal(r.isError, true, `${tool} should refuse ${c.sql}: ${text(r)}`);
    assert.match(text(r), c.refusal, `${tool}: ${c.sql}`);
    const logged = auditLines(home).filter((l) => l.query === c.sql && l.ok === false);
    assert.ok(logged.length > 0, `the refusal of ${c.sql} through ${tool} is audited`);
  }
}

/** PostgreSQL bypasses of issue 13 (and the refusal PostgreSQL answers each with). */
export const PG_BYPASSES = [
  { sql: "SELECT pg_read_file('/etc/passwd')", refusal: /permission denied for function pg_read_file/ },
  { sql: "SELECT lo_import('/etc/passwd')", refusal: /permission denied for function lo_import/ },
  { sql: "SELECT lo_export(lo_from_bytea(0, 'x'), '/tmp/portunix-q-lo')", refusal: /permission denied for function lo_(from_bytea|export)/ },
  { sql: "SET default_transaction_read_only = off; SELECT lo_from_bytea(0, 'x')", refusal: /permission denied for function lo_from_bytea/ },
  { sql: "COPY (SELECT 1) TO PROGRAM 'touch /tmp/portunix-q-pwned'", refusal: /permission denied to COPY to or from an external program|must be superuser/ },
  { sql: 'COMMIT; DROP TABLE users', refusal: /read-only transaction|must be owner/ },
  { sql: "SET default_transaction_read_only = off; INSERT INTO users (email) VALUES ('evil@x.test')", refusal: /read-only transaction|permission denied for table users/ },
  { sql: "WITH gone AS (DELETE FROM users RETURNING *) SELECT count(*) FROM gone", refusal: /read-only transaction|permission denied for table users/ },
  { sql: 'SET default_transaction_read_only = off; CREATE TABLE public.evil (x int)', refusal: /read-only transaction|permission denied for schema public/ },
];

/** MariaDB/MySQL bypasses of issue 13. LOAD_FILE without FILE answers NULL, checked separately. */
export const MYSQL_BYPASSES = [
  { sql: '/*! DROP TABLE users */', refusal: /DROP command denied/ },
  { sql: "SELECT 1 /*!, (SELECT 1) */; /*! INSERT INTO users (email) VALUES ('evil@x.test') */", refusal: /INSERT command denied/ },
  // with its own LIMIT: DBHub appends "LIMIT max_rows" to a SELECT without one, which would make this a syntax error
  { sql: "SELECT email FROM users LIMIT 1 INTO OUTFILE '/tmp/portunix-q-outfile'", refusal: /Access denied|FILE privilege/ },
  { sql: 'COMMIT; DROP TABLE users', refusal: /DROP command denied/ },
  { sql: 'WITH x AS (SELECT 1) DELETE FROM users', refusal: /DELETE command denied|syntax/ },
  { sql: "UPDATE users SET email = 'evil@x.test'", refusal: /UPDATE command denied/ },
  { sql: 'SELECT * FROM mysql.user', refusal: /SELECT command denied/ },
];
