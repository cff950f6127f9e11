/**
 * Issue 13 on a real PostgreSQL 16 (portable, installed by the CLI): the read-only account the
 * tool provisions, db_query and the `query` command under it, and DBHub 1.4.0 (the real npm
 * package, run by `mcp serve --with dbhub`) against the same account. Every bypass is refused by
 * PostgreSQL itself, the data is unchanged, the refusals are audited; a killed DBHub gives a clear
 * error while db_query keeps working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { pgQuery } from '../helpers/pg.js';
import { call, freePort, ok, text } from '../helpers/mcp.js';
import { auditLines, childPids, dbhubCache, expectRefused, PG_BYPASSES, serve } from '../helpers/query.js';

const home = freshHome('query-pg');
const opts = { home };
const PG = { type: 'postgresql', database: 'shop' };
const upstreamCache = dbhubCache();
let plain: Client;
let wrapped: { client: Client; pid: number } | undefined;

async function fingerprint(): Promise<string> {
  const rows = await pgQuery<{ f: string }>(home, 'main', 'shop', `SELECT (SELECT count(*) FROM users) || ':' || (SELECT md5(string_agg(email, ',' ORDER BY id)) FROM users) || ':' || (SELECT count(*) FROM pg_largeobject_metadata) || ':' || (SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'public'::regnamespace) AS f`);
  return rows[0]!.f;
}

describe('read-only queries on PostgreSQL 16', () => {
  let before_: string;
  before(async () => {
    const port = await freePort();
    await cliOk(['install', 'postgresql', '--version', '16', '--source', 'portable', '--port', String(port), '-q'], opts);
    await cliOk(['create', 'shop', '--type', 'postgresql', '-q'], opts);
    await pgQuery(home, 'main', 'shop', `CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL); INSERT INTO users (email) SELECT 'u' || g || '@x.test' FROM generate_series(1, 500) g`);
    before_ = await fingerprint();
    plain = (await serve(home, [])).client;
    if (upstreamCache) wrapped = await serve(home, ['--with', 'dbhub', '--target', 'postgresql/main/shop'], upstreamCache);
  });
  after(async () => {
    await plain?.close();
    await wrapped?.client.close();
    await runCli(['stop', 'postgresql'], opts);
  });

  it('user readonly provisions portunix_ro with what the server enforces; its password is in the secret store, never printed', async () => {
    const r = await cliOk(['user', 'readonly', 'postgresql', '--json'], opts);
    assert.equal(r.json.user, 'portunix_ro');
    assert.match(r.json.enforcement.join('\n'), /pg_read_all_data/);
    const role = await pgQuery<{ rolsuper: boolean; config: string[]; members: string[] }>(home, 'main', 'postgres', `SELECT rolsuper, rolconfig AS config, ARRAY(SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS members FROM pg_roles r WHERE rolname = 'portunix_ro'`);
    assert.equal(role[0]!.rolsuper, false);
    assert.deepEqual(role[0]!.members, ['pg_read_all_data']);
    assert.ok(role[0]!.config.includes('default_transaction_read_only=on'));
    assert.ok(role[0]!.config.some((c) => c.startsWith('statement_timeout=')));
    assert.ok(role[0]!.config.some((c) => c.startsWith('idle_in_transaction_session_timeout=')));
    const lo = await pgQuery<{ public_can: boolean }>(home, 'main', 'shop', `SELECT has_function_privilege('portunix_ro', 'lo_import(text)', 'EXECUTE') OR has_function_privilege('portunix_ro', 'lo_from_bytea(oid, bytea)', 'EXECUTE') AS public_can`);
    assert.equal(lo[0]!.public_can, false);
    assert.doesNotMatch(r.stdout, /password"\s*:/);
  });

  it('db_query answers a query as portunix_ro, bounded by rows', async () => {
    const { s, text: t } = await ok(plain, 'db_query', { ...PG, query: 'SELECT id, email FROM users ORDER BY id', limit: 5 });
    assert.equal(s.account, 'portunix_ro');
    assert.deepEqual(s.columns, ['id', 'email']);
    assert.equal(s.row_count, 5);
    assert.equal(s.truncated, true);
    assert.equal(s.truncated_reason, 'rows');
    assert.match(t, /^id\s+email\n1\s+u1@x\.test/);
    const who = await ok(plain, 'db_query', { ...PG, query: 'SELECT current_user, current_setting($$default_transaction_read_only$$) AS ro' });
    assert.deepEqual(who.s.rows, [['portunix_ro', 'on']]);
  });

  it('the query command is the same core operation (CLI face)', async () => {
    const r = await cliOk(['query', 'postgresql', '--database', 'shop', 'SELECT count(*) AS n FROM users', '--json'], opts);
    assert.deepEqual(r.json.rows, [['500']]);
    const refused = await runCli(['query', 'postgresql', '--database', 'shop', 'DELETE FROM users'], opts);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /Refused by PostgreSQL: .*read-only transaction/);
  });

  it('db_query: every bypass is refused by PostgreSQL, audited with its text', async () => {
    await expectRefused(home, plain, 'db_query', (sql) => ({ ...PG, query: sql }), PG_BYPASSES);
    const timeout = await call(plain, 'db_query', { ...PG, query: 'SELECT pg_sleep(5)', timeout_ms: 300 });
    assert.equal(timeout.isError, true);
    assert.match(text(timeout), /TIMEOUT|statement timeout/);
  });

  it('DBHub 1.4.0 (wrapped): a query works through sql_execute_sql, described as DBHub under the read-only account', { skip: upstreamCache ? false : 'dbhub not provisioned (node dist/test/servers/provision.js dbhub)' }, async () => {
    const { tools } = await wrapped!.client.listTools();
    const sql = tools.find((t) => t.name === 'sql_execute_sql');
    assert.ok(sql, `tools: ${tools.map((t) => t.name).join(', ')}`);
    assert.match(sql.description ?? '', /^\[DBHub 1\.4\.0, read-only account; postgresql\/main\/shop\]/);
    assert.equal(sql.annotations?.readOnlyHint, true);
    assert.ok(tools.some((t) => t.name === 'db_query'), 'our own tools are still there');
    const r = await call(wrapped!.client, 'sql_execute_sql', { sql: 'SELECT current_user AS u, count(*) AS n FROM users' });
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), /"u":"portunix_ro","n":"500"/);
    assert.ok(auditLines(home).some((l) => l.action === 'mcp:sql_execute_sql' && l.ok && l.query === 'SELECT current_user AS u, count(*) AS n FROM users' && l.upstream === '@bytebase/dbhub@1.4.0'));
  });

  it('DBHub: every bypass is refused by PostgreSQL (not by a filter), audited', { skip: upstreamCache ? false : 'dbhub not provisioned' }, async () => {
    await expectRefused(home, wrapped!.client, 'sql_execute_sql', (sql) => ({ sql }), PG_BYPASSES);
    // a pooled connection keeps a SET: the privileges still refuse the write
    await call(wrapped!.client, 'sql_execute_sql', { sql: 'SET default_transaction_read_only = off' });
    await expectRefused(home, wrapped!.client, 'sql_execute_sql', (sql) => ({ sql }), [{ sql: "INSERT INTO users (email) VALUES ('evil2@x.test')", refusal: /permission denied for table users|read-only transaction/ }]);
  });

  it('the data is unchanged and no program or file was run or written', async () => {
    assert.equal(await fingerprint(), before_);
    assert.equal(existsSync('/tmp/portunix-q-pwned'), false);
    assert.equal(existsSync('/tmp/portunix-q-lo'), false);
  });

  it('DBHub killed mid-session: its tools answer a typed error, db_query keeps working', { skip: upstreamCache ? false : 'dbhub not provisioned' }, async () => {
    const pids = childPids(wrapped!.pid, /dbhub/);
    assert.equal(pids.length, 1, 'one DBHub child');
    process.kill(pids[0]!, 'SIGKILL');
    let r = await call(wrapped!.client, 'sql_execute_sql', { sql: 'SELECT 1' });
    for (let i = 0; i < 20 && !r.isError; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await call(wrapped!.client, 'sql_execute_sql', { sql: 'SELECT 1' });
    }
    assert.equal(r.isError, true);
    assert.match(text(r), /^Error \[UPSTREAM_FAILED\]: DBHub is not running \(DBHub exited.*\nNext: Restart the MCP server \(`portunix-db mcp serve --with dbhub`\); db_query answers meanwhile\./s);
    const still = await ok(wrapped!.client, 'db_query', { ...PG, query: 'SELECT count(*) FROM users' });
    assert.deepEqual(still.s.rows, [['500']]);
    await ok(wrapped!.client, 'db_status', {});
  });

  it('DBHub not installed: the server starts without its tools, says what to run, and db_query works', async () => {
    const empty = freshHome('no-upstream');
    const { client } = await serve(home, ['--with', 'dbhub'], empty);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      assert.ok(!names.some((n) => n.startsWith('sql_')), names.join(', '));
      assert.match(client.getInstructions() ?? '', /dbhub is unavailable: DBHub 1\.4\.0 \(@bytebase\/dbhub\) is not installed\. Run `portunix-db mcp upstream install dbhub`/);
      const { s } = await ok(client, 'db_query', { ...PG, query: 'SELECT 1 AS one' });
      assert.deepEqual(s.rows, [[1]]);
    } finally {
      await client.close();
    }
  });
});
