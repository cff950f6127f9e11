/**
 * Every MCP tool against a real Redis 7.0 (Debian's package, installed by the CLI into a fresh
 * PORTUNIX_HOME), through the SDK client over stdio spawning `portunix-db mcp serve`.
 * Issue 5: keyspaces are the databases, db_tables is key types and prefixes found with SCAN,
 * db_size is memory, db_connections is CLIENT LIST, and the schema tools answer with a typed
 * "not applicable" error that names db_tables.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { call, fails, freePort, ok, stdioClient } from '../helpers/mcp.js';

const home = freshHome('mcp-redis');
const opts = { home };
const R = { type: 'redis' };
let port = 0;
let password = '';
let rw: Client;
let ro: Client;

interface Conn {
  send(args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

async function connect(db = 0): Promise<Conn> {
  const { createClient } = await import('redis');
  // TLS pinned to the instance's certificate (the public copy users' clients get)
  const ca = readFileSync(join(home, 'instances', 'redis', 'main', 'tls', 'server.crt'), 'utf8');
  const client = createClient({ socket: { host: '127.0.0.1', port, tls: true, ca, reconnectStrategy: false }, username: 'default', password, database: db, RESP: 2 });
  client.on('error', () => undefined);
  await client.connect();
  return { send: (args) => client.sendCommand(args), close: () => client.close() };
}

async function withConn<T>(db: number, fn: (c: Conn) => Promise<T>): Promise<T> {
  const c = await connect(db);
  try {
    return await fn(c);
  } finally {
    await c.close().catch(() => undefined);
  }
}

const dbsize = (db: number) => withConn(db, async (c) => Number(await c.send(['DBSIZE'])));

/** Keys per keyspace: 0 holds 5 types under 5 prefixes plus one key without prefix; 1 holds a cache and a stream. */
const EXPECTED = { db0: 200 + 20 + 1 + 1 + 1 + 1, db1: 30 + 1 };

let held: Conn;

describe('mcp over stdio against a real Redis 7.0', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    port = await freePort();
    await cliOk(['install', 'redis', '--version=7.0', '--source', 'apt', '--port', String(port), '-q'], { home, timeoutMs: 600_000 });
    password = decodeURIComponent(new URL((await cliOk(['url', 'redis', '--show-password', '--json'], opts)).json.url as string).password);
    await withConn(0, async (c) => {
      for (let i = 1; i <= 200; i++) await c.send(['SET', `user:${i}`, `v${i}`]);
      for (let i = 1; i <= 20; i++) await c.send(['HSET', `session:${i}`, 'user', String(i), 'ttl', '60']);
      await c.send(['RPUSH', 'queue:jobs', 'a', 'b', 'c']);
      await c.send(['SADD', 'tags:all', 'x', 'y']);
      await c.send(['ZADD', 'board:scores', '1', 'alice', '2', 'bob']);
      await c.send(['SET', 'plainkey', 'no prefix']);
    });
    await withConn(1, async (c) => {
      for (let i = 1; i <= 30; i++) await c.send(['SET', `cache:${i}`, 'x'.repeat(200)]);
      await c.send(['XADD', 'events:log', '*', 'kind', 'login']);
    });
    // one extra client the tools must see: named, on keyspace 1
    held = await connect(1);
    await held.send(['CLIENT', 'SETNAME', 'mcp-marker']);
    rw = await stdioClient(home, ['--allow-write']);
    ro = await stdioClient(home);
  });

  after(async () => {
    await held?.close().catch(() => undefined);
    await rw?.close().catch(() => undefined);
    await ro?.close().catch(() => undefined);
    await runCli(['stop', 'redis'], opts);
  });

  it('db_status: running 7.0 from apt, with the end-of-life notice', async () => {
    const { s, text: t } = await ok(ro, 'db_status', R);
    assert.equal(s.instances.length, 1);
    const r = s.instances[0];
    assert.equal(r.engine, 'redis');
    assert.equal(r.state, 'running');
    assert.equal(r.version, '7.0');
    assert.match(r.full_version, /^7\.0\.\d+/);
    assert.equal(r.source, 'apt');
    assert.equal(r.port, port);
    assert.equal(typeof r.uptime_seconds, 'number');
    assert.equal(r.notice.eol, true);
    assert.equal(r.notice.eol_date, '2024-07-31');
    assert.match(r.notice.message, /end of life/);
    assert.match(t, /redis\/main\s+running\s+7\.0\./);
  });

  it('db_list: the keyspaces holding keys, with key counts', async () => {
    const { s } = await ok(ro, 'db_list', R);
    assert.deepEqual(
      s.items.map((d: { name: string; keys: number }) => [d.name, d.keys]),
      [
        ['0', EXPECTED.db0],
        ['1', EXPECTED.db1],
      ],
    );
  });

  it('db_size: memory per keyspace', async () => {
    const all = await ok(ro, 'db_size', R);
    const byName = Object.fromEntries(all.s.items.map((d: { name: string }) => [d.name, d]));
    assert.ok(byName['0'].sizeBytes > 0 && byName['1'].sizeBytes > 0, JSON.stringify(all.s.items));
    assert.equal(byName['1'].keys, EXPECTED.db1);
    assert.equal(all.s.total_bytes, byName['0'].sizeBytes + byName['1'].sizeBytes);
    const one = await ok(ro, 'db_size', { ...R, database: '1' });
    assert.equal(one.s.items.length, 1);
    assert.equal(one.s.items[0].name, '1');
    // 30 values of 200 bytes: the memory of keyspace 1 is at least their payload
    assert.ok(one.s.items[0].sizeBytes >= 30 * 200, String(one.s.items[0].sizeBytes));
    const empty = await ok(ro, 'db_size', { ...R, database: '5' });
    assert.deepEqual(empty.s.items, [{ name: '5', keys: 0, sizeBytes: 0 }]);
  });

  it('db_tables: key types and prefixes per keyspace, with sizes, paged', async () => {
    const { s, text: t } = await ok(ro, 'db_tables', { ...R, database: '0', include_sizes: true });
    const got = Object.fromEntries(s.items.map((x: { name: string; kind: string; rows: number }) => [`${x.name} ${x.kind}`, x.rows]));
    assert.deepEqual(got, { 'user:* string': 200, 'session:* hash': 20, 'queue:* list': 1, 'tags:* set': 1, 'board:* zset': 1, '(no prefix) string': 1 });
    assert.ok(s.items.every((x: { rowsEstimated: boolean; sizeBytes: number }) => x.rowsEstimated === false && x.sizeBytes > 0), JSON.stringify(s.items));
    assert.equal(s.items[0].name, 'user:*', 'the largest group first');
    assert.match(t, /TABLE\s+KIND\s+ROWS\s+SIZE/);
    const one = await ok(ro, 'db_tables', { ...R, database: '1' });
    assert.deepEqual(
      one.s.items.map((x: { name: string; kind: string; rows: number }) => [x.name, x.kind, x.rows]),
      [
        ['cache:*', 'string', 30],
        ['events:*', 'stream', 1],
      ],
    );
    const first = await ok(ro, 'db_tables', { ...R, database: '0', limit: 2 });
    assert.equal(first.s.items.length, 2);
    assert.equal(first.s.truncated, true);
    assert.equal(first.s.total, 6);
    const second = await ok(ro, 'db_tables', { ...R, database: '0', limit: 2, cursor: first.s.next_cursor });
    assert.notEqual(second.s.items[0].name, first.s.items[0].name);
    // `schema` filters by key prefix
    const sessions = await ok(ro, 'db_tables', { ...R, database: '0', schema: 'session:' });
    assert.deepEqual(sessions.s.items.map((x: { name: string; rows: number }) => [x.name, x.rows]), [['session:*', 20]]);
  });

  it('db_connections: CLIENT LIST shows the extra client', async () => {
    const { s } = await ok(ro, 'db_connections', R);
    const mine = s.items.find((c: { client?: string }) => c.client?.includes('(mcp-marker)'));
    assert.ok(mine, JSON.stringify(s.items));
    assert.equal(mine.database, '1');
    assert.equal(mine.user, 'default');
    assert.match(mine.client, /^127\.0\.0\.1:\d+ \(mcp-marker\)$/);
    assert.match(mine.query, /^client setname/);
    assert.ok(!s.items.some((c: { query?: string }) => c.query === 'client list'), 'the inspecting connection itself is left out');
  });

  it('db_performance: INFO counters and gauges, SLOWLOG, rates on the next sample', async () => {
    const a = await ok(ro, 'db_performance', R);
    assert.ok(a.s.counters['total_commands_processed'] > 0, JSON.stringify(a.s.counters));
    assert.equal(a.s.gauges['keys_total'], EXPECTED.db0 + EXPECTED.db1);
    assert.equal(a.s.gauges['keys_db1'], EXPECTED.db1);
    assert.match(String(a.s.gauges['redis_version']), /^7\.0\./);
    assert.ok((a.s.gauges['connected_clients'] as number) >= 2);
    assert.ok(Array.isArray(a.s.slowQueries));
    assert.match(a.s.slowQueriesNote, /SLOWLOG/);
    const b = await ok(ro, 'db_performance', { ...R, database: '1' });
    assert.ok(b.s.rates && 'total_commands_processed' in b.s.rates, JSON.stringify(b.s));
    assert.equal(b.s.gauges['keys_db0'], undefined, 'database narrows the per-keyspace gauges');
    const r = await call(ro, 'db_performance', { ...R, enable_statements: true });
    assert.equal(r.isError, true, 'enabling statements is refused on a read-only server');
  });

  it('db_schema, db_table_info, db_indexes, db_constraints: typed "not applicable", naming db_tables', async () => {
    const attempts: [string, Record<string, unknown>][] = [
      ['db_schema', { ...R, database: '0' }],
      ['db_table_info', { ...R, database: '0', table: 'user:1' }],
      ['db_indexes', { ...R, database: '0' }],
      ['db_constraints', { ...R, database: '0' }],
    ];
    for (const [name, args] of attempts) {
      const msg = await fails(ro, name, args);
      assert.match(msg, /^Error \[NOT_APPLICABLE\]: Redis /, `${name}: ${msg}`);
      assert.match(msg, /db_tables/, `${name} names the tool to use instead: ${msg}`);
      assert.doesNotMatch(msg, /\n\s+at /);
    }
  });

  it('an injection attempt is an error and changes nothing', async () => {
    const attempts: [string, Record<string, unknown>][] = [
      ['db_tables', { ...R, database: '0; FLUSHALL' }],
      // passes the generic check (no semicolon), refused by the keyspace rule
      ['db_tables', { ...R, database: '0 FLUSHALL' }],
      ['db_size', { ...R, database: '16' }],
      ['db_vacuum', { ...R, database: '0\r\nFLUSHALL' }],
      ['db_backup_create', { ...R, database: '-1' }],
    ];
    for (const [name, args] of attempts) await fails(rw, name, args);
    assert.match(await fails(ro, 'db_tables', { ...R, database: '0 FLUSHALL' }), /INVALID_IDENTIFIER.*numbered keyspaces/);
    assert.equal(await dbsize(0), EXPECTED.db0);
    assert.equal(await dbsize(1), EXPECTED.db1);
  });

  it('--allow-write: db_backup_create (whole instance), then db_backup_status shows it', async () => {
    const before = await ok(ro, 'db_backup_status', R);
    assert.equal(before.s.items.length, 0);
    const refused = await call(ro, 'db_backup_create', { ...R, database: '0' });
    assert.equal(refused.isError, true, 'the read-only server has no backup tool');
    const b = await ok(rw, 'db_backup_create', { ...R, database: '0' });
    assert.ok(existsSync(b.s.file), b.s.file);
    assert.match(b.s.file, /\.rdb$/);
    assert.equal(b.s.manifest.engine, 'redis');
    assert.equal(b.s.manifest.database, '0');
    assert.equal(b.s.manifest.scope, 'instance');
    assert.equal(b.s.manifest.format, 'rdb');
    assert.equal(b.s.manifest.status, 'complete');
    assert.equal(b.s.manifest.tables, 2, 'key counts for both keyspaces');
    assert.ok(b.s.manifest.notes?.some((n: string) => /whole instance/.test(n)), JSON.stringify(b.s.manifest.notes));
    const st = await ok(ro, 'db_backup_status', R);
    const entry = st.s.items.find((e: { database: string }) => e.database === '0');
    assert.equal(entry.last_backup.file, b.s.file);
    assert.equal(entry.last_attempt.ok, true);
    const audit = readFileSync(join(home, 'audit.log'), 'utf8');
    assert.ok(audit.split('\n').some((l) => l.includes('"action":"backup"') && l.includes('"engine":"redis"') && l.includes('"via":"mcp"')));
  });

  it('db_vacuum: MEMORY PURGE for the instance; a table is not applicable', async () => {
    const v = await ok(rw, 'db_vacuum', { ...R, database: '0', analyze: true });
    assert.equal(v.s.database, '0');
    assert.ok(v.s.actions.some((a: string) => /MEMORY PURGE|Nothing to do/.test(a)), v.s.actions.join('; '));
    assert.ok(v.s.actions.some((a: string) => /--analyze has no Redis equivalent/.test(a)));
    assert.equal(typeof v.s.details?.allocator, 'string');
    const msg = await fails(rw, 'db_vacuum', { ...R, database: '0', table: 'user:1' });
    assert.match(msg, /NOT_APPLICABLE/);
  });

  it('db_restore: refused without confirm, then restores the whole instance', async () => {
    const file = (await ok(ro, 'db_backup_status', { ...R, database: '0' })).s.items[0].last_backup.file as string;
    const refused = await fails(rw, 'db_restore', { file });
    assert.match(refused, /CONFIRMATION_REQUIRED/);
    // an instance snapshot restores in place only
    const elsewhere = await fails(rw, 'db_restore', { file, target: '1', confirm: true });
    assert.match(elsewhere, /USAGE.*whole redis instance/);
    await withConn(0, async (c) => {
      await c.send(['FLUSHALL', 'SYNC']);
      await c.send(['SET', 'after:backup', '1']);
    });
    assert.equal(await dbsize(0), 1);
    const r = await ok(rw, 'db_restore', { file, confirm: true });
    assert.equal(r.s.engine, 'redis');
    assert.match(r.s.target, /all keyspaces/, 'the whole instance was restored');
    assert.ok(r.s.actions.some((a: string) => /verified key counts/.test(a)), r.s.actions.join('; '));
    assert.deepEqual(Object.fromEntries(r.s.tables.map((t: { name: string; rows: number }) => [t.name, t.rows])), EXPECTED);
    assert.equal(await dbsize(0), EXPECTED.db0);
    assert.equal(await dbsize(1), EXPECTED.db1);
    assert.equal(await withConn(0, (c) => c.send(['GET', 'user:7'])), 'v7');
    assert.equal(await withConn(0, (c) => c.send(['EXISTS', 'after:backup'])), 0, 'keys written after the backup are gone');
    const t = await ok(ro, 'db_tables', { ...R, database: '1' });
    assert.equal(t.s.items.find((x: { name: string }) => x.name === 'cache:*').rows, 30);
    assert.equal((await ok(ro, 'db_status', R)).s.instances[0].state, 'running');
  });

  it('a stopped server gives an error that says how to start it', async () => {
    await cliOk(['stop', 'redis', '-q'], opts);
    const msg = await fails(ro, 'db_tables', { ...R, database: '0' });
    assert.match(msg, /redis\/main is stopped; start it with `portunix-db start redis`/);
    assert.equal((await ok(ro, 'db_status', R)).s.instances[0].state, 'stopped');
  });
});
