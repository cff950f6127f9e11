/**
 * The InfluxDB engine's pure logic, and its 2.x half against a local HTTP server that answers
 * with the reply shapes InfluxData documents (no 2.x server is available here).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env['PORTUNIX_HOME'] = mkdtempSync(join(tmpdir(), 'pdb-influx-unit-'));
process.env['PORTUNIX_DB_SECRET_BACKEND'] = 'file';

const { validateIdentifier, quoteString, fluxString } = await import('../../src/engines/influxdb/identifiers.js');
const { renderV1Config, rpcPortOf, v2LaunchArgs, setupRequest, isReadyV2 } = await import('../../src/engines/influxdb/instance.js');
const { parseQueryReply } = await import('../../src/engines/influxdb/client.js');
const { parsePrivileges, grantStatements, combinedPrivilege, bucketsAsDatabases, grantsOf, bucketPermissions, listDatabasesV2, listUsersV2 } = await import('../../src/engines/influxdb/admin.js');
const { statsToReport, shardBytes, queriesAsConnections, prometheusReport } = await import('../../src/engines/influxdb/inspect.js');
const { pointLines, checksumOf, checkMembers, portableDatabases, fluxFingerprint } = await import('../../src/engines/influxdb/backup.js');
const { diagnosticsSettings, v2Settings } = await import('../../src/engines/influxdb/config.js');
const { apiOf, parseInfluxdVersion, install } = await import('../../src/engines/influxdb/install.js');
const { GENERATIONS, generationOf } = await import('../../src/engines/influxdb/generations.js');
const { engine } = await import('../../src/engines/influxdb/index.js');
const { need } = await import('../../src/engines/need.js');
const { createInstanceContext } = await import('../../src/core/instance-context.js');
const { getSecretStore, secretKey } = await import('../../src/core/secrets.js');

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return 'no error';
};

test('identifiers: plain names quoted; InfluxQL-injection shapes refused; strings escaped', () => {
  assert.equal(validateIdentifier('database', 'metrics_2'), '"metrics_2"');
  for (const bad of ['a"b', 'x; DROP DATABASE y', "a'b", 'a b', '', 'a\\b', '1abc', 'a'.repeat(65)]) assert.equal(code(() => validateIdentifier('database', bad)), 'INVALID_IDENTIFIER', bad);
  assert.equal(validateIdentifier('table', 'disk io'), '"disk io"');
  for (const bad of ['cpu"; DROP MEASUREMENT "cpu', 'a\nb', 'a\\', 'x`y']) assert.equal(code(() => validateIdentifier('table', bad)), 'INVALID_IDENTIFIER', JSON.stringify(bad));
  assert.equal(quoteString("p'w\\x"), "'p\\'w\\\\x'");
  assert.equal(code(() => quoteString('a\nb')), 'USAGE');
  assert.equal(fluxString('a"b${x}\\'), '"a\\"b\\${x}\\\\"');
});

test('1.x config: HTTP and RPC on loopback, auth on, HTTPS with the certificate, no _internal store; bootstrap on a private socket', () => {
  const conf = renderV1Config({ port: 8123, rpcPort: 8124, dataDir: '/d', tls: { cert: '/d/server.crt', key: '/d/server.key' } });
  for (const line of ['bind-address = "127.0.0.1:8124"', '  bind-address = "127.0.0.1:8123"', '  auth-enabled = true', '  https-enabled = true', '  https-certificate = "/d/server.crt"', '  https-private-key = "/d/server.key"', '  store-enabled = false', 'reporting-enabled = false', '  pprof-enabled = false', '  unix-socket-enabled = false']) {
    assert.ok(conf.split('\n').includes(line), `missing ${line}`);
  }
  assert.equal(rpcPortOf(conf), 8124);
  const boot = renderV1Config({ port: 0, rpcPort: 0, dataDir: '/d', bootstrapSocket: '/tmp/x/s.sock' });
  assert.ok(boot.includes('  bind-address = "127.0.0.1:0"') && boot.includes('  unix-socket-enabled = true') && boot.includes('  https-enabled = false') && boot.includes('  auth-enabled = true'));
  assert.ok(boot.includes('unix-socket-permissions = "0700"'));
});

test('/query replies: series, statement errors and top-level errors', () => {
  assert.deepEqual(parseQueryReply(200, '{"results":[{"statement_id":0,"series":[{"columns":["name"],"values":[["a"]]}]}]}'), [{ columns: ['name'], values: [['a']] }]);
  assert.deepEqual(parseQueryReply(200, '{"results":[{"statement_id":0}]}'), []);
  assert.throws(() => parseQueryReply(200, '{"results":[{"statement_id":0,"error":"database not found: x"}]}'), /database not found/);
  assert.throws(() => parseQueryReply(401, '{"error":"authorization failed"}'), (e: Error & { statusCode?: number }) => e.statusCode === 401 && /authorization failed/.test(e.message));
  assert.throws(() => parseQueryReply(502, '<html>'), /HTTP 502/);
});

test('privileges: parsing, statements, and InfluxDB 1.x one-privilege-per-database arithmetic', () => {
  assert.deepEqual(parsePrivileges(['READ,write']), ['read', 'write']);
  assert.equal(code(() => parsePrivileges(['drop'])), 'USAGE');
  assert.deepEqual(grantStatements('GRANT', 'app', ['all']), ['GRANT ALL PRIVILEGES TO "app"']);
  assert.equal(code(() => grantStatements('GRANT', 'app', ['read'])), 'USAGE');
  assert.equal(combinedPrivilege('READ', ['write'], 'grant'), 'ALL');
  assert.equal(combinedPrivilege('ALL PRIVILEGES', ['write'], 'revoke'), 'READ');
  assert.equal(combinedPrivilege('READ', ['read'], 'revoke'), undefined);
  assert.equal(combinedPrivilege(undefined, ['write'], 'grant'), 'WRITE');
});

test('SHOW STATS / SHOW QUERIES / SHOW DIAGNOSTICS shapes (as 1.6.7 answers them)', () => {
  const stats: import('../../src/engines/influxdb/client.js').Series[] = [
    { name: 'httpd', tags: { bind: '127.0.0.1:8086' }, columns: ['authFail', 'pointsWrittenOK', 'queryReq'], values: [[0, 97, 12]] },
    { name: 'runtime', columns: ['HeapAlloc', 'NumGoroutine'], values: [[3000000, 18]] },
    { name: 'queryExecutor', columns: ['queriesActive', 'queriesExecuted'], values: [[1, 30]] },
    { name: 'database', tags: { database: 'd1' }, columns: ['numMeasurements', 'numSeries'], values: [[2, 3]] },
    { name: 'shard', tags: { database: 'd1', id: '1' }, columns: ['diskBytes'], values: [[100]] },
    { name: 'shard', tags: { database: 'd1', id: '2' }, columns: ['diskBytes'], values: [[50]] },
  ];
  const r = statsToReport(stats);
  assert.deepEqual([r.counters['httpd.queryReq'], r.counters['httpd.pointsWrittenOK'], r.counters['queryExecutor.queriesExecuted']], [12, 97, 30]);
  assert.deepEqual([r.gauges['runtime.NumGoroutine'], r.gauges['queryExecutor.queriesActive'], r.gauges['database.d1.numSeries']], [18, 1, 3]);
  assert.equal(shardBytes(stats).get('d1'), 150);
  assert.deepEqual(queriesAsConnections({ columns: ['qid', 'query', 'database', 'duration', 'status'], values: [[5, 'SELECT 1', 'd1', '179µs', 'running']] }), [{ id: '5', database: 'd1', state: 'running', query: 'SELECT 1', client: 'running 179µs' }]);
  const settings = diagnosticsSettings([{ name: 'config', columns: ['bind-address'], values: [['127.0.0.1:8088']] }, { name: 'config-httpd', columns: ['https-enabled'], values: [[true]] }, { name: 'build', columns: ['Version'], values: [['1.6.7']] }]);
  assert.deepEqual(settings.map((s) => [s.name, s.value]), [['bind-address', '127.0.0.1:8088'], ['httpd.https-enabled', 'true']]);
});

test('point fingerprints: order independent, sensitive to any value, tags or time', () => {
  const a = [{ name: 'cpu', tags: { host: 'a' }, columns: ['time', 'v', 'w'], values: [[1, 1.5, null], [2, 2, 'x']] }, { name: 'cpu', tags: { host: 'b' }, columns: ['time', 'v', 'w'], values: [[1, 3, null]] }];
  const b = [a[1]!, { ...a[0]!, values: [...a[0]!.values].reverse() }];
  assert.equal(pointLines(a).length, 3);
  assert.equal(checksumOf(pointLines(a)), checksumOf(pointLines(b)));
  const changed = [{ ...a[0]!, values: [[1, 1.5, null], [2, 2, 'y']] }, a[1]!];
  assert.notEqual(checksumOf(pointLines(a)), checksumOf(pointLines(changed)));
  const retagged = [a[0]!, { ...a[1]!, tags: { host: 'c' } }];
  assert.notEqual(checksumOf(pointLines(a)), checksumOf(pointLines(retagged)));
});

test('backup archives: members confined to backup/; portable manifests name their databases', () => {
  assert.deepEqual(checkMembers('backup/\nbackup/x.manifest\n'), ['backup/', 'backup/x.manifest']);
  for (const bad of ['../etc/passwd', '/etc/passwd', 'backup/../../x', 'other/file', '']) assert.equal(code(() => checkMembers(bad)), 'BACKUP_CORRUPT', bad);
  assert.deepEqual(portableDatabases('{"meta":{"fileName":"x.meta"},"files":[{"database":"d1","policy":"autogen","shardID":1},{"database":"d1","policy":"week","shardID":2}]}'), ['d1']);
});

test('versions are data: 1.6 speaks InfluxQL, 2 speaks /api/v2; each generation says what it lacks', () => {
  assert.equal(apiOf('1.6'), 'influxql');
  assert.equal(apiOf('2'), 'v2');
  assert.equal(parseInfluxdVersion('InfluxDB v1.6.7~rc0 (git: unknown unknown)'), '1.6.7');
  assert.equal(parseInfluxdVersion('InfluxDB v2.7.11 (git: fbf5d4ab5e) build_date: 2024-12-02T17:48:17Z'), '2.7.11');
  assert.deepEqual(install.localBinaries?.required, ['influxd']);
  assert.equal(generationOf({ config: { version: '1.6' } } as never).api, 'influxql');
  const v2ctx = { config: { version: '2' } } as never;
  assert.equal(code(() => (need(engine, 'connections') as (c: unknown) => unknown)(v2ctx)), 'NOT_APPLICABLE');
  assert.throws(() => (need(engine, 'schema') as (c: unknown) => unknown)(v2ctx), /retention-policy level; use db_tables/);
  for (const g of Object.values(GENERATIONS)) for (const op of Object.keys(g.unsupported)) assert.ok(!(op in g.ops), `${g.api}.${op} is both offered and unsupported`);
  assert.equal(code(() => need(engine, 'indexes')), 'NOT_APPLICABLE');
});

test('2.x pure parts: buckets, authorizations, setup, launch flags, /metrics, /api/v2/config, Flux fingerprints', () => {
  assert.deepEqual(bucketsAsDatabases([{ name: '_monitoring', type: 'system' }, { name: '_tasks', type: 'system' }, { name: 'default', type: 'user' }, { name: 'metrics' }]), [{ name: 'default' }, { name: 'metrics' }]);
  const auths = [{ id: 'a1', userID: 'u1', status: 'active', permissions: [{ action: 'read', resource: { type: 'buckets', id: 'b1', name: 'metrics' } }] }, { id: 'a2', userID: 'u2', permissions: [{ action: 'write', resource: { type: 'orgs' } }] }];
  assert.deepEqual(grantsOf('u1', 'app', auths), ['read buckets/metrics [authorization a1]']);
  assert.deepEqual(bucketPermissions(['all'], 'o1', 'b1').map((p) => p.action), ['read', 'write']);
  assert.deepEqual(setupRequest('pw', 'tok'), { username: 'admin', password: 'pw', org: 'portunix', bucket: 'default', token: 'tok' });
  const args = v2LaunchArgs({ paths: { dataDir: '/d' }, config: { port: 9999 } } as never, true);
  assert.deepEqual(args.slice(0, 2), ['--http-bind-address', '127.0.0.1:9999']);
  assert.ok(args.includes('--reporting-disabled') && args.includes('--tls-cert'));
  const prom = prometheusReport('# HELP x\n# TYPE http_api_requests_total counter\nhttp_api_requests_total{handler="platform",method="GET",path="/api/v2/query",status="2XX"} 3\nhttp_api_requests_total{handler="platform",method="POST",path="/api/v2/write",status="2XX"} 4\ngo_goroutines 42\nstorage_shard_disk_size{bucket="b1",engine="tsm1",id="1"} 1024\n');
  assert.equal(prom.counters['http_api_requests_total'], 7);
  assert.deepEqual([prom.gauges['go_goroutines'], prom.gauges['storage_shard_disk_size']], [42, 1024]);
  assert.deepEqual(v2Settings('{"config":{"http-bind-address":"127.0.0.1:8086","reporting-disabled":true}}').map((s) => [s.name, s.value]), [['http-bind-address', '127.0.0.1:8086'], ['reporting-disabled', 'true']]);
  const rows = [{ result: '_result', table: 0, _measurement: 'cpu', _field: 'v', _time: 't1', _value: 1, host: 'a' }, { result: '_result', table: 1, _measurement: 'cpu', _field: 'v', _time: 't2', _value: 2, host: 'b' }];
  const fp = fluxFingerprint(rows);
  assert.deepEqual(fp.map((t) => [t.name, t.rows]), [['cpu', 2]]);
  assert.equal(fluxFingerprint([...rows].reverse())[0]!.checksum, fp[0]!.checksum);
});

// ---------- 2.x through the official client, against documented reply shapes ----------

let server: Server;
let port = 0;
const seen: { method: string; url: string; auth?: string; body: string }[] = [];
let onboarded = false;

before(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, ...(req.headers.authorization ? { auth: req.headers.authorization } : {}), body });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(value));
      };
      const path = req.url!.split('?')[0];
      if (path === '/health') return json(200, { name: 'influxdb', message: 'ready for queries and writes', status: 'pass', checks: [], version: 'v2.7.11', commit: 'fbf5d4ab5e' });
      if (path === '/api/v2/setup' && req.method === 'GET') return json(200, { allowed: !onboarded });
      if (path === '/api/v2/setup' && req.method === 'POST') {
        onboarded = true;
        return json(201, { user: { id: 'u0', name: 'admin' }, org: { id: 'o1', name: 'portunix' }, bucket: { id: 'b0', name: 'default' }, auth: { id: 'a0', token: JSON.parse(body).token } });
      }
      if (req.headers.authorization !== 'Token the-operator-token') return json(401, { code: 'unauthorized', message: 'unauthorized access' });
      if (path === '/api/v2/orgs') return json(200, { links: { self: '/api/v2/orgs' }, orgs: [{ id: 'o1', name: 'portunix', status: 'active' }] });
      if (path === '/api/v2/buckets') return json(200, { links: { self: '/api/v2/buckets' }, buckets: [{ id: 'b9', orgID: 'o1', type: 'system', name: '_monitoring', retentionRules: [{ type: 'expire', everySeconds: 604800 }] }, { id: 'b0', orgID: 'o1', type: 'user', name: 'default', retentionRules: [] }] });
      if (path === '/api/v2/users') return json(200, { users: [{ id: 'u0', name: 'admin', status: 'active' }, { id: 'u1', name: 'app', status: 'active' }] });
      if (path === '/api/v2/authorizations') return json(200, { authorizations: [{ id: 'a1', userID: 'u1', user: 'app', orgID: 'o1', status: 'active', permissions: [{ action: 'read', resource: { type: 'buckets', id: 'b0', name: 'default', orgID: 'o1' } }] }] });
      json(404, { code: 'not found', message: 'path not found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as { port: number }).port;
});

after(() => new Promise<void>((r) => server.close(() => r())));

function v2ctx() {
  const root = mkdtempSync(join(tmpdir(), 'pdb-influx-v2-'));
  return createInstanceContext('influxdb', 'v2test', { version: '2', port, host: '127.0.0.1', data_dir: join(root, 'data'), backup_dir: join(root, 'b'), auto_backup: false, backup_schedule: 'daily' });
}

test('2.x first start: onboarding posts the org, bucket, admin and the stored operator token, then the token is checked', async () => {
  const ctx = v2ctx();
  await ctx.setAdminPassword('admin-pw');
  await getSecretStore().set(secretKey('influxdb', 'v2test', 'operator-token'), 'the-operator-token');
  assert.equal(await isReadyV2(ctx), true);
  const post = seen.find((s) => s.method === 'POST' && s.url === '/api/v2/setup');
  assert.deepEqual(JSON.parse(post!.body), { username: 'admin', password: 'admin-pw', org: 'portunix', bucket: 'default', token: 'the-operator-token' });
  const n = seen.length;
  assert.equal(await isReadyV2(ctx), true, 'ready again without a second setup');
  assert.ok(!seen.slice(n).some((s) => s.method === 'POST'));
});

test('2.x through @influxdata/influxdb-client-apis: buckets as databases, users with their authorizations as grants', async () => {
  const ctx = v2ctx();
  assert.deepEqual(await listDatabasesV2(ctx), [{ name: 'default' }]);
  const users = await listUsersV2(ctx);
  assert.deepEqual(users.map((u) => [u.name, u.superuser, u.grants]), [['admin', true, []], ['app', false, ['read buckets/default [authorization a1]']]]);
  assert.ok(seen.filter((s) => s.url.startsWith('/api/v2/buckets')).every((s) => s.auth === 'Token the-operator-token'));
  // a wrong token is an authentication error with a hint, not a stack trace
  await getSecretStore().set(secretKey('influxdb', 'v2test', 'operator-token'), 'wrong');
  await assert.rejects(listDatabasesV2(ctx), (e: { code?: string }) => e.code === 'AUTH_FAILED');
  await getSecretStore().set(secretKey('influxdb', 'v2test', 'operator-token'), 'the-operator-token');
});

test('--bin-dir: influxd is found and its version read from the binary (1.6 -> InfluxQL, 2.x -> /api/v2)', async () => {
  const { install: installOp } = await import('../../src/core/ops/lifecycle.js');
  const { writeFileSync, mkdirSync, chmodSync } = await import('node:fs');
  for (const [reported, line] of [['InfluxDB v1.6.7~rc0 (git: unknown unknown)', '1.6'], ['InfluxDB v2.7.11 (git: fbf5d4ab5e) build_date: 2024-12-02T17:48:17Z', '2']] as const) {
    const bin = join(mkdtempSync(join(tmpdir(), 'pdb-influx-bin-')), 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'influxd'), `#!/bin/sh\necho '${reported}'\n`);
    chmodSync(join(bin, 'influxd'), 0o755);
    const r = await installOp({ type: 'influxdb', binDir: bin, dryRun: true, port: 18999 });
    assert.equal(r.source, 'bin-dir');
    assert.equal(r.version, line);
    assert.equal(r.plan.binDir, bin);
    assert.equal(apiOf(r.version), line === '1.6' ? 'influxql' : 'v2');
  }
});
