import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { LoggingMessageNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../../src/mcp/server.js';
import type { Role } from '../../src/mcp/tool-base.js';
import type { CoreOps } from '../../src/mcp/core.js';
import { fakeCore, notRunning, type FakeCore } from './mcp-fake-core.js';

const READ_TOOLS = ['db_status', 'db_list', 'db_size', 'db_tables', 'db_connections', 'db_performance', 'db_backup_status', 'db_schema', 'db_table_info', 'db_indexes', 'db_constraints', 'db_query'];
const WRITE_TOOLS = ['db_backup_create', 'db_restore', 'db_vacuum'];

let home: string;
before(() => {
  home = mkdtempSync(join(tmpdir(), 'pdb-mcp-unit-'));
  process.env['PORTUNIX_HOME'] = home;
});
after(() => rmSync(home, { recursive: true, force: true }));

async function connect(role: Role, core: CoreOps = fakeCore()): Promise<Client> {
  const { server } = createMcpServer({ role, core, log: () => undefined });
  const [c, s] = InMemoryTransport.createLinkedPair();
  await server.connect(s);
  const client = new Client({ name: 'test', version: '0' });
  await client.connect(c);
  return client;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

test('read-only (default role reader) lists exactly the read tools', async () => {
  const client = await connect('reader');
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name).sort(), [...READ_TOOLS].sort());
  await client.close();
});

test('--allow-write (admin) lists all 15 tools; operator lacks only db_restore', async () => {
  const admin = await connect('admin');
  assert.deepEqual((await admin.listTools()).tools.map((t) => t.name).sort(), [...READ_TOOLS, ...WRITE_TOOLS].sort());
  const operator = await connect('operator');
  assert.deepEqual((await operator.listTools()).tools.map((t) => t.name).sort(), [...READ_TOOLS, 'db_backup_create', 'db_vacuum'].sort());
  await admin.close();
  await operator.close();
});

test('annotations follow the operation type; every tool declares an output schema', async () => {
  const client = await connect('admin');
  const { tools } = await client.listTools();
  const by = new Map(tools.map((t) => [t.name, t]));
  // the MCP spec's defaults: readOnlyHint false, destructiveHint true, idempotentHint false, openWorldHint true;
  // destructive/idempotent hints mean something only when readOnlyHint is false
  const hint = (name: string, k: 'readOnlyHint' | 'destructiveHint' | 'idempotentHint' | 'openWorldHint') => by.get(name)!.annotations?.[k] ?? { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true }[k];
  for (const name of [...READ_TOOLS, ...WRITE_TOOLS]) assert.equal(hint(name, 'openWorldHint'), false, name);
  for (const name of READ_TOOLS) assert.equal(hint(name, 'readOnlyHint'), true, name);
  for (const name of ['db_backup_create', 'db_vacuum']) {
    assert.equal(hint(name, 'readOnlyHint'), false, name);
    assert.equal(hint(name, 'destructiveHint'), false, name);
    assert.equal(hint(name, 'idempotentHint'), false, name);
  }
  const r = by.get('db_restore')!;
  assert.equal(hint('db_restore', 'destructiveHint'), true);
  assert.equal(hint('db_restore', 'readOnlyHint'), false);
  assert.ok('confirm' in (r.inputSchema.properties ?? {}), 'db_restore takes confirm');
  assert.ok(!('confirm' in (by.get('db_vacuum')!.inputSchema.properties ?? {})), 'only destructive tools take confirm');
  for (const t of tools) {
    assert.equal(t.outputSchema?.type, 'object', `${t.name} has an output schema`);
    assert.equal((t.inputSchema as { additionalProperties?: unknown }).additionalProperties, false, `${t.name} rejects unknown arguments`);
  }
  await client.close();
});

test('a write tool cannot be called on a read-only server', async () => {
  const core = fakeCore();
  const client = await connect('reader', core);
  const r = await call(client, 'db_backup_create', { type: 'postgresql', database: 'app' });
  assert.equal(r.isError, true);
  const r2 = await call(client, 'db_restore', { file: '/b/app.dump', confirm: true });
  assert.equal(r2.isError, true);
  assert.equal(core.calls.filter((c) => c.op === 'createBackup' || c.op === 'restoreBackup').length, 0);
  await client.close();
});

test('db_restore needs confirm: true', async () => {
  const core = fakeCore();
  const client = await connect('admin', core);
  for (const confirm of [undefined, false]) {
    const r = await call(client, 'db_restore', { file: '/b/app.dump', ...(confirm === undefined ? {} : { confirm }) });
    assert.equal(r.isError, true);
    assert.match(text(r), /CONFIRMATION_REQUIRED/);
    assert.match(text(r), /confirm": true/);
    assert.match(text(r), /replaces database "app" on postgresql\/main/, 'the confirmation says what the restore replaces');
  }
  assert.equal(core.calls.filter((c) => c.op === 'restoreBackup').length, 0, 'no restore without confirm');
  assert.ok(core.calls.some((c) => c.op === 'describeRestore'), 'the confirmation asked the core what would be replaced');
  const ok = await call(client, 'db_restore', { file: '/b/app.dump', confirm: true });
  assert.equal(ok.isError, undefined);
  const restoreCall = core.calls.find((c) => c.op === 'restoreBackup')!;
  const { progress: _p, ...restoreArgs } = restoreCall.args as Record<string, unknown>;
  assert.deepEqual(restoreArgs, { file: '/b/app.dump', force: true, via: 'mcp' });
  assert.deepEqual((ok.structuredContent as { actions: string[] }).actions, ['replaced database app']);
  await client.close();
});

test('write tools pass via: mcp to the core (which audits them); a refused restore is audited here', async () => {
  const core = fakeCore();
  const client = await connect('admin', core);
  await call(client, 'db_backup_create', { type: 'postgresql', database: 'app' });
  await call(client, 'db_vacuum', { type: 'postgresql', database: 'app', analyze: true });
  await call(client, 'db_restore', { file: '/b/app.dump' });
  for (const op of ['createBackup', 'vacuum']) assert.equal((core.calls.find((c) => c.op === op)!.args as { via: string }).via, 'mcp', op);
  const lines = readFileSync(join(home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const refused = lines.find((l) => l['action'] === 'db_restore')!;
  assert.equal(refused['via'], 'mcp');
  assert.equal(refused['ok'], false);
  assert.equal(refused['target'], '/b/app.dump');
  await client.close();
});

test('5,000 tables: pages of at most 100, cursors walk all of them, no answer near a megabyte', async () => {
  const client = await connect('reader');
  const seen = new Set<string>();
  let cursor: string | undefined;
  let pages = 0;
  do {
    const r = await call(client, 'db_tables', { type: 'postgresql', database: 'app', include_sizes: true, ...(cursor ? { cursor } : {}) });
    assert.equal(r.isError, undefined, text(r));
    const s = r.structuredContent as { items: { name: string }[]; total: number; truncated: boolean; next_cursor?: string };
    assert.ok(s.items.length <= 100);
    assert.equal(s.total, 5000);
    const size = Buffer.byteLength(JSON.stringify(r));
    assert.ok(size < 100_000, `response is ${size} bytes`);
    for (const t of s.items) {
      assert.ok(!seen.has(t.name), `duplicate ${t.name}`);
      seen.add(t.name);
    }
    if (s.truncated) {
      assert.ok(s.next_cursor);
      assert.match(text(r), /more with cursor/);
    }
    cursor = s.next_cursor;
    pages++;
  } while (cursor);
  assert.equal(seen.size, 5000);
  assert.equal(pages, 50);
  await client.close();
});

test('the byte cap cuts a page before the item limit', async () => {
  const fat = Array.from({ length: 300 }, (_, i) => ({ schema: 'public', name: `t${i}_${'x'.repeat(2000)}`, kind: 'table' }));
  const { page } = await import('../../src/core/paging.js');
  const client = await connect('reader', fakeCore({ tables: async (a) => page(fat, a) }));
  const r = await call(client, 'db_tables', { type: 'postgresql', database: 'app', limit: 1000 });
  const s = r.structuredContent as { items: unknown[]; truncated: boolean };
  assert.ok(s.items.length < 300 && s.items.length > 0);
  assert.equal(s.truncated, true);
  assert.ok(Buffer.byteLength(JSON.stringify(r)) < 400_000);
  await client.close();
});

test('db_schema on 5,000 tables stays small', async () => {
  const client = await connect('reader');
  const r = await call(client, 'db_schema', { type: 'postgresql', database: 'app' });
  assert.equal(r.isError, undefined, text(r));
  const s = r.structuredContent as { objects: { items: unknown[]; truncated: boolean } };
  assert.equal(s.objects.items.length, 100);
  assert.equal(s.objects.truncated, true);
  assert.ok(Buffer.byteLength(JSON.stringify(r)) < 100_000);
  await client.close();
});

test('injection attempts in identifiers are errors and never reach the core', async () => {
  const core = fakeCore();
  const client = await connect('reader', core);
  const evil = 'x"; DROP TABLE t; --';
  const attempts: [string, Record<string, unknown>][] = [
    ['db_tables', { type: 'postgresql', database: evil }],
    ['db_table_info', { type: 'postgresql', database: 'app', table: evil }],
    ['db_indexes', { type: 'postgresql', database: 'app', table: "users'; DELETE FROM users; --" }],
    ['db_constraints', { type: 'postgresql', database: 'app', schema: 'public`; DROP' }],
    ['db_size', { type: 'postgresql', database: 'a\u0000b' }],
    ['db_tables', { type: 'postgresql', database: 'app', instance: '../etc' }],
    ['db_tables', { type: 'postgresql', database: 'app', sql: 'select 1' }],
  ];
  for (const [name, args] of attempts) {
    const r = await call(client, name, args);
    assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}`);
    assert.equal(r.structuredContent, undefined);
  }
  assert.equal(core.calls.length, 0, 'the core was never called');
  await client.close();
});

test('errors say what to do next and never carry a stack trace', async () => {
  const client = await connect('reader', fakeCore({ tables: notRunning, connections: async () => { throw new TypeError('Cannot read properties of undefined (reading \'rows\')'); } }));
  const r = await call(client, 'db_tables', { type: 'postgresql', database: 'app' });
  assert.equal(r.isError, true);
  assert.match(text(r), /postgresql\/main is stopped; start it with `portunix-db start postgresql`/);
  const r2 = await call(client, 'db_connections', { type: 'postgresql' });
  assert.equal(r2.isError, true);
  assert.doesNotMatch(text(r2), /\n\s+at /);
  assert.match(text(r2), /^Error \[INTERNAL\]/);
  await client.close();
});

test('results carry structuredContent and compact table text', async () => {
  const client = await connect('reader');
  const r = await call(client, 'db_status', {});
  const s = r.structuredContent as { instances: { engine: string; state: string }[] };
  assert.deepEqual(s.instances.map((i) => `${i.engine}:${i.state}`), ['postgresql:running', 'redis:stopped']);
  assert.match(text(r), /^INSTANCE\s+STATE\s+VERSION/);
  assert.match(text(r), /redis\/main\s+stopped/);
  assert.match(text(r), /portunix-db start redis/);
  const info = await call(client, 'db_table_info', { type: 'postgresql', database: 'app', table: 'users' });
  assert.equal(info.isError, undefined, text(info));
  const cols = (info.structuredContent as { columns: Record<string, unknown>[] }).columns;
  assert.ok(!('default' in cols[0]!), 'nulls are dropped, not sent');
  assert.match(text(info), /COLUMN\s+TYPE\s+NULL/);
  const idx = await call(client, 'db_indexes', { type: 'postgresql', database: 'app' });
  assert.match(text(idx), /UNUSED DUPLICATE of users_email_idx/);
  const con = await call(client, 'db_constraints', { type: 'postgresql', database: 'app' });
  assert.match(text(con), /-> public\.users\(id\) on delete cascade/);
  for (const res of [r, info, idx, con]) assert.ok(!text(res).trimStart().startsWith('{'), 'text is not a JSON dump');
  await client.close();
});

test('db_performance: enable_statements needs a writable server', async () => {
  const core: FakeCore = fakeCore();
  const reader = await connect('reader', core);
  const r = await call(reader, 'db_performance', { type: 'postgresql', enable_statements: true });
  assert.equal(r.isError, true);
  assert.match(text(r), /--allow-write/);
  assert.equal(core.calls.filter((c) => c.op === 'enableStatements').length, 0);
  // an operator may write but not change server configuration
  const operator = await connect('operator', core);
  const o = await call(operator, 'db_performance', { type: 'postgresql', enable_statements: true });
  assert.equal(o.isError, true);
  assert.match(text(o), /FORBIDDEN.*admin role/);
  assert.equal(core.calls.filter((c) => c.op === 'enableStatements').length, 0);
  await operator.close();
  const plain = await call(reader, 'db_performance', { type: 'postgresql' });
  assert.equal(plain.isError, undefined, text(plain));
  assert.match(text(plain), /cache_hit_ratio: 0\.99/);
  const admin = await connect('admin', core);
  const w = await call(admin, 'db_performance', { type: 'postgresql', enable_statements: true });
  assert.equal(w.isError, undefined, text(w));
  assert.equal((w.structuredContent as { statements: { changed: boolean } }).statements.changed, true);
  await reader.close();
  await admin.close();
});

test('long tools send the core\'s progress reports as log notifications, and as progress notifications when the call has a progressToken', async () => {
  const core = fakeCore({
    createBackup: async (a) => {
      a.progress?.('pg_dump: writing app');
      a.progress?.('sha256 and manifest written');
      return fakeCore().createBackup(a);
    },
    restoreBackup: async (a) => {
      a.progress?.('checksum ok');
      return fakeCore().restoreBackup(a);
    },
    vacuum: async (a) => {
      a.progress?.('running maintenance on app');
      return fakeCore().vacuum(a);
    },
  });
  const client = await connect('admin', core);
  const logs: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(`${n.params.level} ${String(n.params.data)}`));
  const progress: { progress: number; message?: string }[] = [];
  const r = (await client.callTool({ name: 'db_backup_create', arguments: { type: 'postgresql', database: 'app' } }, undefined, { onprogress: (p) => void progress.push({ progress: p.progress, ...(p.message ? { message: p.message } : {}) }) })) as CallToolResult;
  assert.ok(!r.isError, text(r));
  assert.deepEqual(progress, [{ progress: 1, message: 'pg_dump: writing app' }, { progress: 2, message: 'sha256 and manifest written' }]);
  await call(client, 'db_restore', { file: '/b/app.dump', confirm: true });
  await call(client, 'db_vacuum', { type: 'postgresql', database: 'app' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(logs, ['info db_backup_create: pg_dump: writing app', 'info db_backup_create: sha256 and manifest written', 'info db_restore: checksum ok', 'info db_vacuum: running maintenance on app']);
  // no progressToken: no progress notifications, the log ones still come; a client's logging/setLevel filters them
  progress.length = 0;
  await client.setLoggingLevel('warning');
  await call(client, 'db_vacuum', { type: 'postgresql', database: 'app' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(logs.length, 4);
  assert.deepEqual(progress, []);
  await client.close();
});

test('a database given as a number (Redis keyspace 0) is accepted as its name; negative or fractional numbers are not', async () => {
  const core = fakeCore();
  const client = await connect('admin', core);
  const r = await call(client, 'db_tables', { type: 'redis', database: 0 });
  assert.ok(!r.isError, text(r));
  assert.deepEqual((core.calls.at(-1)!.args as { database: string }).database, '0');
  await call(client, 'db_vacuum', { type: 'redis', database: 3 });
  assert.equal((core.calls.at(-1)!.args as { database: string }).database, '3');
  const q = await call(client, 'db_query', { type: 'redis', database: 0, query: 'DBSIZE' });
  assert.notEqual(q.isError, true, text(q));
  assert.equal((core.calls.at(-1)!.args as { database: string }).database, '0');
  for (const bad of [-1, 1.5]) {
    const e = await call(client, 'db_tables', { type: 'redis', database: bad });
    assert.ok(e.isError, `database ${bad} is refused`);
  }
  const before = core.calls.length;
  assert.ok((await call(client, 'db_tables', { type: 'redis', database: "0'; FLUSHALL" })).isError);
  assert.equal(core.calls.length, before);
  await client.close();
});

test('db_query passes the query text, limits and target to the one core query and renders a table', async () => {
  const core = fakeCore();
  const client = await connect('reader', core);
  const r = await call(client, 'db_query', { type: 'postgresql', database: 'app', query: 'SELECT id, email FROM users', limit: 10, timeout_ms: 2000 });
  assert.notEqual(r.isError, true, text(r));
  assert.deepEqual(core.calls.find((c) => c.op === 'query')?.args, { type: 'postgresql', database: 'app', text: 'SELECT id, email FROM users', limit: 10, timeoutMs: 2000, via: 'mcp' });
  assert.match(text(r), /id\s+email\n1\s+a@x\.test\n2\s+NULL\n\(2 rows\)/);
  assert.equal((r.structuredContent as { account: string }).account, 'portunix_ro');
  // bad input never reaches the core
  const bad = await call(client, 'db_query', { type: 'postgresql', query: '' });
  assert.equal(bad.isError, true);
  const tooMany = await call(client, 'db_query', { type: 'postgresql', query: 'SELECT 1', limit: 100000 });
  assert.equal(tooMany.isError, true);
  assert.equal(core.calls.filter((c) => c.op === 'query').length, 1);
  await client.close();
});

test('db_backup_status carries the per-instance schedule health (structured and one line of text)', async () => {
  const client = await connect('reader');
  const r = await call(client, 'db_backup_status', {});
  assert.notEqual(r.isError, true);
  const s = r.structuredContent as { items: unknown[]; scheduled: { engine: string; overdue: boolean; retained: { size_bytes: number } }[] };
  assert.equal(s.items.length, 1);
  assert.deepEqual(s.scheduled.map((h) => [h.engine, h.overdue, h.retained.size_bytes]), [['postgresql', true, 1234]]);
  const text = (r.content as { type: string; text: string }[])[0]!.text;
  assert.match(text, /^postgresql\/main \(daily\): OVERDUE: app: last good backup is older than 1\.5 × daily; last verify never; kept 1 \(1\.2 kB\)$/m);
  await client.close();
});
