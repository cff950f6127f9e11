/**
 * A big catalog on a real PostgreSQL 16 (portable, installed by the CLI into a fresh home):
 * 10,000 tables, paged in the catalog query (keyset: the cursor is the last [schema, name]), walked
 * through the CLI and the MCP server: every page, no duplicates or gaps, the same list as one
 * catalog query, and a table created or dropped between pages neither repeats nor skips the others.
 * The long-running MCP server's connection pool: many calls on one backend, closed when idle,
 * reconnected after a restart, closed before a stop and before a restore replaces the database.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { pgClient } from '../helpers/pg.js';
import { fails, freePort, ok, stdioClient } from '../helpers/mcp.js';

const home = freshHome('paging');
const opts = { home };
const PG = { type: 'postgresql' };
const TABLES = 10_000;

/** Every user relation of `big` in (schema, name) order, from one catalog query. */
async function catalog(c: pg.Client): Promise<string[]> {
  const r = await c.query<{ k: string }>(
    `SELECT n.nspname || '.' || c.relname AS k FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r','p','v','m','f') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
      ORDER BY n.nspname, c.relname`,
  );
  return r.rows.map((x) => x.k);
}

interface TablePage {
  items: { schema: string; name: string; sizeBytes?: number }[];
  total: number;
  truncated: boolean;
  next_cursor?: string;
}

function assertSameList(walked: string[], expected: string[], label: string): void {
  assert.equal(new Set(walked).size, walked.length, `${label}: no table twice`);
  assert.equal(walked.length, expected.length, `${label}: every table`);
  assert.deepEqual(walked, expected, `${label}: the catalog's own order`);
}

let admin: pg.Client;
let ro: Client;

after(async () => {
  await admin?.end().catch(() => undefined);
  await ro?.close().catch(() => undefined);
  await runCli(['stop', 'postgresql'], opts);
});

describe('postgresql: 10,000 tables, keyset paging', () => {
  before(async () => {
    const port = await freePort();
    await cliOk(['install', 'postgresql', '--version', '16', '--source', 'portable', '--port', String(port), '-q'], opts);
    await cliOk(['create', 'big', '--type', 'postgresql', '-q'], opts);
    admin = await pgClient(home, 'main', 'big');
    // the pool tests restart the server under this session: its end is expected, not a failure
    admin.on('error', () => undefined);
    // a thousand per transaction: each new table holds a lock until its transaction ends
    for (let b = 0; b < TABLES / 1000; b++) {
      await admin.query(`DO $$ BEGIN FOR i IN ${b * 1000}..${b * 1000 + 999} LOOP EXECUTE format('CREATE TABLE %I (id int)', 't_' || lpad(i::text, 5, '0')); END LOOP; END $$`);
    }
    await admin.query(`CREATE SCHEMA app; CREATE TABLE app.orders (id int); CREATE VIEW app.recent AS SELECT 1 AS x; CREATE TABLE "Mixed Case" (id int)`);
    await cliOk(['create', 'small', '--type', 'postgresql', '-q'], opts);
    const small = await pgClient(home, 'main', 'small');
    await small.query('CREATE TABLE items (id int PRIMARY KEY); INSERT INTO items SELECT generate_series(1, 100)');
    await small.end();
    ro = await stdioClient(home);
  });


  it('MCP db_tables walks every page: no duplicates, no gaps, the same list as one catalog query', async () => {
    const expected = await catalog(admin);
    assert.equal(expected.length, TABLES + 3);
    const walked: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { s } = await ok<TablePage>(ro, 'db_tables', { ...PG, database: 'big', limit: 1000, ...(cursor ? { cursor } : {}) });
      assert.equal(s.total, expected.length, 'total counts every table on every page');
      assert.ok(s.items.length > 0 && s.items.length <= 1000);
      walked.push(...s.items.map((t) => `${t.schema}.${t.name}`));
      cursor = s.next_cursor;
      assert.equal(s.truncated, cursor !== undefined);
      pages++;
    } while (cursor);
    assert.ok(pages >= TABLES / 1000, `${pages} pages`);
    assertSameList(walked, expected, 'mcp');
  });

  it('the CLI pages the same way (`tables --json --cursor`), with sizes read for the page only', async () => {
    const expected = await catalog(admin);
    const walked: string[] = [];
    let cursor: string | undefined;
    do {
      const r = await cliOk(['tables', 'big', '--type', 'postgresql', '--limit', '1000', '--sizes', '--json', ...(cursor ? ['--cursor', cursor] : [])], opts);
      const p = r.json as TablePage;
      assert.ok(p.items.every((t) => typeof t.sizeBytes === 'number'));
      walked.push(...p.items.map((t) => `${t.schema}.${t.name}`));
      cursor = p.next_cursor;
    } while (cursor);
    assertSameList(walked, expected, 'cli');
  });

  it('a table created or dropped between pages neither repeats nor skips the others', async () => {
    const first = (await ok<TablePage>(ro, 'db_tables', { ...PG, database: 'big', schema: 'public', limit: 500 })).s;
    const last = first.items[first.items.length - 1]!;
    assert.equal(last.name, 't_00498', 'the first page ends where the order says ("Mixed Case" sorts first)');
    // before the cursor (would shift an offset by one), and after it
    await admin.query(`CREATE TABLE public.a_new (id int); CREATE TABLE public.t_00499x (id int); DROP TABLE public.t_00700`);
    try {
      const second = (await ok<TablePage>(ro, 'db_tables', { ...PG, database: 'big', schema: 'public', limit: 500, cursor: first.next_cursor })).s;
      const names = second.items.map((t) => t.name);
      assert.deepEqual(names.slice(0, 3), ['t_00499', 't_00499x', 't_00500'], 'the page starts right after the cursor');
      assert.ok(!names.includes('t_00498') && !names.includes('a_new') && !names.includes('t_00700'));
      assert.equal(second.total, first.total + 1, 'total counts the catalog now');
    } finally {
      await admin.query(`DROP TABLE public.a_new; DROP TABLE public.t_00499x; CREATE TABLE public.t_00700 (id int)`);
    }
  });

  it('db_schema pages its objects the same way: every object once, with column counts; the CLI too; a forged cursor refused', async () => {
    const expected = await catalog(admin);
    const walked: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { s } = await ok<{ schemas: { name: string; tables: number; views: number }[]; objects: Omit<TablePage, 'items'> & { items: { schema: string; name: string; columns?: number; kind: string }[] } }>(ro, 'db_schema', { ...PG, database: 'big', limit: 1000, ...(cursor ? { cursor } : {}) });
      assert.deepEqual(s.schemas.map((x) => x.name), ['app', 'public'], 'every page has the schema counts');
      assert.equal(s.schemas.find((x) => x.name === 'public')!.tables, TABLES + 1);
      assert.equal(s.objects.total, expected.length);
      assert.ok(s.objects.items.every((o) => o.columns === 1), 'each object has its column count (every one here has one column)');
      walked.push(...s.objects.items.map((t) => `${t.schema}.${t.name}`));
      cursor = s.objects.next_cursor;
      pages++;
    } while (cursor);
    assert.ok(pages >= TABLES / 1000, `${pages} pages`);
    assertSameList(walked, expected, 'mcp db_schema');
    const cli: string[] = [];
    cursor = undefined;
    do {
      const r = await cliOk(['schema', 'big', '--type', 'postgresql', '--schema', 'app', '--limit', '1', '--json', ...(cursor ? ['--cursor', cursor] : [])], opts);
      cli.push(...r.json.objects.items.map((t: { name: string }) => t.name));
      cursor = r.json.objects.next_cursor;
    } while (cursor);
    assert.deepEqual(cli, ['orders', 'recent']);
    const forged = Buffer.from(`k:${JSON.stringify(["app'; DROP TABLE app.orders; --"])}`).toString('base64url');
    assert.match(await fails(ro, 'db_schema', { ...PG, database: 'big', cursor: forged }), /^Error \[USAGE\]: Invalid cursor/);
    assert.equal((await catalog(admin)).length, TABLES + 3, 'nothing was dropped');
  });

  it('a forged or tampered cursor is a clear USAGE error, on MCP and in the CLI', async () => {
    const { s } = await ok<TablePage>(ro, 'db_tables', { ...PG, database: 'big', limit: 10 });
    const good = s.next_cursor!;
    const tampered = [
      Buffer.from(`k:${JSON.stringify(['public', "t'; DROP TABLE t_00001; --", 'x'])}`).toString('base64url'),
      Buffer.from('o:100').toString('base64url'),
      good.slice(0, -3),
      'not a cursor',
    ];
    for (const cursor of tampered) {
      const t = await fails(ro, 'db_tables', { ...PG, database: 'big', cursor });
      assert.match(t, /^Error \[USAGE\]: Invalid cursor/, cursor);
      assert.match(t, /next_cursor/);
    }
    // a well-formed key is only ever a bound parameter: the rows after it, nothing run
    const injected = Buffer.from(`k:${JSON.stringify(['public', "t_00001'; DROP TABLE t_00002; --"])}`).toString('base64url');
    const afterIt = (await ok<TablePage>(ro, 'db_tables', { ...PG, database: 'big', schema: 'public', limit: 1, cursor: injected })).s;
    assert.equal(afterIt.items[0]!.name, 't_00002');
    const r = await runCli(['tables', 'big', '--type', 'postgresql', '--json', '--cursor', tampered[0]!], opts);
    assert.notEqual(r.code, 0);
    assert.equal(r.json.error.code, 'USAGE');
    assert.equal((await catalog(admin)).length, TABLES + 3, 'nothing was dropped');
  });
});

/** Backends of the tool's own sessions on `small` (the MCP servers' pooled connections). */
async function toolBackends(): Promise<number[]> {
  const c = await pgClient(home, 'main', 'postgres');
  try {
    const r = await c.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = 'small' AND application_name = 'portunix-db' ORDER BY pid`);
    return r.rows.map((x) => x.pid);
  } finally {
    await c.end();
  }
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 120; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`never happened: ${what}`);
}

describe('postgresql: the MCP server pools its connections', () => {
  it('many calls run on one backend; a restarted server is reconnected transparently', async () => {
    const client = await stdioClient(home, ['--idle-timeout', '300']);
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const tool = ['db_tables', 'db_table_info', 'db_indexes', 'db_constraints'][i % 4]!;
        await ok(client, tool, { ...PG, database: 'small', ...(tool === 'db_table_info' ? { table: 'items' } : {}) });
        for (const pid of await toolBackends()) pids.add(pid);
      }
      assert.equal(pids.size, 1, `20 calls, one backend: ${[...pids].join(', ')}`);
      await cliOk(['restart', 'postgresql'], opts);
      const { s } = await ok<TablePage>(client, 'db_tables', { ...PG, database: 'small' });
      assert.deepEqual(s.items.map((t) => t.name), ['items']);
      const after = await toolBackends();
      assert.equal(after.length, 1);
      assert.ok(!pids.has(after[0]!), 'a new session after the restart');
    } finally {
      await client.close();
    }
    await until('the closed server\'s session ends', async () => (await toolBackends()).length === 0);
  });

  it('--idle-timeout 0: a connection per call, none left open', async () => {
    const client = await stdioClient(home, ['--idle-timeout', '0']);
    try {
      for (const tool of ['db_tables', 'db_indexes', 'db_constraints']) {
        await ok(client, tool, { ...PG, database: 'small' });
        assert.deepEqual(await toolBackends(), [], `after ${tool}`);
      }
    } finally {
      await client.close();
    }
  });

  it('an idle pooled connection is closed by the server process after --idle-timeout, and the next call opens one', async () => {
    const client = await stdioClient(home, ['--idle-timeout', '5']);
    try {
      await ok(client, 'db_tables', { ...PG, database: 'small' });
      const held = await toolBackends();
      assert.equal(held.length, 1, 'the pool holds the session between calls');
      // the server still runs: only the idle timer can end the session
      await until('the idle session is closed', async () => (await toolBackends()).length === 0);
      const { s } = await ok<TablePage>(client, 'db_tables', { ...PG, database: 'small' });
      assert.deepEqual(s.items.map((t) => t.name), ['items']);
      const again = await toolBackends();
      assert.equal(again.length, 1);
      assert.notEqual(again[0], held[0], 'a new session');
    } finally {
      await client.close();
    }
  });

  it('the server stays under the 150 MB goal over 600 calls (peak RSS, VmHWM)', async () => {
    const client = await stdioClient(home, ['--idle-timeout', '300']);
    const pid = (client.transport as unknown as { pid: number }).pid;
    const peakMb = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
    try {
      const calls: [string, Record<string, unknown>][] = [
        ['db_status', {}],
        ['db_list', PG],
        ['db_tables', { ...PG, database: 'big', limit: 100 }],
        ['db_table_info', { ...PG, database: 'small', table: 'items' }],
        ['db_query', { ...PG, database: 'small', query: 'SELECT count(*) AS n FROM items' }],
        ['db_size', PG],
      ];
      for (let i = 0; i < 600; i++) await ok(client, ...calls[i % calls.length]!);
      // bench-like mixes on the tsc build peaked at 107-113 MB with the lean heap, 141-191 MB without it
      assert.ok(peakMb() < 150, `peak RSS ${peakMb().toFixed(0)} MB after 600 calls`);
    } finally {
      await client.close();
    }
  });

  it('db_restore onto a database the pool holds sessions to: they are closed first, and the next calls see the restored data', async () => {
    const rw = await stdioClient(home, ['--role', 'admin', '--idle-timeout', '300']);
    try {
      const b = await ok<{ file: string }>(rw, 'db_backup_create', { ...PG, database: 'small' });
      const c = await pgClient(home, 'main', 'small');
      await c.query('DELETE FROM items WHERE id > 10; CREATE TABLE extra (id int)');
      await c.end();
      // sessions in the pool, as the superuser and as the read-only account (db_query)
      assert.deepEqual((await ok<TablePage>(rw, 'db_tables', { ...PG, database: 'small' })).s.items.map((t) => t.name).sort(), ['extra', 'items']);
      assert.equal((await ok<{ rows: unknown[][] }>(rw, 'db_query', { ...PG, database: 'small', query: 'SELECT count(*)::int AS n FROM items' })).s.rows[0]![0], 10);
      assert.ok((await toolBackends()).length >= 1, 'the pool holds sessions to small');
      const r = await ok<{ actions: string[] }>(rw, 'db_restore', { file: b.s.file, confirm: true });
      assert.ok(r.s.actions.length > 0);
      const { s } = await ok<TablePage>(rw, 'db_tables', { ...PG, database: 'small' });
      assert.deepEqual(s.items.map((t) => t.name), ['items'], 'the restored catalog, not a stale session error');
      assert.equal((await ok<{ rows: unknown[][] }>(rw, 'db_query', { ...PG, database: 'small', query: 'SELECT count(*)::int AS n FROM items' })).s.rows[0]![0], 100, 'the restored rows');
    } finally {
      await rw.close();
    }
    await until('the closed server\'s sessions end', async () => (await toolBackends()).length === 0);
  });
});
