import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { renderHba, renderPortunixConf, socketDir } from '../../src/engines/postgresql/instance.js';
import { normalizePrivileges, privilegeStatements, saslprep, scramVerifier } from '../../src/engines/postgresql/admin.js';
import { classifyIndexes, estimateRows, ratioStatus, type RawIndexRow } from '../../src/engines/postgresql/inspect.js';
import { settingValueSql } from '../../src/engines/postgresql/config.js';
import { vacuumSql } from '../../src/engines/postgresql/maintenance.js';
import { validateIdentifier } from '../../src/engines/postgresql/identifiers.js';
import { DbError } from '../../src/core/errors.js';
import type { InstanceConfig } from '../../src/core/config.js';
import type { InstancePaths } from '../../src/engines/contract.js';

test('pg_hba allows only scram-sha-256 on loopback and the local socket, never trust', () => {
  const rules = renderHba()
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'));
  assert.ok(rules.length >= 3);
  for (const rule of rules) {
    const fields = rule.trim().split(/\s+/);
    assert.equal(fields[fields.length - 1], 'scram-sha-256', rule);
    if (fields[0] === 'host') assert.ok(['127.0.0.1/32', '::1/128'].includes(fields[3]!), rule);
    else assert.equal(fields[0], 'local', rule);
  }
});

test('portunix.conf listens on 127.0.0.1 and quotes the socket dir', () => {
  const conf = renderPortunixConf({ port: 54321, socketDir: "/tmp/it's" });
  assert.match(conf, /^listen_addresses = '127\.0\.0\.1'$/m);
  assert.match(conf, /^port = 54321$/m);
  assert.match(conf, /^unix_socket_directories = '\/tmp\/it''s'$/m);
  assert.match(conf, /^password_encryption = 'scram-sha-256'$/m);
});

test('socket dir falls back to a short /tmp dir when the run dir is too long for sun_path', () => {
  const config = { port: 5432 } as InstanceConfig;
  const short = { runDir: '/home/u/.portunix/db/instances/postgresql/main/run', dataDir: '/d1' } as InstancePaths;
  assert.equal(socketDir({ config, paths: short }), short.runDir);
  const long = { runDir: '/tmp/' + 'x'.repeat(100) + '/run', dataDir: '/d1' } as InstancePaths;
  const other = { runDir: long.runDir, dataDir: '/d2' } as InstancePaths;
  const a = socketDir({ config, paths: long });
  assert.match(a, /^\/tmp\/portunix-db-[0-9a-f]{16}$/);
  assert.ok(Buffer.byteLength(`${a}/.s.PGSQL.65535.lock`) <= 107);
  assert.notEqual(a, socketDir({ config, paths: other }), 'each data dir gets its own socket dir');
  assert.equal(a, socketDir({ config, paths: long }), 'stable across calls');
});

test('SCRAM verifier authenticates a SCRAM exchange made by node-postgres (incl. SASLprep)', async () => {
  const require = createRequire(import.meta.url);
  const sasl = require('pg/lib/crypto/sasl.js') as {
    startSession(mechanisms: string[], stream: unknown): { clientNonce: string; response: string };
    continueSession(session: unknown, password: string, serverData: string, stream: unknown): Promise<void>;
  };
  for (const password of ['pencil', 'S3cret pässword', 'a\u00A0b\u00ADc ﬁ']) {
    const verifier = scramVerifier(password);
    const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
    assert.ok(m, verifier);
    const [, iter, salt, storedKeyB64, serverKeyB64] = m;
    const session = sasl.startSession(['SCRAM-SHA-256'], null) as { clientNonce: string; response: string; serverSignature?: string };
    const nonce = session.clientNonce + 'servernonce';
    const serverFirst = `r=${nonce},s=${salt},i=${iter}`;
    await sasl.continueSession(session, password, serverFirst, null);
    // the server side of SCRAM, using only the verifier
    const finalWithoutProof = session.response.replace(/,p=[^,]+$/, '');
    const proof = Buffer.from(/,p=([^,]+)$/.exec(session.response)![1]!, 'base64');
    const authMessage = `n=*,r=${session.clientNonce},${serverFirst},${finalWithoutProof}`;
    const storedKey = Buffer.from(storedKeyB64!, 'base64');
    const clientSignature = createHmac('sha256', storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]!));
    assert.deepEqual(createHash('sha256').update(clientKey).digest(), storedKey, `client proof for ${JSON.stringify(password)}`);
    const serverSignature = createHmac('sha256', Buffer.from(serverKeyB64!, 'base64')).update(authMessage).digest('base64');
    assert.equal(serverSignature, session.serverSignature);
  }
  assert.equal(saslprep('a\u00A0b\u00ADc ﬁ'), 'a bc fi');
});

test('privilege vocabulary: aliases, defaults, did-you-mean', () => {
  assert.deepEqual(normalizePrivileges([]), ['all']);
  assert.deepEqual(normalizePrivileges(['READ', 'temp', 'select']), ['read', 'temporary']);
  assert.deepEqual(normalizePrivileges(['connect,create']), ['connect', 'create']);
  assert.throws(() => normalizePrivileges(['raed']), (e: DbError) => e.code === 'USAGE' && /Did you mean read/.test(e.message));
  assert.throws(() => normalizePrivileges(['SELECT; DROP TABLE x']), (e: DbError) => e.code === 'USAGE');
});

test('grant and revoke statements mirror each other and stay per database', () => {
  const g = privilegeStatements('grant', '"alice"', '"shop"', ['read', 'write']);
  assert.ok(g.server.every((s) => /^GRANT \w+ ON DATABASE "shop" TO "alice"$/.test(s)));
  assert.equal(new Set(g.server).size, g.server.length, 'no duplicates');
  assert.ok(g.inDatabase.includes('GRANT SELECT ON ALL TABLES IN SCHEMA public TO "alice"'));
  assert.ok(g.inDatabase.some((s) => s.startsWith('ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT')));
  const r = privilegeStatements('revoke', '"alice"', '"shop"', ['read', 'write']);
  assert.deepEqual(r.inDatabase.length, g.inDatabase.length);
  assert.ok(r.inDatabase.every((s) => /(^REVOKE|REVOKE) .* FROM "alice"$/.test(s)));
  assert.deepEqual(privilegeStatements('grant', '"a"', '"d"', ['connect']), { server: ['GRANT CONNECT ON DATABASE "d" TO "a"'], inDatabase: [] });
});

test('identifiers are validated and quoted', () => {
  assert.equal(validateIdentifier('table', 'orders'), '"orders"');
  for (const bad of ['x"; DROP DATABASE postgres; --', "a'b", '', 'a b', 'x'.repeat(64)]) {
    assert.throws(() => validateIdentifier('database', bad), (e: DbError) => e.code === 'INVALID_IDENTIFIER', bad);
  }
});

function idx(partial: Partial<RawIndexRow> & { oid: number; name: string; signature: string }): RawIndexRow {
  return { tableOid: 1, schema: 'public', table: 't', columns: ['a'], unique: false, primary: false, method: 'btree', sizeBytes: 8192, scans: 0, valid: true, backsConstraint: false, definition: '', ...partial };
}

test('indexes: unused, invalid and duplicate classification', () => {
  const out = classifyIndexes([
    idx({ oid: 1, name: 't_pkey', signature: 's1', primary: true, unique: true, backsConstraint: true, scans: 0 }),
    idx({ oid: 2, name: 'a_dup', signature: 's1', scans: 0 }),
    idx({ oid: 3, name: 'b_idx', signature: 's2', scans: 7 }),
    idx({ oid: 4, name: 'c_bad', signature: 's3', valid: false, scans: 3 }),
    idx({ oid: 5, name: 'd_partial', signature: 's2|pred', scans: 0 }),
  ]);
  const by = Object.fromEntries(out.map((i) => [i.name, i]));
  assert.equal(by['t_pkey']!.unused, false, 'a primary key is never "unused"');
  assert.equal(by['t_pkey']!.duplicateOf, undefined);
  assert.equal(by['a_dup']!.duplicateOf, 't_pkey', 'the constraint-backing index is the original');
  assert.equal(by['a_dup']!.unused, true);
  assert.equal(by['b_idx']!.unused, false);
  assert.equal(by['c_bad']!.invalid, true);
  assert.equal(by['d_partial']!.duplicateOf, undefined, 'a different predicate is not a duplicate');
});

test('row estimates, health thresholds, vacuum and setting SQL', () => {
  assert.equal(estimateRows(-1, 42), 42);
  assert.equal(estimateRows(1000, 0), 1000);
  assert.equal(estimateRows(-1, undefined), undefined);
  assert.equal(ratioStatus(0.5, 0.8, 0.95), 'ok');
  assert.equal(ratioStatus(0.85, 0.8, 0.95), 'warn');
  assert.equal(ratioStatus(0.99, 0.8, 0.95), 'fail');
  assert.equal(vacuumSql({ full: false, analyze: false }), 'VACUUM');
  assert.equal(vacuumSql({ full: true, analyze: true, target: '"public"."t"' }), 'VACUUM (FULL, ANALYZE) "public"."t"');
  const lit = (s: string) => `'${s.replace(/'/g, "''")}'`;
  assert.equal(settingValueSql('work_mem', "16MB'; DROP", lit), "'16MB''; DROP'");
  assert.equal(settingValueSql('shared_preload_libraries', 'auto_explain, pg_stat_statements', lit), "'auto_explain', 'pg_stat_statements'");
});
