/**
 * Every MCP tool against a real MariaDB 10.11 (Debian's package, installed by the CLI into a
 * fresh PORTUNIX_HOME), through the SDK client over stdio spawning `portunix-db mcp serve`.
 * Issue 4: "All 14 tools answer for this family, mapped to MySQL's catalogs".
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from 'mysql2/promise';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { call, fails, freePort, ok, stdioClient } from '../helpers/mcp.js';

const home = freshHome('mcp-mariadb');
const opts = { home };
const M = { type: 'mariadb' };
let url = '';
let rw: Client;
let ro: Client;
let held: Connection;
let heldId = 0;

async function connect(database?: string): Promise<Connection> {
  const mysql = await import('mysql2/promise');
  const u = new URL(url);
  if (database) u.pathname = `/${database}`;
  // the URL's TLS parameters are MySQL's URI ones (ssl-mode, ssl-ca=<file>); mysql2 takes the certificate itself
  const ca = u.searchParams.get('ssl-ca');
  u.search = '';
  return mysql.createConnection({ uri: u.toString(), multipleStatements: true, ...(ca ? { ssl: { ca: readFileSync(ca, 'utf8'), rejectUnauthorized: true } } : {}) });
}

async function sql<T = Record<string, unknown>>(text: string, database?: string): Promise<T[]> {
  const c = await connect(database);
  try {
    return (await c.query(text))[0] as T[];
  } finally {
    await c.end();
  }
}

describe('mcp over stdio against a real MariaDB 10.11', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    const port = await freePort();
    await cliOk(['install', 'mariadb', '--source', 'apt', '--port', String(port), '-q'], { home, timeoutMs: 600_000 });
    await cliOk(['create', 'app', '--type', 'mariadb', '-q'], opts);
    url = (await cliOk(['url', 'mariadb', '--show-password', '--json'], opts)).json.url as string;
    await sql(
      `CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL UNIQUE COMMENT 'login', age INT, CONSTRAINT age_ok CHECK (age >= 0)) ENGINE=InnoDB;
       CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, user_id INT NOT NULL, total DECIMAL(10,2),
         CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE) ENGINE=InnoDB;
       CREATE INDEX orders_user_idx ON orders(user_id);
       CREATE INDEX orders_user_idx2 ON orders(user_id);
       INSERT INTO users (email, age) SELECT CONCAT('u', seq, '@x.test'), seq % 90 FROM seq_1_to_500;
       INSERT INTO orders (user_id, total) SELECT 1 + seq % 500, seq FROM seq_1_to_2000;
       ANALYZE TABLE users, orders;`,
      'app',
    );
    // one extra client the tools must see
    held = await connect('app');
    held.on('error', () => undefined);
    heldId = Number(((await held.query('SELECT CONNECTION_ID() AS id'))[0] as { id: number }[])[0]!.id);
    rw = await stdioClient(home, ['--allow-write']);
    ro = await stdioClient(home);
  });

  after(async () => {
    await held?.end().catch(() => undefined);
    await rw?.close().catch(() => undefined);
    await ro?.close().catch(() => undefined);
    await runCli(['stop', 'mariadb'], opts);
  });

  it('db_status: running 10.11 from apt, no end-of-life notice', async () => {
    const { s, text: t } = await ok(ro, 'db_status', M);
    assert.equal(s.instances.length, 1);
    const m = s.instances[0];
    assert.equal(m.engine, 'mariadb');
    assert.equal(m.state, 'running');
    assert.equal(m.version, '10.11');
    assert.match(m.full_version, /^10\.11\.\d+/);
    assert.equal(m.source, 'apt');
    assert.equal(typeof m.port, 'number');
    assert.equal(typeof m.uptime_seconds, 'number');
    // 10.11 is supported until 2028: a notice, if any, is about an update, not end of life
    assert.notEqual(m.notice?.eol, true, JSON.stringify(m.notice));
    assert.match(t, /mariadb\/main\s+running\s+10\.11\./);
    const all = await ok(ro, 'db_status');
    assert.ok(all.s.instances.some((i: { engine: string }) => i.engine === 'mariadb'));
  });

  it('db_list and db_size', async () => {
    const { s } = await ok(ro, 'db_list', M);
    const app = s.items.find((d: { name: string }) => d.name === 'app');
    assert.ok(app, JSON.stringify(s.items));
    assert.equal(app.encoding, 'utf8mb4');
    const size = await ok(ro, 'db_size', { ...M, database: 'app' });
    assert.equal(size.s.items.length, 1);
    assert.equal(size.s.items[0].name, 'app');
    assert.ok(size.s.items[0].sizeBytes > 0);
    assert.ok(size.s.total_bytes >= size.s.items[0].sizeBytes);
    const missing = await fails(ro, 'db_size', { ...M, database: 'nope' });
    assert.match(missing, /NOT_FOUND/);
  });

  it('db_tables with sizes, paged', async () => {
    const { s, text: t } = await ok(ro, 'db_tables', { ...M, database: 'app', include_sizes: true });
    assert.deepEqual(s.items.map((x: { name: string }) => x.name), ['orders', 'users']);
    const users = s.items.find((x: { name: string }) => x.name === 'users');
    assert.equal(users.kind, 'table');
    assert.equal(users.schema, 'app');
    assert.equal(typeof users.rows, 'number');
    assert.equal(users.rowsEstimated, true, 'InnoDB row counts are estimates');
    assert.ok(users.sizeBytes > 0);
    assert.match(t, /TABLE\s+KIND\s+ROWS\s+SIZE/);
    const first = await ok(ro, 'db_tables', { ...M, database: 'app', limit: 1 });
    assert.equal(first.s.items.length, 1);
    assert.equal(first.s.truncated, true);
    const second = await ok(ro, 'db_tables', { ...M, database: 'app', limit: 1, cursor: first.s.next_cursor });
    assert.notEqual(second.s.items[0].name, first.s.items[0].name);
  });

  it('db_connections sees the extra client', async () => {
    const { s } = await ok(ro, 'db_connections', M);
    const mine = s.items.find((c: { id: string }) => c.id === String(heldId));
    assert.ok(mine, JSON.stringify(s.items));
    assert.equal(mine.database, 'app');
    assert.equal(mine.user, 'root');
    assert.match(mine.client, /^127\.0\.0\.1:\d+$/);
    assert.match(mine.state, /^Sleep/);
  });

  it('db_performance: counters and gauges, rates on the next sample', async () => {
    const a = await ok(ro, 'db_performance', { ...M, database: 'app' });
    assert.ok(a.s.counters['Questions'] > 0, JSON.stringify(a.s.counters));
    assert.ok('cache_hit_ratio' in a.s.gauges, JSON.stringify(a.s.gauges));
    assert.ok((a.s.gauges.threads_connected as number) >= 2, 'the extra client and the tool are connected');
    assert.match(String(a.s.gauges.server_version), /^10\.11\./);
    assert.ok(a.s.slowQueries?.length || a.s.slowQueriesNote, 'slow statements or a note on why there are none');
    const b = await ok(ro, 'db_performance', { ...M, database: 'app' });
    assert.ok(b.s.rates && 'Questions' in b.s.rates, JSON.stringify(b.s));
    assert.equal(typeof b.s.sample_interval_seconds, 'number');
    const r = await call(ro, 'db_performance', { ...M, enable_statements: true });
    assert.equal(r.isError, true, 'enabling statements is refused on a read-only server');
  });

  it('db_schema: the database is the schema; tables with column counts', async () => {
    const { s } = await ok(ro, 'db_schema', { ...M, database: 'app' });
    assert.equal(s.database, 'app');
    assert.deepEqual(s.schemas, [{ name: 'app', tables: 2, views: 0 }]);
    const orders = s.objects.items.find((o: { name: string }) => o.name === 'orders');
    assert.equal(orders.kind, 'table');
    assert.equal(orders.columns, 3);
    const other = await fails(ro, 'db_schema', { ...M, database: 'app', schema: 'other' });
    assert.match(other, /USAGE/);
    assert.match(other, /--database other/, 'a schema other than the database points at --database');
  });

  it('db_table_info: columns, comment, primary key, exact row count', async () => {
    const { s } = await ok(ro, 'db_table_info', { ...M, database: 'app', table: 'users' });
    assert.equal(s.name, 'users');
    assert.equal(s.kind, 'table');
    assert.deepEqual(s.columns.map((c: { name: string }) => c.name), ['id', 'email', 'age']);
    const email = s.columns.find((c: { name: string }) => c.name === 'email');
    assert.equal(email.nullable, false);
    assert.equal(email.comment, 'login');
    assert.match(email.type, /^varchar\(100\)/);
    assert.deepEqual(s.primaryKey, ['id']);
    assert.equal(s.rows, 500);
    assert.equal(s.rowsEstimated, false);
    assert.ok(s.sizeBytes > 0);
    const missing = await fails(ro, 'db_table_info', { ...M, database: 'app', table: 'nope' });
    assert.match(missing, /NOT_FOUND/);
  });

  it('db_indexes: primary, unique, the FK index and the flagged duplicate', async () => {
    const { s, text: t } = await ok(ro, 'db_indexes', { ...M, database: 'app', table: 'orders' });
    const byName = Object.fromEntries(s.items.map((i: { name: string }) => [i.name, i]));
    assert.ok(byName['PRIMARY']?.primary, Object.keys(byName).join());
    assert.deepEqual(byName['orders_user_idx'].columns, ['user_id']);
    // orders_user_idx2 (and orders_user_idx, which MariaDB uses for the FK) index the same column
    const dups = s.items.filter((i: { duplicateOf?: string }) => i.duplicateOf);
    assert.ok(dups.length >= 1, JSON.stringify(s.items));
    assert.ok(dups.every((i: { table: string; columns: string[] }) => i.table === 'orders' && i.columns.join() === 'user_id'));
    assert.match(t, /DUPLICATE of/);
    const all = await ok(ro, 'db_indexes', { ...M, database: 'app' });
    const email = all.s.items.find((i: { table: string; columns: string[] }) => i.table === 'users' && i.columns.join() === 'email');
    assert.equal(email.unique, true);
    assert.equal(email.duplicateOf, undefined);
  });

  it('db_constraints: primary keys, unique, check, and the FK with its referenced table', async () => {
    const { s, text: t } = await ok(ro, 'db_constraints', { ...M, database: 'app' });
    const fk = s.items.find((c: { type: string }) => c.type === 'foreign key');
    assert.equal(fk.name, 'orders_user_fk');
    assert.equal(fk.table, 'orders');
    assert.deepEqual(fk.columns, ['user_id']);
    assert.equal(fk.references.table, 'users');
    assert.deepEqual(fk.references.columns, ['id']);
    assert.equal(fk.references.onDelete, 'CASCADE');
    const types = new Set(s.items.map((c: { type: string }) => c.type));
    for (const ty of ['primary key', 'unique', 'check']) assert.ok(types.has(ty), ty);
    const check = s.items.find((c: { type: string }) => c.type === 'check');
    assert.equal(check.name, 'age_ok');
    assert.match(check.definition, /age.*>=\s*0/);
    assert.match(t, /-> (app\.)?users\(id\)/);
    const one = await ok(ro, 'db_constraints', { ...M, database: 'app', table: 'users' });
    assert.ok(one.s.items.every((c: { table: string }) => c.table === 'users'));
  });

  it('an injection attempt is an error and changes nothing', async () => {
    const attempts: [string, Record<string, unknown>][] = [
      ['db_tables', { ...M, database: 'x`; DROP DATABASE mysql; --' }],
      ['db_table_info', { ...M, database: 'app', table: 'users`; DROP TABLE users; --' }],
      // passes the generic check (no quotes, no semicolon), refused by the engine's identifier rule
      ['db_indexes', { ...M, database: 'app', table: 'orders) OR (1=1' }],
      ['db_vacuum', { ...M, database: 'app', table: 'users x' }],
    ];
    for (const [name, args] of attempts) await fails(rw, name, args);
    assert.match(await fails(ro, 'db_indexes', { ...M, database: 'app', table: 'orders) OR (1=1' }), /INVALID_IDENTIFIER/);
    const dbs = (await sql<{ n: string }>("SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('mysql', 'app') ORDER BY 1")).map((r) => r.n);
    assert.deepEqual(dbs, ['app', 'mysql']);
    assert.equal((await sql<{ n: number }>('SELECT COUNT(*) AS n FROM users', 'app'))[0]!.n, 500);
  });

  it('--allow-write: db_backup_create, then db_backup_status shows it', async () => {
    const before = await ok(ro, 'db_backup_status', M);
    assert.equal(before.s.items.length, 0);
    const refused = await call(ro, 'db_backup_create', { ...M, database: 'app' });
    assert.equal(refused.isError, true, 'the read-only server has no backup tool');
    const b = await ok(rw, 'db_backup_create', { ...M, database: 'app' });
    assert.ok(existsSync(b.s.file), b.s.file);
    assert.equal(b.s.manifest.engine, 'mariadb');
    assert.equal(b.s.manifest.database, 'app');
    assert.equal(b.s.manifest.scope, 'database');
    assert.equal(b.s.manifest.status, 'complete');
    assert.equal(b.s.manifest.tables, 2);
    assert.match(b.s.manifest.server_version, /^10\.11\./);
    const st = await ok(ro, 'db_backup_status', { ...M, database: 'app' });
    assert.equal(st.s.items.length, 1);
    assert.equal(st.s.items[0].last_backup.file, b.s.file);
    assert.equal(st.s.items[0].last_attempt.ok, true);
    const audit = readFileSync(join(home, 'audit.log'), 'utf8');
    assert.ok(audit.split('\n').some((l) => l.includes('"action":"backup"') && l.includes('"engine":"mariadb"') && l.includes('"via":"mcp"')));
  });

  it('db_vacuum: ANALYZE by default, OPTIMIZE (rebuild) with full', async () => {
    const a = await ok(rw, 'db_vacuum', { ...M, database: 'app' });
    assert.equal(a.s.database, 'app');
    assert.deepEqual(a.s.actions, ['ANALYZE TABLE on 2 table(s) in app']);
    const v = await ok(rw, 'db_vacuum', { ...M, database: 'app', table: 'orders', full: true, analyze: true });
    assert.ok(v.s.actions.some((x: string) => /^OPTIMIZE TABLE on 1 table/.test(x)), v.s.actions.join('; '));
    assert.ok(v.s.actions.some((x: string) => /^ANALYZE TABLE on 1 table/.test(x)), v.s.actions.join('; '));
    assert.ok(readFileSync(join(home, 'audit.log'), 'utf8').split('\n').some((l) => l.includes('"action":"vacuum"') && l.includes('"engine":"mariadb"') && l.includes('"via":"mcp"')));
  });

  it('db_restore: refused without confirm, then restores into a new database', async () => {
    const file = (await ok(ro, 'db_backup_status', { ...M, database: 'app' })).s.items[0].last_backup.file as string;
    const refused = await fails(rw, 'db_restore', { file, target: 'app_copy' });
    assert.match(refused, /CONFIRMATION_REQUIRED/);
    assert.equal((await sql<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'app_copy'"))[0]!.n, 0, 'nothing was restored');
    await sql('DELETE FROM orders WHERE id > 1000', 'app');
    const r = await ok(rw, 'db_restore', { file, target: 'app_copy', confirm: true });
    assert.equal(r.s.engine, 'mariadb');
    assert.equal(r.s.target, 'app_copy');
    assert.ok(r.s.actions.some((a: string) => /created database app_copy/.test(a)), r.s.actions.join('; '));
    assert.equal(r.s.tables.find((t: { name: string }) => /orders$/.test(t.name)).rows, 2000);
    const t = await ok(ro, 'db_tables', { ...M, database: 'app_copy' });
    assert.deepEqual(t.s.items.map((x: { name: string }) => x.name), ['orders', 'users']);
    assert.equal((await sql<{ n: number }>('SELECT COUNT(*) AS n FROM orders', 'app_copy'))[0]!.n, 2000, 'the backup content is back');
    assert.equal((await sql<{ n: number }>('SELECT COUNT(*) AS n FROM orders', 'app'))[0]!.n, 1000, 'the source database is untouched');
    const con = await ok(ro, 'db_constraints', { ...M, database: 'app_copy', table: 'orders' });
    assert.equal(con.s.items.find((c: { type: string }) => c.type === 'foreign key').references.table, 'users');
  });

  it('a stopped server gives an error that says how to start it', async () => {
    await held.end().catch(() => undefined);
    await cliOk(['stop', 'mariadb', '-q'], opts);
    const msg = await fails(ro, 'db_tables', { ...M, database: 'app' });
    assert.match(msg, /mariadb\/main is stopped; start it with `portunix-db start mariadb`/);
    assert.equal((await ok(ro, 'db_status', M)).s.instances[0].state, 'stopped');
  });
});
