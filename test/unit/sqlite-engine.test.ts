/**
 * The SQLite engine's operations against real temporary files, in-process (better-sqlite3).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, closeSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { engine } from '../../src/engines/sqlite/index.js';
import { need } from '../../src/engines/need.js';
import { parseCreateTable, tokenize } from '../../src/engines/sqlite/inspect.js';
import { validateIdentifier } from '../../src/engines/sqlite/identifiers.js';
import { createInstanceContext } from '../../src/core/instance-context.js';
import { putInstance, saveConfig, type InstanceConfig } from '../../src/core/config.js';
import type { BackupManifestView, InstanceContext } from '../../src/engines/contract.js';

let root: string;
let ctx: InstanceContext;
const savedHome = process.env['PORTUNIX_HOME'];

const code = (c: string) => (e: unknown) => (e as { code?: string }).code === c;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'pdb-sqlite-unit-'));
  process.env['PORTUNIX_HOME'] = root;
  const config: InstanceConfig = { version: '3', host: '127.0.0.1', data_dir: join(root, 'data'), backup_dir: join(root, 'backups'), auto_backup: false, backup_schedule: 'daily', source: 'embedded' };
  await saveConfig(putInstance({ databases: {} }, { engine: 'sqlite', name: 'main' }, config));
  ctx = createInstanceContext('sqlite', 'main', config);
  await need(engine, 'initialize')(ctx);
  mkdirSync(join(root, 'backups'), { recursive: true });
});

after(() => {
  if (savedHome === undefined) delete process.env['PORTUNIX_HOME'];
  else process.env['PORTUNIX_HOME'] = savedHome;
  rmSync(root, { recursive: true, force: true });
});

function file(name: string): string {
  return join(root, 'data', `${name}.db`);
}

function exec(name: string, sql: string): void {
  const db = new Database(file(name));
  db.exec(sql);
  db.close();
}

const SHOP = `
  CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT CHECK (length(name) > 0), age INT CONSTRAINT adult CHECK(age >= 18));
  CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers ON DELETE CASCADE,
    total REAL NOT NULL,
    note TEXT DEFAULT 'a, b) CHECK (x',  -- a comment: CHECK (nope)
    /* block CHECK (nope) */
    CONSTRAINT positive_total CHECK (total >= 0 AND (note IS NULL OR note <> 'CHECK(1)')),
    CONSTRAINT uq_customer_note UNIQUE (customer_id, note)
  );
  CREATE INDEX orders_customer ON orders(customer_id);
  CREATE INDEX orders_customer_again ON orders(customer_id);
  CREATE VIEW big AS SELECT * FROM orders WHERE total > 100;
  INSERT INTO customers(email, name, age) VALUES ('a@x', 'A', 30), ('b@x', 'B', 40);
  INSERT INTO orders(customer_id, total, note) VALUES (1, 10, 'n1'), (2, 200.5, 'n2'), (2, 3, NULL);
`;

test('identifiers: database names are file-name-safe; tables are double-quoted; users do not exist', () => {
  for (const bad of ['../etc/passwd', 'x"; DROP TABLE t; --', 'a.b', 'a/b', 'a\\b', '', ' x', 'con', 'x'.repeat(65)]) {
    assert.throws(() => validateIdentifier('database', bad), code('INVALID_IDENTIFIER'), bad);
  }
  assert.equal(validateIdentifier('database', 'app_1-x'), 'app_1-x');
  assert.equal(validateIdentifier('table', 'x"; DROP TABLE t; --'), '"x""; DROP TABLE t; --"');
  assert.throws(() => validateIdentifier('table', 'a\u0000b'), code('INVALID_IDENTIFIER'));
  assert.throws(() => validateIdentifier('user', 'bob'), (e: Error & { code?: string }) => e.code === 'NOT_APPLICABLE' && /no users or grants/.test(e.message));
  assert.throws(() => validateIdentifier('schema', 'public'), code('NOT_FOUND'));
});

test('not applicable: server lifecycle, users, grants and connections say what to use instead', () => {
  for (const op of ['launchSpec', 'isReady', 'shutdown'] as const) assert.throws(() => need(engine, op), (e: Error & { code?: string }) => e.code === 'NOT_APPLICABLE' && /status sqlite/.test(e.message));
  for (const op of ['listUsers', 'createUser', 'deleteUser', 'grant', 'revoke'] as const) assert.throws(() => need(engine, op), /file permissions/);
  assert.throws(() => need(engine, 'connections'), (e: Error & { code?: string }) => e.code === 'NOT_APPLICABLE' && /status sqlite/.test(e.message));
});

test('CREATE TABLE parser: CHECKs, named constraints, strings, comments and quoted names', () => {
  const sql = `CREATE TABLE "we""ird" ( [a b] INT CHECK ("a b" > 0) CONSTRAINT nn NOT NULL, "c,d" TEXT DEFAULT ')(' CHECK (length("c,d") < 5 AND "c,d" <> 'CHECK (z)'),
    e INT REFERENCES parent(id), -- CHECK (comment)
    CONSTRAINT pk PRIMARY KEY ([a b], e), UNIQUE ("c,d" COLLATE nocase DESC), CONSTRAINT fk2 FOREIGN KEY (e) REFERENCES "other t" (x),
    CHECK ((e % 2) = 0), CONSTRAINT "named check" CHECK (e IN (2, 4)))`;
  const p = parseCreateTable(sql);
  assert.deepEqual(p.columns, ['a b', 'c,d', 'e']);
  const checks = p.constraints.filter((c) => c.type === 'check');
  assert.deepEqual(checks.map((c) => c.expression), ['"a b" > 0', `length("c,d") < 5 AND "c,d" <> 'CHECK (z)'`, '(e % 2) = 0', 'e IN (2, 4)']);
  assert.deepEqual(checks.map((c) => c.columns), [['a b'], ['c,d'], [], []]);
  assert.equal(checks[3]!.name, 'named check');
  assert.equal(checks[0]!.name, undefined);
  assert.deepEqual(p.constraints.find((c) => c.type === 'primary key'), { type: 'primary key', name: 'pk', columnLevel: false, columns: ['a b', 'e'] });
  assert.deepEqual(p.constraints.find((c) => c.type === 'unique')!.columns, ['c,d']);
  const fks = p.constraints.filter((c) => c.type === 'foreign key');
  assert.deepEqual(fks.map((f) => [f.name, f.columns, f.references]), [[undefined, ['e'], 'parent'], ['fk2', ['e'], 'other t']]);
  assert.deepEqual(parseCreateTable('CREATE TABLE t AS SELECT 1 AS x'), { columns: [], constraints: [] });
  assert.deepEqual(tokenize("a 'it''s' \"q\"\"q\"").map((t) => t.value), ['a', "it's", 'q"q']);
});

test('create, list, duplicate, drop (with -wal and -shm)', async () => {
  const r = await need(engine, 'createDatabase')(ctx, 'scratch', {});
  assert.equal(r.created, true);
  assert.ok(existsSync(file('scratch')));
  await assert.rejects(need(engine, 'createDatabase')(ctx, 'scratch', {}), code('ALREADY_EXISTS'));
  await assert.rejects(need(engine, 'createDatabase')(ctx, 'other', { collation: 'x' }), code('USAGE'));
  const list = await need(engine, 'listDatabases')(ctx);
  assert.ok(list.some((d) => d.name === 'scratch' && d.path === file('scratch') && (d.sizeBytes ?? 0) > 0));
  // leave a -wal/-shm pair behind, as a crashed writer would
  writeFileSync(file('scratch') + '-wal', '');
  writeFileSync(file('scratch') + '-shm', '');
  await need(engine, 'dropDatabase')(ctx, 'scratch');
  for (const s of ['', '-wal', '-shm']) assert.equal(existsSync(file('scratch') + s), false, s);
  await assert.rejects(need(engine, 'dropDatabase')(ctx, 'scratch'), code('NOT_FOUND'));
});

test('inspection: tables, schema, table info, indexes (duplicates), constraints (FK to implicit PK, CHECKs)', async () => {
  await need(engine, 'createDatabase')(ctx, 'shop', {});
  exec('shop', SHOP);
  const tables = await need(engine, 'listTables')(ctx, { database: 'shop', includeSizes: true });
  assert.deepEqual(tables.map((t) => [t.name, t.kind, t.rows]), [['big', 'view', undefined], ['customers', 'table', 2], ['orders', 'table', 3]]);
  assert.ok((tables.find((t) => t.name === 'orders')!.sizeBytes ?? 0) >= 4096 * 4, 'orders + its 3 indexes');
  const s = await need(engine, 'schema')(ctx, { database: 'shop' });
  assert.deepEqual(s.schemas, [{ name: 'main', tables: 2, views: 1 }]);
  const info = await need(engine, 'tableInfo')(ctx, { database: 'shop', table: 'ORDERS' });
  assert.equal(info.name, 'orders');
  assert.deepEqual(info.primaryKey, ['id']);
  assert.deepEqual(info.columns.map((c) => [c.name, c.type, c.nullable]), [['id', 'INTEGER', false], ['customer_id', 'INTEGER', false], ['total', 'REAL', false], ['note', 'TEXT', true]]);
  assert.equal(info.columns[3]!.default, `'a, b) CHECK (x'`);
  await assert.rejects(need(engine, 'tableInfo')(ctx, { database: 'shop', table: 'x"; DROP TABLE customers; --' }), code('NOT_FOUND'));
  await assert.rejects(need(engine, 'tableInfo')(ctx, { database: 'shop', table: 'order' }), (e: Error & { hint?: string }) => /Did you mean orders/.test(e.hint ?? ''));
  assert.equal((await need(engine, 'listTables')(ctx, { database: 'shop', includeSizes: false })).length, 3, 'nothing was dropped');

  const idx = await need(engine, 'indexes')(ctx, { database: 'shop' });
  const dup = idx.find((i) => i.name === 'orders_customer_again')!;
  assert.equal(dup.duplicateOf, 'orders_customer');
  assert.equal(idx.find((i) => i.name === 'orders_customer')!.duplicateOf, undefined);
  const uq = idx.find((i) => i.table === 'orders' && i.unique)!;
  assert.deepEqual(uq.columns, ['customer_id', 'note']);
  assert.deepEqual(idx.find((i) => i.table === 'customers')!.columns, ['email']);

  const cons = await need(engine, 'constraints')(ctx, { database: 'shop' });
  const fk = cons.find((c) => c.type === 'foreign key')!;
  assert.deepEqual([fk.table, fk.columns, fk.references?.table, fk.references?.columns, fk.references?.onDelete], ['orders', ['customer_id'], 'customers', ['id'], 'CASCADE']);
  const checks = cons.filter((c) => c.type === 'check');
  assert.deepEqual(checks.map((c) => [c.table, c.name, c.definition]), [
    ['customers', 'customers_check1', 'CHECK (length(name) > 0)'],
    ['customers', 'adult', 'CHECK (age >= 18)'],
    ['orders', 'positive_total', `CHECK (total >= 0 AND (note IS NULL OR note <> 'CHECK(1)'))`],
  ]);
  assert.deepEqual(checks[2]!.columns, ['total', 'note']);
  assert.deepEqual(cons.filter((c) => c.type === 'unique').map((c) => [c.name, c.columns]), [['sqlite_autoindex_customers_1', ['email']], ['uq_customer_note', ['customer_id', 'note']]]);
  assert.deepEqual(cons.filter((c) => c.type === 'primary key').map((c) => c.table), ['customers', 'orders']);
  assert.equal((await need(engine, 'constraints')(ctx, { database: 'shop', table: 'customers' })).every((c) => c.table === 'customers'), true);
});

test('status, sizes, performance and health (an FK violation warns; a corrupt file fails)', async () => {
  const st = (await need(engine, 'embeddedStatus')(ctx)) as { databases: { name: string; integrity: string; journal_mode: string; page_size: number; size_bytes: number }[] };
  const shop = st.databases.find((d) => d.name === 'shop')!;
  assert.deepEqual([shop.integrity, shop.journal_mode, shop.page_size], ['ok', 'wal', 4096]);
  assert.ok(shop.size_bytes > 0);
  const perf = await need(engine, 'performance')(ctx, { database: 'shop' });
  assert.equal(perf.gauges['page_size'], 4096);
  assert.equal(typeof perf.gauges['freelist_count'], 'number');
  assert.ok(perf.bloat && perf.bloat[0]!.ratio !== undefined);
  exec('shop', 'PRAGMA foreign_keys = OFF; INSERT INTO orders(customer_id, total) VALUES (99, 1)'); // as the sqlite3 shell allows by default
  let checks = await need(engine, 'health')(ctx);
  assert.equal(checks.find((c) => c.name === 'shop: foreign keys')!.status, 'warn');
  assert.equal(checks.find((c) => c.name === 'shop: integrity')!.status, 'ok');
  exec('shop', 'DELETE FROM orders WHERE customer_id = 99');

  await need(engine, 'createDatabase')(ctx, 'broken', {});
  exec('broken', `PRAGMA journal_mode=DELETE; CREATE TABLE t (x TEXT); CREATE INDEX tx ON t(x); INSERT INTO t SELECT hex(randomblob(200)) FROM generate_series(1, 500);`.replace('generate_series(1, 500)', '(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) SELECT i FROM n)'));
  const size = statSync(file('broken')).size;
  const fd = openSync(file('broken'), 'r+');
  writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, size - 4096 * 3);
  closeSync(fd);
  checks = await need(engine, 'health')(ctx);
  assert.equal(checks.find((c) => c.name.startsWith('broken:'))!.status, 'fail');
  await need(engine, 'dropDatabase')(ctx, 'broken');
});

test('fingerprint: order-independent and unchanged by VACUUM; data changes change it', async () => {
  await need(engine, 'createDatabase')(ctx, 'fa', {});
  await need(engine, 'createDatabase')(ctx, 'fb', {});
  exec('fa', `CREATE TABLE t (a, b); INSERT INTO t VALUES (1, 'x'), (2.5, NULL), (X'00ff', 'y'), (1, 'x');`);
  exec('fb', `CREATE TABLE t (a, b); INSERT INTO t VALUES (X'00ff', 'y'), (1, 'x'), (1, 'x'), (2.5, NULL);`);
  const a = await need(engine, 'fingerprint')(ctx, 'fa');
  const b = await need(engine, 'fingerprint')(ctx, 'fb');
  assert.deepEqual(a, b);
  assert.equal(a[0]!.rows, 4);
  await need(engine, 'vacuum')(ctx, { database: 'fb', full: true, analyze: true });
  assert.deepEqual(await need(engine, 'fingerprint')(ctx, 'fb'), a);
  exec('fb', `UPDATE t SET b = 'z' WHERE b = 'y'`);
  assert.notEqual((await need(engine, 'fingerprint')(ctx, 'fb'))[0]!.checksum, a[0]!.checksum);
  exec('fa', `DELETE FROM t WHERE rowid = (SELECT max(rowid) FROM t)`);
  assert.equal((await need(engine, 'fingerprint')(ctx, 'fa'))[0]!.rows, 3);
});

test('backup, restore (new name, replace, refuse without replace) and a corrupt backup is caught first', async () => {
  const backupFile = join(root, 'backups', 'shop.sqlite');
  const outcome = await need(engine, 'backup')(ctx, { database: 'shop', file: backupFile });
  assert.equal(outcome.scope, 'database');
  assert.equal(outcome.format, 'sqlite');
  assert.deepEqual(outcome.tables, await need(engine, 'fingerprint')(ctx, 'shop'));
  assert.equal(existsSync(backupFile + '-wal'), false, 'the backup is one self-contained file');
  const manifest: BackupManifestView = { engine: 'sqlite', instance: 'main', database: 'shop', method: outcome.method, format: outcome.format, scope: 'database', serverVersion: outcome.serverVersion, tables: outcome.tables };
  const verified = await need(engine, 'verifyBackup')(ctx, { file: backupFile, manifest });
  assert.deepEqual(verified.tables, outcome.tables);

  const r1 = await need(engine, 'restore')(ctx, { file: backupFile, manifest, target: 'shop_copy', replace: false });
  assert.deepEqual(r1.tables, outcome.tables);
  assert.match(r1.actions.join('\n'), /created database shop_copy/);
  await assert.rejects(need(engine, 'restore')(ctx, { file: backupFile, manifest, target: 'shop', replace: false }), code('ALREADY_EXISTS'));
  await assert.rejects(need(engine, 'restore')(ctx, { file: backupFile, manifest, target: '../evil', replace: true }), code('INVALID_IDENTIFIER'));

  exec('shop', 'DELETE FROM orders');
  const r2 = await need(engine, 'restore')(ctx, { file: backupFile, manifest, target: 'shop', replace: true });
  assert.match(r2.actions.join('\n'), /replaced database shop .*old copy kept as .*shop_old_/);
  assert.deepEqual(await need(engine, 'fingerprint')(ctx, 'shop'), outcome.tables);
  const old = (await need(engine, 'listDatabases')(ctx)).find((d) => d.name.startsWith('shop_old_'))!;
  const oldOrders = (await need(engine, 'fingerprint')(ctx, old.name)).find((t) => t.name === 'orders')!;
  assert.equal(oldOrders.rows, 0, 'the replaced content is kept as it was');
  await need(engine, 'dropDatabase')(ctx, old.name);

  // flip bytes inside the backup: detected before anything is touched
  const corrupt = join(root, 'backups', 'corrupt.sqlite');
  const bytes = readFileSync(backupFile);
  for (let i = 4096; i < bytes.length; i += 97) bytes[i] = bytes[i]! ^ 0x5a;
  writeFileSync(corrupt, bytes);
  const before = await need(engine, 'fingerprint')(ctx, 'shop');
  await assert.rejects(need(engine, 'restore')(ctx, { file: corrupt, manifest, target: 'shop', replace: true }), code('BACKUP_CORRUPT'));
  await assert.rejects(need(engine, 'restore')(ctx, { file: corrupt, manifest, target: 'fresh', replace: false }), code('BACKUP_CORRUPT'));
  assert.equal(existsSync(file('fresh')), false);
  assert.deepEqual(await need(engine, 'fingerprint')(ctx, 'shop'), before);
  // not a database at all
  writeFileSync(corrupt, 'hello, not sqlite'.repeat(100));
  await assert.rejects(need(engine, 'verifyBackup')(ctx, { file: corrupt, manifest }), code('BACKUP_CORRUPT'));
  // a manifest that does not match the file (e.g. another backup's)
  const wrong = { ...manifest, tables: manifest.tables.map((t) => ({ ...t, rows: t.rows + 1 })) };
  await assert.rejects(need(engine, 'restore')(ctx, { file: backupFile, manifest: wrong, target: 'fresh', replace: false }), code('BACKUP_CORRUPT'));
  assert.deepEqual((await import('node:fs')).readdirSync(join(root, 'data')).filter((f) => f.includes('restore')), [], 'no temporary files left');
});

test('config: per-file pragmas with <db>.<pragma> keys', async () => {
  const list = await need(engine, 'configList')(ctx);
  assert.ok(list.some((s) => s.name === 'shop.journal_mode' && s.value === 'wal'));
  await assert.rejects(need(engine, 'configGet')(ctx, 'journal_mode'), (e: Error & { code?: string; hint?: string }) => e.code === 'USAGE' && /<database>\.journal_mode/.test(e.hint ?? ''));
  await assert.rejects(need(engine, 'configGet')(ctx, 'shop.jurnal_mode'), (e: Error & { hint?: string }) => /Did you mean journal_mode/.test(e.hint ?? ''));
  await assert.rejects(need(engine, 'configGet')(ctx, 'nope.journal_mode'), code('NOT_FOUND'));
  await assert.rejects(need(engine, 'configGet')(ctx, '../x.journal_mode'), code('INVALID_IDENTIFIER'));
  const set = await need(engine, 'configSet')(ctx, 'shop.user_version', '42');
  assert.deepEqual([set.previous, set.value, set.applied], ['0', '42', 'live']);
  assert.equal((await need(engine, 'configGet')(ctx, 'shop.user_version')).value, '42');
  await assert.rejects(need(engine, 'configSet')(ctx, 'shop.user_version', '1; DROP TABLE orders'), code('USAGE'));
  await assert.rejects(need(engine, 'configSet')(ctx, 'shop.journal_mode', 'memory'), code('USAGE'));
  await assert.rejects(need(engine, 'configSet')(ctx, 'shop.page_size', '1000'), code('USAGE'));
  await assert.rejects(need(engine, 'configSet')(ctx, 'shop.encoding', 'UTF-16le'), code('USAGE'));
  const before = await need(engine, 'fingerprint')(ctx, 'shop');
  const ps = await need(engine, 'configSet')(ctx, 'shop.page_size', '8192'); // WAL file: leaves WAL, VACUUMs, returns
  assert.equal(ps.value, '8192');
  assert.equal((await need(engine, 'configGet')(ctx, 'shop.journal_mode')).value, 'wal');
  assert.equal((await need(engine, 'configSet')(ctx, 'shop.auto_vacuum', 'incremental')).value, 'incremental');
  assert.equal((await need(engine, 'configSet')(ctx, 'shop.journal_mode', 'delete')).value, 'delete');
  assert.deepEqual(await need(engine, 'fingerprint')(ctx, 'shop'), before, 'config changes keep the data');
  const v = await need(engine, 'vacuum')(ctx, { database: 'shop', full: false, analyze: false });
  assert.match(v.actions.join('\n'), /incremental_vacuum[\s\S]*PRAGMA optimize/);
});

test('registration by path: an existing file elsewhere is listed, inspected, and unregistered on drop (file kept)', async () => {
  const elsewhere = mkdtempSync(join(tmpdir(), 'pdb-sqlite-ext-'));
  const path = join(elsewhere, 'legacy.sqlite');
  const db = new Database(path);
  db.exec('CREATE TABLE k (v TEXT); INSERT INTO k VALUES (1), (2)');
  db.close();
  try {
    const r = await need(engine, 'createDatabase')(ctx, 'legacy', { path });
    assert.match(r.message ?? '', /Registered/);
    assert.deepEqual(ctx.config.registered_files, [`legacy=${path}`]);
    const cfg = JSON.parse(readFileSync(join(root, 'config.json'), 'utf8')) as { databases: { sqlite: { registered_files?: string[] } } };
    assert.deepEqual(cfg.databases.sqlite.registered_files, [`legacy=${path}`]);
    assert.ok((await need(engine, 'listDatabases')(ctx)).some((d) => d.name === 'legacy' && d.path === path));
    assert.equal((await need(engine, 'listTables')(ctx, { database: 'legacy', includeSizes: false }))[0]!.rows, 2);
    await assert.rejects(need(engine, 'createDatabase')(ctx, 'legacy2', { path }), code('ALREADY_EXISTS'));
    writeFileSync(join(elsewhere, 'notdb.txt'), 'plain text, long enough to not be an empty database file');
    await assert.rejects(need(engine, 'createDatabase')(ctx, 'notdb', { path: join(elsewhere, 'notdb.txt') }), code('QUERY_FAILED'));
    await need(engine, 'dropDatabase')(ctx, 'legacy');
    assert.ok(existsSync(path), 'a registered file is the user\'s: drop only unregisters it');
    assert.equal(ctx.config.registered_files, undefined);
    assert.ok(!(await need(engine, 'listDatabases')(ctx)).some((d) => d.name === 'legacy'));
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
});
