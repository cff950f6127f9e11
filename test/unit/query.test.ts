import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readonlyPlan, LARGE_OBJECT_WRITERS } from '../../src/engines/postgresql/query.js';
import { readonlyGrants } from '../../src/engines/mysql-family/query.js';
import { READONLY_RULES, splitCommand } from '../../src/engines/redis/query.js';
import { boundRows, jsonCell } from '../../src/core/ops/query.js';
import { dbhubToml } from '../../src/mcp/upstreams/dbhub.js';
import { parseUpstreams } from '../../src/mcp/upstreams/index.js';
import { boundResult, minimumNode, parseTarget, resolveUpstream, upstreamError } from '../../src/mcp/upstream.js';
import { dbhub } from '../../src/mcp/upstreams/dbhub.js';
import { DbError } from '../../src/core/errors.js';

test('PostgreSQL read-only plan: pg_read_all_data only, no server-file or program roles, read-only default, timeouts, no large-object writers', () => {
  const p = readonlyPlan({ role: '"portunix_ro"', others: ['"app"'], serverVersionNum: 160004, statementTimeoutMs: 30000 });
  assert.ok(p.server.includes('GRANT pg_read_all_data TO "portunix_ro"'));
  for (const r of ['pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program', 'pg_write_all_data']) assert.ok(p.server.includes(`REVOKE ${r} FROM "portunix_ro"`), r);
  assert.ok(p.server.some((s) => /NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS/.test(s)));
  assert.ok(p.server.includes('ALTER ROLE "portunix_ro" SET default_transaction_read_only = on'));
  assert.ok(p.server.includes('ALTER ROLE "portunix_ro" SET statement_timeout = 30000'));
  assert.ok(p.server.some((s) => s.startsWith('ALTER ROLE "portunix_ro" SET idle_in_transaction_session_timeout = ')));
  assert.match(p.perDatabase[0]!, /^REVOKE EXECUTE ON FUNCTION lo_create\(oid\), .*lo_import\(text\), .*lo_export\(oid, text\).* FROM PUBLIC$/);
  assert.equal(LARGE_OBJECT_WRITERS.length, 11);
  // what PUBLIC loses, the other roles get back; schema public's CREATE only matters before 15
  assert.ok(p.perDatabase.some((s) => s.startsWith('GRANT EXECUTE ON FUNCTION') && s.endsWith('TO "app"')));
  assert.ok(!p.perDatabase.some((s) => s.includes('SCHEMA public')));
  const old = readonlyPlan({ role: '"portunix_ro"', others: [], serverVersionNum: 140010, statementTimeoutMs: 5000 });
  assert.ok(old.perDatabase.includes('REVOKE CREATE ON SCHEMA public FROM PUBLIC'));
  assert.ok(!old.perDatabase.some((s) => s.startsWith('GRANT')), 'no GRANT with an empty role list');
});

test('MySQL family read-only grants: SELECT and SHOW VIEW per user database, statement time on MariaDB', () => {
  const m = readonlyGrants({ account: "'portunix_ro'@'%'", databases: ['shop', 'a`b'], flavour: { id: 'mariadb' }, statementTimeoutMs: 30000 });
  assert.deepEqual(m, [
    "REVOKE ALL PRIVILEGES, GRANT OPTION FROM 'portunix_ro'@'%'",
    "GRANT SELECT, SHOW VIEW ON `shop`.* TO 'portunix_ro'@'%'",
    "GRANT SELECT, SHOW VIEW ON `a``b`.* TO 'portunix_ro'@'%'",
    "ALTER USER 'portunix_ro'@'%' WITH MAX_USER_CONNECTIONS 20 MAX_STATEMENT_TIME 30",
  ]);
  const my = readonlyGrants({ account: "'portunix_ro'@'%'", databases: [], flavour: { id: 'mysql' }, statementTimeoutMs: 30000 });
  assert.ok(!my.some((s) => /FILE|PROCESS|SUPER|\*\.\*/.test(s)));
  assert.ok(!my.some((s) => s.includes('MAX_STATEMENT_TIME')));
});

test('Redis read-only ACL and command splitting', () => {
  assert.deepEqual(READONLY_RULES.slice(0, 7), ['reset', 'on', '~*', '&*', '-@all', '+@read', '-@dangerous']);
  for (const c of ['-keys', '-debug', '-config']) assert.ok(READONLY_RULES.includes(c));
  assert.ok(!READONLY_RULES.some((r) => /^\+@(write|admin|all|dangerous)/.test(r)));
  assert.deepEqual(splitCommand('HGETALL user:1'), ['HGETALL', 'user:1']);
  assert.deepEqual(splitCommand(`GET "my key" 'it''s'  x\\y`), ['GET', 'my key', 'its', 'x\\y']);
  assert.deepEqual(splitCommand('GET "a\\"b"'), ['GET', 'a"b']);
  assert.deepEqual(splitCommand('SET ""'), ['SET', '']);
  assert.throws(() => splitCommand('GET "open'), /Unbalanced quotes/);
});

test('query results: JSON-safe cells and a byte bound that keeps whole rows', () => {
  assert.equal(jsonCell(10n), '10');
  assert.equal(jsonCell(new Date('2024-01-02T03:04:05Z')), '2024-01-02T03:04:05.000Z');
  assert.deepEqual(jsonCell(Buffer.from('x')), { base64: 'eA==' });
  assert.equal(jsonCell(undefined), null);
  const rows = Array.from({ length: 1000 }, (_, i) => [i, 'x'.repeat(100)]);
  const b = boundRows(rows, 10_000);
  assert.equal(b.cut, true);
  assert.ok(b.rows.length > 50 && b.rows.length < 100, String(b.rows.length));
  assert.ok(Buffer.byteLength(JSON.stringify(b.rows)) <= 10_000);
  // one huge cell is shortened, not dropped
  const huge = boundRows([['y'.repeat(100_000)]], 4096);
  assert.equal(huge.rows.length, 1);
  assert.match(String(huge.rows[0]![0]), /…\[cut\]$/);
  assert.deepEqual(boundRows([[1]], 1024), { rows: [[1]], cut: false });
});

test('DBHub TOML: one source and tools entry per instance, limits passed, strings escaped, no keyword filter', () => {
  const toml = dbhubToml(
    [
      { engine: 'postgresql', instance: 'main', settings: { dsn: 'postgres://portunix_ro:p%22w@127.0.0.1:5432/shop', sslmode: 'verify-ca', sslrootcert: '/x/server.crt' } },
      { engine: 'mariadb', instance: 'b-2', settings: { dsn: 'mariadb://portunix_ro:"q"@127.0.0.1:3306/', sslmode: 'require' } },
    ],
    { maxRows: 200, timeoutMs: 30000 },
  );
  assert.match(toml, /\[\[sources\]\]\nid = "postgresql_main"\ndsn = "postgres:\/\/portunix_ro:p%22w@127\.0\.0\.1:5432\/shop"\nsslmode = "verify-ca"\nsslrootcert = "\/x\/server\.crt"\nconnection_timeout = 10\nquery_timeout = 30/);
  assert.match(toml, /id = "mariadb_b_2"\ndsn = "mariadb:\/\/portunix_ro:\\"q\\"@127/);
  assert.equal((toml.match(/max_rows = 200/g) ?? []).length, 2);
  assert.doesNotMatch(toml, /readonly/);
});

test('upstream plumbing: names, targets, node ranges, bounded results, errors in our shape', async () => {
  assert.deepEqual(parseUpstreams(['dbhub,mongodb', 'dbhub']).map((d) => d.id), ['dbhub', 'mongodb']);
  assert.throws(() => parseUpstreams(['dbhub;rm']), /Unknown upstream/);
  assert.deepEqual(parseTarget('postgresql/main/shop'), { engine: 'postgresql', instance: 'main', database: 'shop' });
  assert.deepEqual(parseTarget('mariadb'), { engine: 'mariadb' });
  assert.throws(() => parseTarget('a/b/c/d'), /Invalid target/);
  assert.deepEqual(minimumNode('>=22.5.0'), [22, 5]);
  assert.deepEqual(minimumNode('^20.19.0 || >=22.12.0'), [20, 19]);
  assert.deepEqual(minimumNode(undefined), [0, 0]);
  const cut = boundResult({ content: [{ type: 'text', text: 'a'.repeat(5000) }] }, 1000);
  assert.equal((cut.content[0] as { text: string }).text.length, 1000);
  assert.match((cut.content[1] as { text: string }).text, /cut at 1000 bytes/);
  const e = upstreamError(dbhub, { isError: true, content: [{ type: 'text', text: 'permission denied for table users' }] });
  assert.equal(e.isError, true);
  assert.match((e.content[0] as { text: string }).text, /^Error \[PERMISSION_DENIED\]: DBHub: permission denied for table users\nNext: /);
  // a missing package is a typed error naming the command to run
  process.env['PORTUNIX_DB_UPSTREAM_CACHE'] = mkdtempSync(join(tmpdir(), 'pdb-up-'));
  await assert.rejects(resolveUpstream(dbhub), (err: unknown) => err instanceof DbError && err.code === 'NOT_INSTALLED' && /portunix-db mcp upstream install dbhub/.test(err.hint ?? ''));
  delete process.env['PORTUNIX_DB_UPSTREAM_CACHE'];
});
