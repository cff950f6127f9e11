/**
 * Issue 13 on a real MariaDB 10.11 (Debian's package, installed by the CLI): the read-only account
 * (SELECT and SHOW VIEW on the user databases only), db_query under it, and DBHub 1.4.0 (the real
 * npm package) against the same account. Every bypass is refused by MariaDB, the data is unchanged,
 * the refusals are audited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { call, fails, freePort, ok, text } from '../helpers/mcp.js';
import { dbhubCache, expectRefused, MYSQL_BYPASSES, serve } from '../helpers/query.js';

const home = freshHome('query-mariadb');
const opts = { home };
const M = { type: 'mariadb', database: 'shop' };
const upstreamCache = dbhubCache();
let url = '';
let plain: Client;
let wrapped: { client: Client; pid: number } | undefined;

async function sql<T = Record<string, unknown>>(text: string, database = 'shop'): Promise<T[]> {
  const mysql = await import('mysql2/promise');
  const u = new URL(url);
  u.pathname = `/${database}`;
  const ca = u.searchParams.get('ssl-ca');
  u.search = '';
  const c = await mysql.createConnection({ uri: u.toString(), multipleStatements: true, ...(ca ? { ssl: { ca: readFileSync(ca, 'utf8'), rejectUnauthorized: true } } : {}) });
  try {
    return (await c.query(text))[0] as T[];
  } finally {
    await c.end();
  }
}

async function fingerprint(): Promise<string> {
  const [row] = await sql<{ f: string }>(`SELECT CONCAT((SELECT COUNT(*) FROM users), ':', (SELECT MD5(GROUP_CONCAT(email ORDER BY id)) FROM users), ':', (SELECT GROUP_CONCAT(TABLE_NAME ORDER BY TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop')) AS f`);
  return row!.f;
}

describe('read-only queries on MariaDB 10.11', { timeout: 10 * 60_000 }, () => {
  let before_ = '';
  before(async () => {
    const port = await freePort();
    await cliOk(['install', 'mariadb', '--source', 'apt', '--port', String(port), '-q'], { home, timeoutMs: 600_000 });
    await cliOk(['create', 'shop', '--type', 'mariadb', '-q'], opts);
    url = (await cliOk(['url', 'mariadb', '--show-password', '--json'], opts)).json.url as string;
    await sql(`CREATE TABLE users (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(100) NOT NULL) ENGINE=InnoDB; INSERT INTO users (email) SELECT CONCAT('u', seq, '@x.test') FROM seq_1_to_500;`);
    before_ = await fingerprint();
    plain = (await serve(home, [])).client;
    if (upstreamCache) wrapped = await serve(home, ['--with', 'dbhub', '--target', 'mariadb/main/shop'], upstreamCache);
  });
  after(async () => {
    await plain?.close();
    await wrapped?.client.close();
    await runCli(['stop', 'mariadb'], opts);
  });

  it('user readonly: SELECT and SHOW VIEW on user databases only, a statement time limit', async () => {
    const r = await cliOk(['user', 'readonly', 'mariadb', '--json'], opts);
    assert.equal(r.json.user, 'portunix_ro');
    const grants = (await sql<Record<string, string>>("SHOW GRANTS FOR 'portunix_ro'@'%'")).map((g) => Object.values(g)[0]!).join('\n');
    assert.match(grants, /GRANT USAGE ON \*\.\* TO `portunix_ro`@`%`.*MAX_STATEMENT_TIME 30/s);
    assert.match(grants, /GRANT SELECT, SHOW VIEW ON `shop`\.\* TO `portunix_ro`@`%`/);
    assert.doesNotMatch(grants, /FILE|PROCESS|SUPER|ALL PRIVILEGES|`mysql`/);
  });

  it('db_query answers under portunix_ro, bounded by rows (sql_select_limit)', async () => {
    const { s } = await ok(plain, 'db_query', { ...M, query: 'SELECT id, email FROM users ORDER BY id', limit: 3 });
    assert.equal(s.account, 'portunix_ro');
    assert.deepEqual(s.rows, [[1, 'u1@x.test'], [2, 'u2@x.test'], [3, 'u3@x.test']]);
    assert.equal(s.truncated, true);
    const who = await ok(plain, 'db_query', { ...M, query: 'SELECT CURRENT_USER() AS u' });
    assert.deepEqual(who.s.rows, [['portunix_ro@%']]);
  });

  it('db_query: every bypass is refused by MariaDB, audited; LOAD_FILE answers NULL without FILE', async () => {
    await expectRefused(home, plain, 'db_query', (q) => ({ ...M, query: q }), MYSQL_BYPASSES);
    const lf = await ok(plain, 'db_query', { ...M, query: "SELECT LOAD_FILE('/etc/passwd') AS f" });
    assert.deepEqual(lf.s.rows, [[null]]);
  });

  it('a database created later is readable by the account at once (create extends the grants)', async () => {
    await cliOk(['create', 'later', '--type', 'mariadb', '-q'], opts);
    await sql('CREATE TABLE t (x INT); INSERT INTO t VALUES (7);', 'later');
    const { s } = await ok(plain, 'db_query', { type: 'mariadb', database: 'later', query: 'SELECT x FROM t' });
    assert.deepEqual(s.rows, [[7]]);
    assert.match(await fails(plain, 'db_query', { type: 'mariadb', database: 'later', query: 'DELETE FROM t' }), /PERMISSION_DENIED.*DELETE command denied/);
  });

  it('DBHub 1.4.0 (wrapped): a query works, every bypass is refused by MariaDB, LOAD_FILE is NULL', { skip: upstreamCache ? false : 'dbhub not provisioned (node dist/test/servers/provision.js dbhub)' }, async () => {
    const r = await call(wrapped!.client, 'sql_execute_sql', { sql: 'SELECT CURRENT_USER() AS u, COUNT(*) AS n FROM users' });
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), /"u":"portunix_ro@%","n":500/);
    await expectRefused(home, wrapped!.client, 'sql_execute_sql', (q) => ({ sql: q }), MYSQL_BYPASSES);
    const lf = await call(wrapped!.client, 'sql_execute_sql', { sql: "SELECT LOAD_FILE('/etc/passwd') AS f" });
    assert.match(text(lf), /"f":null/);
    assert.doesNotMatch(text(lf), /root:/);
  });

  it('the data is unchanged; no file was written', async () => {
    assert.equal(await fingerprint(), before_);
    assert.equal(existsSync('/tmp/portunix-q-outfile'), false);
  });
});
