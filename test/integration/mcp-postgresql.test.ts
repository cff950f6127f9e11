/**
 * The MCP face end to end: a real PostgreSQL 16 (portable, installed by the CLI into a fresh
 * PORTUNIX_HOME), the built CLI's `mcp serve` spawned over stdio by the SDK client, one HTTP
 * server with a bearer token, and the CLI client (`mcp call`, `mcp config`).
 * Covers issue 3's "done when": status of every instance; tables with sizes; a table's
 * structure, indexes and constraints; active connections; with --allow-write a backup that
 * then shows in db_backup_status.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CLI, cliOk, freshHome, runCli } from '../helpers/cli.js';
import { pgClient } from '../helpers/pg.js';
import { call, freePort, mcpEnv, ok, stdioClient as stdioClientFor, text } from '../helpers/mcp.js';

const home = freshHome('mcp');
const opts = { home };
const env = mcpEnv(home);

async function stdioClient(extra: string[] = []): Promise<Client> {
  return stdioClientFor(home, extra);
}

const PG = { type: 'postgresql' };
let rw: Client;
let ro: Client;
let held: pg.Client;

describe('mcp over stdio against a real PostgreSQL 16', () => {
  before(async () => {
    const port = await freePort();
    await cliOk(['install', 'postgresql', '--version', '16', '--source', 'portable', '--port', String(port), '-q'], opts);
    await cliOk(['create', 'app', '--type', 'postgresql', '-q'], opts);
    const c = await pgClient(home, 'main', 'app');
    await c.query(`
      CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL UNIQUE, age int CHECK (age >= 0));
      COMMENT ON COLUMN users.email IS 'login';
      CREATE TABLE orders (id serial PRIMARY KEY, user_id int NOT NULL REFERENCES users(id) ON DELETE CASCADE, total numeric(10,2));
      CREATE INDEX orders_user_idx ON orders(user_id);
      CREATE INDEX orders_user_idx2 ON orders(user_id);
      INSERT INTO users (email, age) SELECT 'u' || g || '@x.test', g % 90 FROM generate_series(1, 500) g;
      INSERT INTO orders (user_id, total) SELECT 1 + g % 500, g FROM generate_series(1, 2000) g;
      ANALYZE;
    `);
    await c.end();
    // one connection the tools must see, with a recognisable last query
    held = await pgClient(home, 'main', 'app');
    held.on('error', () => undefined); // a restore or stop later ends this connection
    await held.query("SELECT 'mcp-marker' AS marker");
    rw = await stdioClient(['--allow-write']);
    ro = await stdioClient();
  });

  after(async () => {
    await held?.end().catch(() => undefined);
    await rw?.close().catch(() => undefined);
    await ro?.close().catch(() => undefined);
    await runCli(['stop', 'postgresql'], opts);
  });

  it('read-only by default: 12 tools (db_query among them), no write tools', async () => {
    const names = (await ro.listTools()).tools.map((t) => t.name);
    assert.equal(names.length, 12);
    for (const w of ['db_backup_create', 'db_restore', 'db_vacuum']) assert.ok(!names.includes(w), w);
    assert.equal((await rw.listTools()).tools.length, 15);
    const r = await call(ro, 'db_backup_create', { ...PG, database: 'app' });
    assert.equal(r.isError, true);
  });

  it('db_status without type reports every instance', async () => {
    const { s, text: t } = await ok(ro, 'db_status');
    assert.equal(s.instances.length, 1);
    const pgi = s.instances[0];
    assert.equal(pgi.engine, 'postgresql');
    assert.equal(pgi.state, 'running');
    assert.match(pgi.full_version, /^16\./);
    assert.equal(typeof pgi.port, 'number');
    assert.equal(typeof pgi.uptime_seconds, 'number');
    assert.match(t, /postgresql\/main\s+running\s+16\./);
  });

  it('db_list and db_size', async () => {
    const { s } = await ok(ro, 'db_list', PG);
    assert.ok(s.items.some((d: { name: string }) => d.name === 'app'));
    const size = await ok(ro, 'db_size', { ...PG, database: 'app' });
    assert.equal(size.s.items[0].name, 'app');
    assert.ok(size.s.items[0].sizeBytes > 0);
    assert.ok(size.s.total_bytes >= size.s.items[0].sizeBytes);
  });

  it('db_tables with sizes, paged', async () => {
    const { s, text: t } = await ok(ro, 'db_tables', { ...PG, database: 'app', include_sizes: true });
    const users = s.items.find((x: { name: string }) => x.name === 'users');
    assert.ok(users, t);
    assert.equal(users.rows, 500);
    assert.ok(users.sizeBytes > 0);
    assert.match(t, /TABLE\s+KIND\s+ROWS\s+SIZE/);
    const first = await ok(ro, 'db_tables', { ...PG, database: 'app', limit: 1 });
    assert.equal(first.s.items.length, 1);
    assert.equal(first.s.truncated, true);
    const second = await ok(ro, 'db_tables', { ...PG, database: 'app', limit: 1, cursor: first.s.next_cursor });
    assert.notEqual(second.s.items[0].name, first.s.items[0].name);
  });

  it("a table's structure, indexes and constraints", async () => {
    const info = await ok(ro, 'db_table_info', { ...PG, database: 'app', table: 'users' });
    assert.deepEqual(info.s.columns.map((c: { name: string }) => c.name), ['id', 'email', 'age']);
    assert.equal(info.s.columns.find((c: { name: string }) => c.name === 'email').nullable, false);
    assert.equal(info.s.columns.find((c: { name: string }) => c.name === 'email').comment, 'login');
    assert.deepEqual(info.s.primaryKey, ['id']);
    const idx = await ok(ro, 'db_indexes', { ...PG, database: 'app', table: 'orders' });
    const names = idx.s.items.map((i: { name: string }) => i.name);
    assert.ok(names.includes('orders_pkey') && names.includes('orders_user_idx'), names.join());
    assert.ok(idx.s.items.some((i: { duplicateOf?: string }) => i.duplicateOf), 'the duplicate index is flagged');
    assert.ok(idx.s.items.every((i: { scans?: number }) => typeof i.scans === 'number'));
    const con = await ok(ro, 'db_constraints', { ...PG, database: 'app' });
    const fk = con.s.items.find((c: { type: string }) => c.type === 'foreign key');
    assert.equal(fk.table, 'orders');
    assert.equal(fk.references.table, 'users');
    assert.deepEqual(fk.references.columns, ['id']);
    const types = new Set(con.s.items.map((c: { type: string }) => c.type));
    for (const t of ['primary key', 'unique', 'check']) assert.ok(types.has(t), t);
    assert.match(con.text, /-> (public\.)?users\(id\)/);
    const schema = await ok(ro, 'db_schema', { ...PG, database: 'app' });
    assert.ok(schema.s.schemas.some((x: { name: string }) => x.name === 'public'));
    assert.ok(schema.s.objects.items.some((o: { name: string }) => o.name === 'orders'));
  });

  it('db_connections shows the open client', async () => {
    const { s } = await ok(ro, 'db_connections', PG);
    const mine = s.items.find((c: { query?: string }) => c.query?.includes('mcp-marker'));
    assert.ok(mine, JSON.stringify(s.items));
    assert.equal(mine.database, 'app');
    assert.equal(mine.user, 'postgres');
  });

  it('db_performance: cache hit ratio, then rates on the next sample', async () => {
    const a = await ok(ro, 'db_performance', { ...PG, database: 'app' });
    assert.ok('cache_hit_ratio' in a.s.gauges, JSON.stringify(a.s.gauges));
    const b = await ok(ro, 'db_performance', { ...PG, database: 'app' });
    assert.ok(b.s.rates && 'deadlocks' in b.s.rates, JSON.stringify(b.s));
    const r = await call(ro, 'db_performance', { ...PG, enable_statements: true });
    assert.equal(r.isError, true, 'enabling statements is refused on a read-only server');
  });

  it('injection attempts return errors, never data, and change nothing', async () => {
    const attempts: [string, Record<string, unknown>][] = [
      ['db_tables', { ...PG, database: 'x"; DROP TABLE users; --' }],
      ['db_table_info', { ...PG, database: 'app', table: 'users"; DROP TABLE users; --' }],
      ['db_table_info', { ...PG, database: 'app', table: 'users x' }],
      ['db_indexes', { ...PG, database: 'app', table: "orders' OR '1'='1" }],
      ['db_constraints', { ...PG, database: 'app', schema: 'public; DROP SCHEMA public' }],
      ['db_vacuum', { ...PG, database: 'app', table: 'users; DROP TABLE users' }],
    ];
    for (const [name, args] of attempts) {
      const r = await call(rw, name, args);
      assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}: ${text(r)}`);
      assert.equal(r.structuredContent, undefined);
    }
    const space = await call(ro, 'db_table_info', { ...PG, database: 'app', table: 'users x' });
    assert.match(text(space), /INVALID_IDENTIFIER/, 'the engine rule rejects what the generic check lets through');
    const still = await ok(ro, 'db_table_info', { ...PG, database: 'app', table: 'users' });
    assert.equal(still.s.name, 'users');
  });

  it('--allow-write: db_backup_create, then the backup shows in db_backup_status', async () => {
    const before = await ok(ro, 'db_backup_status', PG);
    assert.equal(before.s.items.length, 0);
    const b = await ok(rw, 'db_backup_create', { ...PG, database: 'app' });
    assert.ok(existsSync(b.s.file), b.s.file);
    assert.equal(b.s.manifest.database, 'app');
    assert.equal(b.s.manifest.status, 'complete');
    const st = await ok(ro, 'db_backup_status', PG);
    const app = st.s.items.find((e: { database: string }) => e.database === 'app');
    assert.equal(app.last_backup.file, b.s.file);
    assert.equal(app.last_attempt.ok, true);
    const audit = readFileSync(join(home, 'audit.log'), 'utf8');
    assert.ok(audit.split('\n').some((l) => l.includes('"action":"backup"') && l.includes('"via":"mcp"')), 'the backup is audited as an MCP call');
    // compress reaches the same checks as the CLI's: a malformed value, and one this instance cannot honour (no pg_dump 16)
    for (const compress of ['gzip:1;x', 'zstd:99', 'none:1']) {
      const bad = await call(rw, 'db_backup_create', { ...PG, database: 'app', compress });
      assert.equal(bad.isError, true, compress);
    }
    const snap = await call(rw, 'db_backup_create', { ...PG, database: 'app', compress: 'gzip:9' });
    assert.equal(snap.isError, true);
    assert.match(JSON.stringify(snap.content), /always gzipped/);
  });

  it('db_restore needs confirm, then restores', async () => {
    const entry = (await ok(ro, 'db_backup_status', PG)).s.items.find((e: { database: string }) => e.database === 'app');
    const file = entry.last_backup.file as string;
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')) as { scope: string };
    // a logical dump restores into another database; a whole-instance snapshot (no pg_dump 16 here) restores in place
    const target = manifest.scope === 'database' ? 'app_copy' : 'app';
    const refused = await call(rw, 'db_restore', { file, ...(target !== 'app' ? { target } : {}) });
    assert.equal(refused.isError, true);
    assert.match(text(refused), /CONFIRMATION_REQUIRED/);
    const c = await pgClient(home, 'main', 'app');
    await c.query('DELETE FROM orders WHERE id > 1000');
    await c.end();
    const r = await ok(rw, 'db_restore', { file, ...(target !== 'app' ? { target } : {}), confirm: true });
    assert.equal(r.s.target, target);
    assert.ok(r.s.actions.length > 0);
    const t = await ok(ro, 'db_tables', { ...PG, database: target, include_sizes: true });
    const orders = t.s.items.find((x: { name: string }) => x.name === 'orders');
    assert.ok(orders, JSON.stringify(t.s.items));
    const rows = await pgClient(home, 'main', target);
    assert.equal((await rows.query('SELECT count(*)::int AS n FROM orders')).rows[0].n, 2000, 'the backup content is back');
    await rows.end();
  });

  it('db_vacuum', async () => {
    const v = await ok(rw, 'db_vacuum', { ...PG, database: 'app', table: 'orders', analyze: true });
    assert.ok(v.s.actions.length > 0);
    assert.ok(readFileSync(join(home, 'audit.log'), 'utf8').split('\n').some((l) => l.includes('"action":"vacuum"') && l.includes('"via":"mcp"')));
  });

  it('over HTTP with a bearer token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdb-mcp-token-'));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'integration-token-0123456789abcdef\n');
    chmodSync(tokenFile, 0o600);
    const child: ChildProcess = spawn(process.execPath, [CLI, 'mcp', 'serve', '--transport', 'http', '--port', '0', '--token-file', tokenFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = '';
        child.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          const m = /listening on (http:\/\/\S+\/mcp)/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.on('exit', (code) => reject(new Error(`mcp serve exited ${code}: ${err}`)));
      });
      const stdout: string[] = [];
      child.stdout!.on('data', (d: Buffer) => stdout.push(d.toString()));
      const anon = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{}' });
      assert.equal(anon.status, 401);
      const client = new Client({ name: 'http-test', version: '0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: 'Bearer integration-token-0123456789abcdef' } } }));
      const { s } = await ok(client, 'db_tables', { ...PG, database: 'app' });
      assert.ok(s.items.some((t: { name: string }) => t.name === 'users'));
      await client.close();
      // the CLI client over --url
      const r = await cliOk(['mcp', 'call', 'db_status', '--type', 'postgresql', '--url', url, '--token-file', tokenFile, '--json'], opts);
      assert.equal(r.json.instances[0].state, 'running');
      assert.equal(stdout.join(''), '', 'the HTTP server writes nothing on stdout');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('the CLI client: mcp call over stdio, with coercion, text and --json', async () => {
    const t = await cliOk(['mcp', 'call', 'db_tables', '--type', 'postgresql', '--database', 'app', '--include-sizes', '--limit', '1'], opts);
    assert.match(t.stdout, /^TABLE\s+KIND\s+ROWS\s+SIZE/);
    assert.match(t.stdout, /more with cursor/);
    const j = await cliOk(['mcp', 'call', 'db_table_info', '--json', '{"type":"postgresql","database":"app","table":"orders"}'], opts);
    assert.deepEqual(j.json.primaryKey, ['id']);
    const bad = await runCli(['mcp', 'call', 'db_tables', '--type', 'postgresql', '--database', 'app', '--limit', 'ten'], opts);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /must be a number/);
    const ro = await runCli(['mcp', 'call', 'db_vacuum', '--type', 'postgresql', '--database', 'app'], opts);
    assert.notEqual(ro.code, 0);
    assert.match(ro.stderr, /--allow-write/);
    const b = await cliOk(['mcp', 'call', 'db_backup_create', '--type', 'postgresql', '--database', 'app', '--allow-write', '--json'], opts);
    assert.ok(existsSync(b.json.file));
  });

  it('mcp config claude-code --write registers a server that works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdb-mcp-proj-'));
    const file = join(dir, '.mcp.json');
    writeFileSync(file, JSON.stringify({ mcpServers: { other: { command: 'true', args: [] } } }));
    const r = await cliOk(['mcp', 'config', 'claude-code', '--write', '--file', file, '--json'], opts);
    assert.ok(r.json.written.backup);
    const cfg = JSON.parse(readFileSync(file, 'utf8'));
    assert.ok(cfg.mcpServers.other);
    const entry = cfg.mcpServers['portunix-db'];
    assert.equal(entry.env.PORTUNIX_HOME, home);
    // start the server exactly as the client would, and ask for the status of every instance
    const client = new Client({ name: 'as-claude-code', version: '0' });
    await client.connect(new StdioClientTransport({ command: entry.command, args: entry.args, env: { ...entry.env, PATH: process.env['PATH'] ?? '', PORTUNIX_DB_SECRET_BACKEND: env['PORTUNIX_DB_SECRET_BACKEND']! }, stderr: 'ignore' }));
    const { s } = await ok(client, 'db_status');
    assert.equal(s.instances[0].state, 'running');
    await client.close();
  });

  it('a stopped instance gives an error that says how to start it', async () => {
    await cliOk(['stop', 'postgresql', '-q'], opts);
    const r = await call(ro, 'db_tables', { ...PG, database: 'app' });
    assert.equal(r.isError, true);
    assert.match(text(r), /postgresql\/main is stopped; start it with `portunix-db start postgresql`/);
    assert.doesNotMatch(text(r), /\n\s+at /);
    const st = await ok(ro, 'db_status', PG);
    assert.equal(st.s.instances[0].state, 'stopped');
  });
});
