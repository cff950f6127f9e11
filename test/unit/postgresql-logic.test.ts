import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createRequire } from 'node:module';
import { connectionUrl, renderHba, renderPortunixConf, socketDir } from '../../src/engines/postgresql/instance.js';
import { renderCertConfig as renderCert } from '../../src/core/tls.js';
const renderCertConfig = (instance: string) => renderCert('postgresql', instance);
import { normalizePrivileges, privilegeStatements, saslprep, scramVerifier } from '../../src/engines/postgresql/admin.js';
import { classifyIndexes, estimateRows, mergeLibraryLists, parseLibraryList, ratioStatus, statementsPreload, tlsCheck, type RawIndexRow } from '../../src/engines/postgresql/inspect.js';
import { settingValueSql } from '../../src/engines/postgresql/config.js';
import { vacuumSql } from '../../src/engines/postgresql/maintenance.js';
import { validateIdentifier } from '../../src/engines/postgresql/identifiers.js';
import { DbError } from '../../src/core/errors.js';
import type { InstanceConfig } from '../../src/core/config.js';
import type { InstanceContext, InstancePaths } from '../../src/engines/contract.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function hbaRules(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'))
    .map((l) => l.trim().split(/\s+/));
}

test('pg_hba (TLS, the default): TCP only over TLS with scram-sha-256 on loopback, TCP without TLS rejected, socket scram', () => {
  const rules = hbaRules(renderHba());
  assert.deepEqual(rules, hbaRules(renderHba({ tls: true })));
  assert.ok(!rules.some((f) => f[0] === 'host'), 'no plain "host" rule: it would accept TCP without TLS');
  assert.ok(!rules.some((f) => f.includes('trust')), 'never trust');
  const accepts = rules.filter((f) => f[f.length - 1] !== 'reject');
  for (const f of accepts) {
    assert.equal(f[f.length - 1], 'scram-sha-256', f.join(' '));
    if (f[0] === 'hostssl') assert.ok(['127.0.0.1/32', '::1/128'].includes(f[3]!), f.join(' '));
    else assert.equal(f[0], 'local', f.join(' '));
  }
  for (const db of ['all', 'replication']) {
    for (const addr of ['127.0.0.1/32', '::1/128']) assert.ok(rules.some((f) => f.join(' ') === `hostssl ${db} all ${addr} scram-sha-256`), `${db} ${addr}`);
    assert.ok(rules.some((f) => f.join(' ') === `local ${db} all scram-sha-256`), `local ${db}`);
    // "all" in the database column does not match replication connections, hence a reject line for each
    assert.ok(rules.some((f) => f.join(' ') === `hostnossl ${db} all all reject`), `hostnossl ${db}`);
  }
});

test('pg_hba without TLS (no openssl at install): the previous scram-only loopback rules, nothing rejected', () => {
  const rules = hbaRules(renderHba({ tls: false }));
  assert.ok(rules.length >= 3);
  for (const f of rules) {
    assert.equal(f[f.length - 1], 'scram-sha-256', f.join(' '));
    if (f[0] === 'host') assert.ok(['127.0.0.1/32', '::1/128'].includes(f[3]!), f.join(' '));
    else assert.equal(f[0], 'local', f.join(' '));
  }
});

test('portunix.conf listens on 127.0.0.1 and quotes the socket dir', () => {
  const conf = renderPortunixConf({ port: 54321, socketDir: "/tmp/it's" });
  assert.match(conf, /^listen_addresses = '127\.0\.0\.1'$/m);
  assert.match(conf, /^port = 54321$/m);
  assert.match(conf, /^unix_socket_directories = '\/tmp\/it''s'$/m);
  assert.match(conf, /^password_encryption = 'scram-sha-256'$/m);
  assert.doesNotMatch(conf, /^ssl/m, 'no ssl settings without a certificate');
});

test('portunix.conf turns TLS on with the certificate, the key and TLS 1.2 at least', () => {
  const conf = renderPortunixConf({ port: 5432, socketDir: '/run/x', tls: { certFile: 'server.crt', keyFile: "k'ey" } });
  assert.match(conf, /^ssl = on$/m);
  assert.match(conf, /^ssl_cert_file = 'server\.crt'$/m);
  assert.match(conf, /^ssl_key_file = 'k''ey'$/m);
  assert.match(conf, /^ssl_min_protocol_version = 'TLSv1\.2'$/m);
  assert.match(conf, /^listen_addresses = '127\.0\.0\.1'$/m, 'the rest is unchanged');
});

test('the certificate config: self-signed CA naming the instance, loopback IPs and localhost as subjectAltName', () => {
  const cnf = renderCertConfig('main');
  assert.match(cnf, /^CN = portunix-db postgresql main$/m);
  assert.match(cnf, /^subjectAltName = IP:127\.0\.0\.1, IP:::1, DNS:localhost$/m);
  assert.match(cnf, /^basicConstraints = critical, CA:TRUE$/m);
  assert.match(renderCertConfig('a/b\nCN=x'), /^CN = portunix-db postgresql a_b_CN_x$/m, 'no config injection through the name');
});

test('tls health check: ok only when ssl is on and this connection uses it; warn without a certificate', () => {
  assert.equal(tlsCheck(true, { ssl_on: 'on', in_use: true, version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }).status, 'ok');
  assert.equal(tlsCheck(true, { ssl_on: 'off', in_use: false, version: null, cipher: null }).status, 'fail');
  assert.equal(tlsCheck(true, { ssl_on: 'on', in_use: false, version: null, cipher: null }).status, 'fail');
  assert.equal(tlsCheck(true, undefined).status, 'fail');
  const old = tlsCheck(false, { ssl_on: 'off', in_use: false, version: null, cipher: null });
  assert.equal(old.status, 'warn');
  assert.match(old.detail, /not encrypted/);
});

test('connection URL pins the instance certificate with verify-full when there is one, and stays plain otherwise', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-url-'));
  try {
    const ctx = { config: { port: 5433 } as InstanceConfig, paths: { root: dir, dataDir: join(dir, 'data') } as InstancePaths } as InstanceContext;
    const plain = connectionUrl(ctx, { showPassword: true, password: 'p@ss' });
    assert.equal(plain, 'postgresql://postgres:p%40ss@127.0.0.1:5433/postgres');
    mkdirSync(join(dir, 'tls'));
    writeFileSync(join(dir, 'tls', 'server.crt'), 'cert');
    const url = new URL(connectionUrl(ctx, { showPassword: false, password: 'x', database: 'shop' }));
    assert.equal(url.searchParams.get('sslmode'), 'verify-full');
    assert.equal(url.searchParams.get('sslrootcert'), join(dir, 'tls', 'server.crt'));
    assert.equal(url.password, '****');
    assert.equal(url.pathname, '/shop');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

test('enabling pg_stat_statements merges shared_preload_libraries, never replaces it (timescaledb stays)', () => {
  assert.deepEqual(parseLibraryList('timescaledb, "auto_explain",,'), ['timescaledb', 'auto_explain']);
  assert.deepEqual(mergeLibraryLists('timescaledb', 'timescaledb,auto_explain', 'pg_stat_statements'), ['timescaledb', 'auto_explain', 'pg_stat_statements']);
  // a TimescaleDB instance: preloaded and configured
  assert.deepEqual(statementsPreload('timescaledb', 'timescaledb'), { loaded: false, set: ['timescaledb', 'pg_stat_statements'] });
  // the bug: timescaledb only in the files (not yet running) was dropped when the running value was used alone
  assert.deepEqual(statementsPreload('', 'timescaledb'), { loaded: false, set: ['timescaledb', 'pg_stat_statements'] });
  // already configured, waiting for a restart: nothing is rewritten
  assert.deepEqual(statementsPreload('timescaledb', 'timescaledb, pg_stat_statements'), { loaded: false });
  assert.deepEqual(statementsPreload('pg_stat_statements,timescaledb', '"pg_stat_statements", "timescaledb"'), { loaded: true });
  // running with libraries the files no longer name (edited since): they are kept too
  assert.deepEqual(statementsPreload('timescaledb,pg_stat_statements', ''), { loaded: true, set: ['timescaledb', 'pg_stat_statements'] });
  assert.deepEqual(statementsPreload('', ''), { loaded: false, set: ['pg_stat_statements'] });
});
