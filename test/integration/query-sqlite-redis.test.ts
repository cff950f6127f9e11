/**
 * Issue 13's db_query on the engines without an upstream here: SQLite (the file opened read-only,
 * mode=ro + query_only, in a worker stopped at the time limit) and Redis 7.0 (an ACL user with
 * +@read -@dangerous). Writes are refused by SQLite and by Redis themselves; DBHub is not offered
 * SQLite (it cannot open a file read-only) and says what to use.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { call, fails, freePort, ok, text } from '../helpers/mcp.js';
import { auditLines, expectRefused, serve } from '../helpers/query.js';

const home = freshHome('query-lite-redis');
const opts = { home };
let client: Client;
let redisPort = 0;

async function redisSend(args: string[]): Promise<unknown> {
  const { createClient } = await import('redis');
  const ca = readFileSync(join(home, 'instances', 'redis', 'main', 'tls', 'server.crt'), 'utf8');
  const password = new URL((await cliOk(['url', 'redis', '--show-password', '--json'], opts)).json.url as string).password;
  const c = createClient({ socket: { host: '127.0.0.1', port: redisPort, tls: true, ca, reconnectStrategy: false }, username: 'default', password: decodeURIComponent(password), RESP: 2 });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await c.sendCommand(args);
  } finally {
    await c.close();
  }
}

describe('db_query on SQLite and Redis', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    await cliOk(['install', 'sqlite', '--source', 'apt', '-q'], { home, timeoutMs: 600_000 });
    await cliOk(['create', 'app', '--type', 'sqlite', '-q'], opts);
    const { default: Database } = await import('better-sqlite3');
    const file = (await cliOk(['list', '--type', 'sqlite', '--json'], opts)).json[0].databases[0].path as string;
    const db = new Database(file);
    db.exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL); WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < 300) INSERT INTO users (email) SELECT 'u' || v || '@x.test' FROM s;`);
    db.close();
    redisPort = await freePort();
    await cliOk(['install', 'redis', '--version=7.0', '--source', 'apt', '--port', String(redisPort), '-q'], { home, timeoutMs: 600_000 });
    await redisSend(['HSET', 'user:1', 'name', 'ada', 'lang', 'en']);
    client = (await serve(home, [])).client;
  });
  after(async () => {
    await client?.close();
    await runCli(['stop', 'redis'], opts);
  });

  it('SQLite: a query works on the file opened read-only', async () => {
    const { s } = await ok(client, 'db_query', { type: 'sqlite', database: 'app', query: 'SELECT id, email FROM users ORDER BY id', limit: 2 });
    assert.deepEqual(s.rows, [[1, 'u1@x.test'], [2, 'u2@x.test']]);
    assert.equal(s.truncated, true);
    assert.match(s.account, /mode=ro/);
  });

  it('SQLite: writes are refused by SQLite (readonly database), even after PRAGMA query_only = OFF; audited', async () => {
    await expectRefused(home, client, 'db_query', (q) => ({ type: 'sqlite', database: 'app', query: q }), [
      { sql: "INSERT INTO users (email) VALUES ('evil@x.test')", refusal: /readonly database|query_only/ },
      { sql: 'DROP TABLE users', refusal: /readonly database|query_only/ },
      { sql: "WITH x AS (SELECT 1) DELETE FROM users", refusal: /readonly database|query_only/ },
      { sql: 'PRAGMA query_only = OFF; DELETE FROM users', refusal: /more than one statement|readonly database/ },
      { sql: 'VACUUM', refusal: /readonly database|query_only/ },
    ]);
    const off = await call(client, 'db_query', { type: 'sqlite', database: 'app', query: 'PRAGMA query_only = OFF' });
    assert.notEqual(off.isError, true, text(off));
    const still = await fails(client, 'db_query', { type: 'sqlite', database: 'app', query: "UPDATE users SET email = 'x'" });
    assert.match(still, /PERMISSION_DENIED.*readonly database/);
    const n = await ok(client, 'db_query', { type: 'sqlite', database: 'app', query: 'SELECT count(*) AS n, max(email) AS m FROM users' });
    assert.deepEqual(n.s.rows, [[300, 'u9@x.test']]);
  });

  it('SQLite: a runaway query is stopped at its time limit', async () => {
    const t = await fails(client, 'db_query', { type: 'sqlite', database: 'app', query: 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c', timeout_ms: 500 });
    assert.match(t, /^Error \[TIMEOUT\]/);
    await ok(client, 'db_query', { type: 'sqlite', database: 'app', query: 'SELECT 1' });
  });

  it('SQLite has no read-only account to make: a typed answer that names db_query', async () => {
    const r = await runCli(['user', 'readonly', 'sqlite'], opts);
    assert.equal(r.code, 5);
    assert.match(r.stderr, /SQLite has no accounts; db_query opens the file read-only/);
  });

  it('Redis: read commands work as the read-only ACL user', async () => {
    const { s } = await ok(client, 'db_query', { type: 'redis', query: 'HGETALL user:1' });
    assert.deepEqual(s.rows, [['name'], ['ada'], ['lang'], ['en']]);
    assert.equal(s.account, 'portunix_ro');
    const acl = String(((await redisSend(['ACL', 'GETUSER', 'portunix_ro'])) as unknown[])[5]);
    // Redis folds "-@dangerous" into the commands it removes from @read (KEYS among them)
    assert.match(acl, /^-@all \+@read /);
    assert.match(acl, /-keys/);
    assert.doesNotMatch(acl, /\+@(write|admin|dangerous|all)/);
  });

  it('Redis: writes and dangerous commands are refused by the ACL (NOPERM), audited', async () => {
    await expectRefused(home, client, 'db_query', (q) => ({ type: 'redis', query: q }), [
      { sql: 'SET user:1 evil', refusal: /NOPERM/ },
      { sql: 'DEL user:1', refusal: /NOPERM/ },
      { sql: 'FLUSHALL', refusal: /NOPERM/ },
      { sql: 'KEYS *', refusal: /NOPERM/ },
      { sql: 'CONFIG SET dir /tmp', refusal: /NOPERM/ },
      // Redis 7 refuses DEBUG by configuration (enable-debug-command no) before the ACL looks
      { sql: 'DEBUG SLEEP 0', refusal: /NOPERM|DEBUG command not allowed/ },
      { sql: 'EVAL "return redis.call(\'set\', \'x\', \'1\')" 0', refusal: /NOPERM/ },
      { sql: 'ACL SETUSER portunix_ro +@all', refusal: /NOPERM/ },
    ]);
    assert.deepEqual(await redisSend(['HGET', 'user:1', 'name']), 'ada');
    assert.equal(await redisSend(['EXISTS', 'x']), 0);
    assert.ok(auditLines(home).some((l) => l.action === 'query' && l.engine === 'redis' && l.ok && l.query === 'HGETALL user:1'));
  });
});
