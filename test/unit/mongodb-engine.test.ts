/**
 * The MongoDB engine's pure parts, on documented reply shapes of MongoDB 6.0/7.0 (these are the
 * code paths FerretDB, the stand-in the integration tests run, cannot exercise: opcounters,
 * WiredTiger, currentOp, $indexStats, getParameter details, roles, mongodump/mongorestore argv)
 * and on FerretDB's own replies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BSON } from 'mongodb';
import { fullVersion, launchArgv, parseVersionOutput, renderMongodConf } from '../../src/engines/mongodb/servers.js';
import { validateIdentifier, userDatabase } from '../../src/engines/mongodb/identifiers.js';
import { parseListDatabases, parseUsersInfo, rolesFor } from '../../src/engines/mongodb/admin.js';
import { analyseFields, bsonType, describeConstraints, describeIndexes, fieldColumns, parseCurrentOp, parseServerStatus } from '../../src/engines/mongodb/inspect.js';
import { parseParameters, parseValue, withStartupParameter } from '../../src/engines/mongodb/config.js';
import { checkExport, Checksum, toolArgv } from '../../src/engines/mongodb/backup.js';
import { versionFromBuildInfo } from '../../src/engines/mongodb/instance.js';
import { localBinaries } from '../../src/engines/mongodb/install.js';
import { isUnsupported, mapMongoError } from '../../src/engines/mongodb/client.js';
import { engine } from '../../src/engines/mongodb/index.js';

const MONGOD_VERSION = `db version v7.0.14
Build Info: {
    "version": "7.0.14",
    "gitVersion": "ce59cfc6a3c5e5c067dca0d30697edd68d4f5188",
    "openSSLVersion": "OpenSSL 3.0.11 19 Sep 2023",
    "modules": [],
    "allocator": "tcmalloc",
    "environment": { "distmod": "debian12", "distarch": "x86_64", "target_arch": "x86_64" }
}`;
const FERRET_VERSION = 'version: v1.24.2\ncommit: unknown\nbranch: unknown\ndirty: false\npackage: portunix-db-test\ndebugBuild: false\n';

test('mongod and FerretDB are told apart by their --version output', async () => {
  assert.deepEqual(parseVersionOutput(MONGOD_VERSION), { kind: 'mongod', version: '7.0.14', mongoVersion: '7.0.14' });
  assert.deepEqual(parseVersionOutput(FERRET_VERSION), { kind: 'ferretdb', version: '1.24.2', mongoVersion: '7.0.42' });
  assert.equal(parseVersionOutput('redis-server v=7.2.4 sha=00000000:0'), undefined);
  assert.equal(parseVersionOutput('version: v9.0.0\ncommit: x\n'), undefined, 'an unknown FerretDB line is not guessed');
  assert.equal(fullVersion(parseVersionOutput(FERRET_VERSION)!), '7.0.42 (FerretDB 1.24.2)');
  assert.equal(await localBinaries.version('/x', async () => MONGOD_VERSION), '7.0.14');
  assert.equal(await localBinaries.version('/x', async () => FERRET_VERSION), '7.0.42 (FerretDB 1.24.2)');
  await assert.rejects(localBinaries.version('/x', async () => 'nothing'), /no MongoDB or FerretDB version/);
  assert.deepEqual(localBinaries.required, ['mongod']);
});

test('buildInfo: FerretDB keeps its own name in the server version', () => {
  assert.equal(versionFromBuildInfo({ version: '7.0.14', ok: 1 }), '7.0.14');
  assert.equal(versionFromBuildInfo({ version: '7.0.42', ferretdbVersion: 'v1.24.2', ok: 1 }), '7.0.42 (FerretDB 1.24.2)');
});

test('launch specs: mongod reads mongod.conf; FerretDB gets SQLite, TLS-only listener, no debug port, no telemetry, no password in argv', () => {
  const tls = { cert: '/d/server.crt', key: '/d/server.key', pem: '/d/server.pem' };
  assert.deepEqual(launchArgv('mongod', { program: '/b/mongod', port: 27100, dataDir: '/d', configFile: '/i/mongod.conf', tls }), ['/b/mongod', '--config', '/i/mongod.conf']);
  const f = launchArgv('ferretdb', { program: '/b/mongod', port: 27100, dataDir: '/d', configFile: '/i/mongod.conf', tls });
  assert.ok(f.includes('--handler=sqlite') && f.includes('--sqlite-url=file:/d/') && f.includes('--listen-addr=') && f.includes('--listen-tls=127.0.0.1:27100'));
  assert.ok(f.includes('--listen-tls-cert-file=/d/server.crt') && f.includes('--listen-tls-key-file=/d/server.key'));
  assert.ok(f.includes('--debug-addr=-') && f.includes('--telemetry=disable') && f.includes('--test-enable-new-auth'));
  assert.ok(!f.some((a) => /password/i.test(a)), 'the first user\'s password comes from the environment');
  assert.ok(!f.some((a) => a.startsWith('--listen-tls-ca-file')), 'a CA file would make FerretDB demand client certificates');
  const plain = launchArgv('ferretdb', { program: '/b/ferretdb', port: 27100, dataDir: '/d/', configFile: '/c' });
  assert.ok(plain.includes('--listen-addr=127.0.0.1:27100') && plain.includes('--sqlite-url=file:/d/'));
});

test('mongod.conf: 127.0.0.1, requireTLS with its own certificate as CA, authorization on, no secret', () => {
  const conf = renderMongodConf({ instance: 'main', port: 27100, dataDir: '/data dir', tls: { cert: '/c.crt', key: '/c.key', pem: '/c.pem' } });
  for (const line of ['  bindIp: 127.0.0.1', '  port: 27100', '    mode: requireTLS', '    certificateKeyFile: "/c.pem"', '    CAFile: "/c.crt"', '    allowConnectionsWithoutCertificates: true', '  authorization: enabled', '  dbPath: "/data dir"', 'setParameter:']) {
    assert.ok(conf.split('\n').includes(line), `missing ${line}\n${conf}`);
  }
  assert.match(renderMongodConf({ instance: 'x', port: 1, dataDir: '/d' }), /mode: disabled/);
});

test('identifiers: injection-shaped names and $-operators are refused', () => {
  for (const bad of ['$where', 'a.b', 'a b', 'a/b', 'a\\b', '"a"', 'a\0b', '', 'x'.repeat(64), '{"$gt":""}', 'db;drop', 'ab$cmd']) {
    assert.throws(() => validateIdentifier('database', bad), { code: 'INVALID_IDENTIFIER' }, bad);
  }
  for (const bad of ['$cmd', 'a$b', 'system.users', '', 'x\n', '.a', 'a.']) assert.throws(() => validateIdentifier('table', bad), { code: 'INVALID_IDENTIFIER' }, bad);
  for (const bad of ['$admin', '1x', 'a b', 'a;b', "a'b"]) assert.throws(() => validateIdentifier('user', bad), { code: 'INVALID_IDENTIFIER' }, bad);
  assert.equal(validateIdentifier('database', 'shop_2-x'), 'shop_2-x');
  assert.equal(validateIdentifier('table', 'orders.archive 2024'), 'orders.archive 2024');
  assert.throws(() => userDatabase('admin', 'drop'), { code: 'FORBIDDEN' });
  assert.throws(() => userDatabase('local', 'restore into'), { code: 'FORBIDDEN' });
});

test('privileges map to built-in roles', () => {
  assert.deepEqual(rolesFor(['connect'], 'shop'), [{ role: 'read', db: 'shop' }]);
  assert.deepEqual(rolesFor(['read', 'connect'], 'shop'), [{ role: 'read', db: 'shop' }]);
  assert.deepEqual(rolesFor(['write'], 'shop'), [{ role: 'readWrite', db: 'shop' }]);
  assert.deepEqual(rolesFor(['admin'], 'shop'), [{ role: 'dbAdmin', db: 'shop' }, { role: 'userAdmin', db: 'shop' }]);
  assert.deepEqual(rolesFor(['all'], 'shop').map((r) => r.role), ['readWrite', 'dbAdmin', 'userAdmin']);
  assert.deepEqual(rolesFor(['read']), [{ role: 'readAnyDatabase', db: 'admin' }]);
  assert.throws(() => rolesFor(['dbOwner']), /per-database role/);
  assert.throws(() => rolesFor(['root'], 'shop'), /Unknown MongoDB privilege/);
  assert.throws(() => rolesFor(['read'], '$x'), { code: 'INVALID_IDENTIFIER' });
  assert.throws(() => rolesFor([], 'shop'), /No privileges/);
});

test('listDatabases and usersInfo replies (MongoDB 7.0 shapes)', () => {
  const dbs = parseListDatabases({ databases: [{ name: 'admin', sizeOnDisk: 40960, empty: false }, { name: 'shop', sizeOnDisk: BSON.Long.fromNumber(73728), empty: false }, { name: 'config', sizeOnDisk: 12288 }, { name: 'local', sizeOnDisk: 40960 }], totalSize: 167936 });
  assert.deepEqual(dbs, [{ name: 'shop', sizeBytes: 73728 }]);
  const users = parseUsersInfo({ users: [{ user: 'admin', db: 'admin', roles: [{ role: 'root', db: 'admin' }], mechanisms: ['SCRAM-SHA-256'] }, { user: 'app', db: 'admin', roles: [{ role: 'readWrite', db: 'shop' }] }] });
  assert.deepEqual(users, [
    { name: 'admin', canLogin: true, superuser: true, grants: ['root@admin'] },
    { name: 'app', canLogin: true, superuser: false, grants: ['readWrite@shop'] },
  ]);
});

test('indexes: $indexStats usage, unused and duplicate flags', () => {
  const specs = [
    { name: '_id_', key: { _id: 1 } },
    { name: 'email_1', key: { email: 1 }, unique: true },
    { name: 'city_1', key: { city: 1 } },
    { name: 'city_again', key: { city: 1 } },
    { name: 'text', key: { _fts: 'text', _ftsx: 1 } },
  ];
  const usage = new Map([['_id_', 0], ['email_1', 0], ['city_1', 12], ['city_again', 0], ['text', 3]]);
  const got = describeIndexes('users', specs, usage);
  assert.deepEqual(got.map((i) => [i.name, i.primary, i.unique, i.scans, i.unused, i.duplicateOf ?? null]), [
    ['_id_', true, true, 0, false, null],
    ['email_1', false, true, 0, false, null],
    ['city_1', false, false, 12, false, null],
    ['city_again', false, false, 0, true, 'city_1'],
    ['text', false, false, 3, false, null],
  ]);
  assert.equal(got[4]!.method, 'text');
  const noStats = describeIndexes('users', specs, undefined);
  assert.ok(noStats.every((i) => i.scans === undefined && i.unused === undefined), 'no usage figures are made up');
});

test('constraints: _id, unique indexes and $jsonSchema validators', () => {
  const out = describeConstraints('users', { validator: { $jsonSchema: { bsonType: 'object', required: ['email'], properties: { email: { bsonType: 'string' }, age: { bsonType: 'int' } } } }, validationLevel: 'moderate' }, [
    { name: '_id_', key: { _id: 1 } },
    { name: 'email_1', key: { email: 1 }, unique: true },
  ]);
  assert.deepEqual(out.map((c) => [c.name, c.type, c.columns]), [
    ['_id_', 'primary key', ['_id']],
    ['email_1', 'unique', ['email']],
    ['validator ($jsonSchema)', 'check', ['email', 'age']],
  ]);
  assert.match(out[2]!.definition!, /"validationLevel":"moderate"/);
});

test('currentOp inprog (MongoDB 7.0 shape) → connections', () => {
  const got = parseCurrentOp({
    inprog: [
      { type: 'op', opid: 1234, connectionId: 17, client: '127.0.0.1:53422', appName: 'app', active: true, op: 'query', ns: 'shop.orders', command: { find: 'orders', filter: { total: { $gt: 10 } } }, microsecs_running: BSON.Long.fromNumber(2500000), currentOpTime: '2024-09-01T10:00:00.000+00:00', effectiveUsers: [{ user: 'app', db: 'admin' }] },
      { type: 'op', connectionId: 18, client: '127.0.0.1:53430', active: false },
    ],
  });
  assert.deepEqual(got[0], { id: '17', client: '127.0.0.1:53422', user: 'app', database: 'shop', state: 'active query', queryStart: '2024-09-01T10:00:00.000+00:00', durationMs: 2500, query: '{"find":"orders","filter":{"total":{"$gt":10}}}' });
  assert.equal(got[1]!.state, 'idle');
});

test('serverStatus: opcounters, connections, WiredTiger cache (mongod); per-command totals (FerretDB)', () => {
  const m = parseServerStatus({
    version: '7.0.14',
    uptime: 3600.4,
    opcounters: { insert: BSON.Long.fromNumber(10), query: 20, update: 3, delete: 1, getmore: 0, command: 400 },
    connections: { current: 5, available: 838855, totalCreated: 40 },
    wiredTiger: { cache: { 'bytes currently in the cache': 1048576, 'maximum bytes configured': 4194304, 'pages read into cache': 7 } },
  });
  assert.deepEqual(m.counters, { ops_insert: 10, ops_query: 20, ops_update: 3, ops_delete: 1, ops_getmore: 0, ops_command: 400, connections_created: 40, wt_pages_read_into_cache: 7 });
  assert.equal(m.gauges['connections_current'], 5);
  assert.equal(m.gauges['wt_cache_fill_ratio'], 0.25);
  assert.equal(m.gauges['uptime_seconds'], 3600);
  assert.deepEqual(m.notes, []);
  const f = parseServerStatus({ version: '7.0.42', ferretdbVersion: 'v1.24.2', uptime: 5, metrics: { commands: { insert: { total: 4, failed: 0 }, find: { total: 6, failed: 1 }, hello: { total: 2, failed: 0 } } } });
  assert.deepEqual(f.counters, { cmd_insert: 4, cmd_find: 6, cmd_total: 12 });
  assert.equal(f.gauges['ferretdb_version'], 'v1.24.2');
  assert.ok(f.notes.some((x) => /No opcounters/.test(x)) && f.notes.some((x) => /WiredTiger/.test(x)));
});

test('getParameter showDetails reply → settings with restart flags; mongod.conf setParameter edits', () => {
  const s = parseParameters({ cursorTimeoutMillis: { value: BSON.Long.fromNumber(600000), settableAtRuntime: true, settableAtStartup: true }, authenticationMechanisms: { value: ['SCRAM-SHA-256'], settableAtRuntime: false, settableAtStartup: true }, ok: 1 });
  assert.deepEqual(s.map((x) => [x.name, x.restartRequired]), [['authenticationMechanisms', true], ['cursorTimeoutMillis', false]]);
  assert.equal(s[0]!.value, '["SCRAM-SHA-256"]');
  const conf = renderMongodConf({ instance: 'main', port: 1, dataDir: '/d' });
  const once = withStartupParameter(conf, 'ttlMonitorSleepSecs', 120);
  const twice = withStartupParameter(once, 'ttlMonitorSleepSecs', 30);
  assert.equal(twice.split('\n').filter((l) => l.includes('ttlMonitorSleepSecs')).length, 1);
  assert.match(twice, /setParameter:\n {2}enableLocalhostAuthBypass: true\n {2}ttlMonitorSleepSecs: 30\n/);
  assert.equal(parseValue('true'), true);
  assert.equal(parseValue('42'), 42);
  assert.equal(parseValue('1.5'), 1.5);
  assert.deepEqual(parseValue('{"a":1}'), { a: 1 });
  assert.equal(parseValue('abc'), 'abc');
  assert.throws(() => parseValue('{"$where":"1"}'), /operators/);
});

test('mongodump/mongorestore argv: password in a config file, TLS CA, --nsFrom/--nsTo for another name', () => {
  const dump = toolArgv('mongodump', '/b/mongodump', { port: 27100, caFile: '/i/tls/server.crt', configFile: '/t/tools.yaml', archive: '/bk/x.partial', database: 'shop' });
  assert.deepEqual(dump, ['/b/mongodump', '--uri=mongodb://admin@127.0.0.1:27100/?authSource=admin&directConnection=true', '--config=/t/tools.yaml', '--tls', '--tlsCAFile=/i/tls/server.crt', '--archive=/bk/x.partial', '--gzip', '--db=shop']);
  const into = toolArgv('mongorestore', '/b/mongorestore', { port: 27100, configFile: '/t/c', archive: '/bk/x', database: 'shop', target: 'shop_copy' });
  assert.ok(into.includes('--nsInclude=shop.*') && into.includes('--nsFrom=shop.*') && into.includes('--nsTo=shop_copy.*') && into.includes('--drop') && !into.includes('--tls'));
  const same = toolArgv('mongorestore', '/b/mongorestore', { port: 1, configFile: '/t/c', archive: '/a', database: 'shop', dryRun: true });
  assert.ok(!same.some((a) => a.startsWith('--nsFrom')) && same.includes('--dryRun'));
  assert.ok(![...dump, ...into].some((a) => /password|secret/i.test(a)));
});

test('checksums are order-independent and count duplicates', () => {
  const docs = [{ a: 1 }, { a: 2 }, { a: 2 }].map((d) => BSON.serialize(d));
  const x = new Checksum();
  const y = new Checksum();
  for (const d of docs) x.add(d);
  for (const d of [...docs].reverse()) y.add(d);
  assert.equal(x.hex(), y.hex());
  assert.equal(x.count, 3);
  const z = new Checksum();
  z.add(docs[0]!);
  z.add(docs[1]!);
  assert.notEqual(z.hex(), x.hex());
});

test('a damaged or foreign export file is BACKUP_CORRUPT', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-mongo-unit-'));
  const notGzip = join(dir, 'a.bson.gz');
  writeFileSync(notGzip, 'this is not gzip');
  await assert.rejects(checkExport(notGzip), { code: 'BACKUP_CORRUPT' });
  const foreign = join(dir, 'b.bson.gz');
  writeFileSync(foreign, gzipSync(Buffer.concat([Buffer.from('H'), BSON.serialize({ magic: 'something else', version: 1, collections: [] })])));
  await assert.rejects(checkExport(foreign), /not a portunix-db export header/);
  const noTrailer = join(dir, 'c.bson.gz');
  writeFileSync(noTrailer, gzipSync(Buffer.concat([Buffer.from('H'), BSON.serialize({ magic: 'portunix-db mongodb export', version: 1, database: 'x', server: 's', collections: [{ name: 'c', options: {}, indexes: [] }], skipped: [] })])));
  await assert.rejects(checkExport(noTrailer), /no trailer/);
  const evilName = join(dir, 'd.bson.gz');
  writeFileSync(evilName, gzipSync(Buffer.concat([Buffer.from('H'), BSON.serialize({ magic: 'portunix-db mongodb export', version: 1, database: 'x', server: 's', collections: [{ name: '$cmd', options: {}, indexes: [] }], skipped: [] })])));
  await assert.rejects(checkExport(evilName), { code: 'INVALID_IDENTIFIER' });
});

test('sampled fields: paths, types, presence', () => {
  const docs = [
    { _id: new BSON.ObjectId(), name: 'a', age: new BSON.Int32(3), address: { city: 'x' }, tags: ['t'] },
    { _id: new BSON.ObjectId(), name: 'b', age: new BSON.Double(3.5), address: { city: 'y', zip: null } },
  ];
  const fields = analyseFields(docs);
  assert.deepEqual(fields.map((f) => f.path), ['_id', 'address', 'address.city', 'address.zip', 'age', 'name', 'tags']);
  const cols = Object.fromEntries(fieldColumns(fields, 2).map((c) => [c.name, c]));
  assert.equal(cols['_id']!.type, 'objectId');
  assert.equal(cols['age']!.type, 'int|double');
  assert.equal(cols['tags']!.nullable, true);
  assert.equal(cols['name']!.nullable, false);
  assert.equal(cols['address.zip']!.type, 'null');
  assert.equal(bsonType(new Date()), 'date');
  assert.equal(bsonType(BSON.Long.fromNumber(1)), 'long');
});

test('errors: unsupported commands are recognised; driver errors get codes, not stacks', () => {
  assert.ok(isUnsupported({ code: 59, message: 'no such command: planCacheClear' }));
  assert.ok(isUnsupported({ code: 40324, message: 'Unrecognized pipeline stage name: $indexStats' }));
  assert.ok(!isUnsupported({ code: 26, message: 'ns not found' }));
  const ctx = { name: 'main', config: { port: 27100 }, paths: { dataDir: '/d' } } as never;
  assert.equal(mapMongoError({ name: 'MongoServerSelectionError', message: 'connect ECONNREFUSED 127.0.0.1:27100' }, ctx).code, 'NOT_RUNNING');
  assert.equal(mapMongoError({ code: 18, message: 'Authentication failed.' }, ctx).code, 'AUTH_FAILED');
  assert.equal(mapMongoError({ code: 13, message: 'not authorized on shop' }, ctx).code, 'PERMISSION_DENIED');
});

test('the engine fills every operation except embedded status', () => {
  for (const op of ['initialize', 'launchSpec', 'isReady', 'shutdown', 'backup', 'restore', 'fingerprint', 'vacuum', 'indexes', 'constraints', 'configSet', 'grant'] as const) assert.equal(typeof engine[op], 'function', op);
  assert.match(engine.unsupported.embeddedStatus!, /server/);
});

test('connection URL: masked password, authSource, TLS with the instance CA; container instances are not initialised', async () => {
  const { connectionUrl, initialize } = await import('../../src/engines/mongodb/instance.js');
  const dir = mkdtempSync(join(tmpdir(), 'pdb-mongo-url-'));
  const ctx = { name: 'main', config: { port: 27100 }, paths: { root: dir, dataDir: join(dir, 'data') } } as never;
  assert.equal(connectionUrl(ctx, { showPassword: false, password: 'p@ss' }), 'mongodb://admin:***@127.0.0.1:27100/?authSource=admin');
  assert.equal(connectionUrl(ctx, { database: 'shop', showPassword: true, password: 'p@ss' }), 'mongodb://admin:p%40ss@127.0.0.1:27100/shop?authSource=admin');
  assert.throws(() => connectionUrl(ctx, { database: '$x', showPassword: false, password: '' }), { code: 'INVALID_IDENTIFIER' });
  const { mkdirSync } = await import('node:fs');
  mkdirSync(join(dir, 'tls'));
  writeFileSync(join(dir, 'tls', 'server.crt'), 'x');
  assert.equal(connectionUrl(ctx, { showPassword: false, password: '' }), `mongodb://admin:***@127.0.0.1:27100/?authSource=admin&tls=true&tlsCAFile=${encodeURIComponent(join(dir, 'tls', 'server.crt'))}`);
  await assert.rejects(initialize({ name: 'main', config: { port: 1, source: 'container' }, paths: { root: dir, dataDir: dir } } as never), { code: 'NOT_APPLICABLE' });
});
