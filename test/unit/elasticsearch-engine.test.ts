/** Pure logic of the Elasticsearch engine: names, JDK choice, config rendering (security off and the x-pack path), parsing of answers, checksums, archive checks. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateIdentifier } from '../../src/engines/elasticsearch/identifiers.js';
import { reasonFrom } from '../../src/engines/elasticsearch/backup.js';
import { findJava, isDefaultDistribution, javaMajor, renderConfig, renderHeap, HEAP, connectionUrl } from '../../src/engines/elasticsearch/instance.js';
import { indexSettings, nextRole, parsePrivileges, roleName, toDatabases } from '../../src/engines/elasticsearch/admin.js';
import { diskCheck, flattenMapping, parseWatermark, performanceFrom, shardEntries } from '../../src/engines/elasticsearch/inspect.js';
import { parseYml, setYml } from '../../src/engines/elasticsearch/config.js';
import { checkArchiveListing, DocChecksum } from '../../src/engines/elasticsearch/backup.js';
import { localBinaries, versionFromLibNames } from '../../src/engines/elasticsearch/install.js';
import { esReason, mapEsError } from '../../src/engines/elasticsearch/client.js';
import { engine } from '../../src/engines/elasticsearch/index.js';
import { need } from '../../src/engines/need.js';
import type { InstanceContext } from '../../src/engines/contract.js';

function fakeJdk(major: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-jdk-'));
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin', 'java'), '');
  writeFileSync(join(dir, 'release'), `JAVA_VERSION="${major}"\n`);
  return dir;
}

test('index names follow Elasticsearch rules, and dot-names are refused', () => {
  for (const ok of ['shop', 'logs-2026.12.01', 'a_b', '9lives', 'x'.repeat(255)]) assert.equal(validateIdentifier('database', ok), ok);
  for (const bad of ['Shop', '.kibana', '_all', '-x', '+x', '*', 'a,b', 'a b', 'a/b', 'a\\b', 'a?b', 'a#b', 'a:b', 'a"b', '..', '.', 'a..b', '', 'x'.repeat(256), 'shop?pretty', 'é']) {
    assert.throws(() => validateIdentifier('database', bad), (e: Error & { code?: string }) => e.code === 'INVALID_IDENTIFIER', bad);
  }
  assert.equal(validateIdentifier('table', 'user.name'), 'user.name');
  assert.equal(validateIdentifier('table', '_mapping'), '_mapping');
  assert.throws(() => validateIdentifier('table', '../_mapping'));
  assert.throws(() => validateIdentifier('user', 'a b'));
  assert.equal(validateIdentifier('user', 'app_reader@x'), 'app_reader@x');
});

test('the JDK is found the documented way: ES_JAVA_HOME, the recorded java_home, JAVA_HOME, the bundled jdk/', () => {
  const esHome = mkdtempSync(join(tmpdir(), 'pdb-es-'));
  const j17 = fakeJdk('17.0.15');
  const j21 = fakeJdk('21.0.2');
  assert.deepEqual(findJava(esHome, j21, { ES_JAVA_HOME: j17, JAVA_HOME: j21 }), { home: j17, from: 'ES_JAVA_HOME' });
  assert.deepEqual(findJava(esHome, j21, { JAVA_HOME: j17 }), { home: j21, from: 'instance setting java_home' });
  assert.deepEqual(findJava(esHome, undefined, { JAVA_HOME: j17 }), { home: j17, from: 'JAVA_HOME' });
  assert.throws(() => findJava(esHome, undefined, {}), (e: Error & { code?: string; hint?: string }) => e.code === 'START_FAILED' && /no bundled jdk\/, and neither ES_JAVA_HOME nor JAVA_HOME is set/.test(e.message) && /ES_JAVA_HOME=/.test(e.hint ?? ''));
  mkdirSync(join(esHome, 'jdk', 'bin'), { recursive: true });
  writeFileSync(join(esHome, 'jdk', 'bin', 'java'), '');
  assert.equal(findJava(esHome, undefined, {}).from, 'bundled JDK');
  assert.throws(() => findJava(esHome, undefined, { ES_JAVA_HOME: fakeJdk('11.0.1') }), /Java 11.*needs Java 17/);
  assert.throws(() => findJava(esHome, '/nonexistent', {}), /bin\/java does not exist/);
  assert.equal(javaMajor(fakeJdk('1.8.0_312')), 8);
  assert.equal(javaMajor('/nonexistent'), undefined);
});

test('the default (x-pack) distribution is told from the integ-test one', () => {
  const integ = mkdtempSync(join(tmpdir(), 'pdb-es-'));
  mkdirSync(join(integ, 'modules', 'x-pack-security'), { recursive: true });
  assert.equal(isDefaultDistribution(integ), false);
  mkdirSync(join(integ, 'modules', 'x-pack-ml'), { recursive: true });
  assert.equal(isDefaultDistribution(integ), true);
});

const base = { name: 'main', port: 9201, dataDir: '/h/data', logsDir: '/h/logs', repoDir: '/h/snap shots', defaultDistribution: false };

test('elasticsearch.yml without security: single node, loopback, our port and paths, nothing x-pack-only', () => {
  const yml = renderConfig({ ...base, security: false });
  for (const line of ['discovery.type: single-node', 'network.host: 127.0.0.1', 'http.port: 9201', 'path.data: "/h/data"', 'path.logs: "/h/logs"', 'path.repo: ["/h/snap shots"]', 'xpack.security.enabled: false', 'cluster.routing.allocation.disk.watermark.low: 97%', 'cluster.routing.allocation.disk.watermark.high: 98%', 'cluster.routing.allocation.disk.watermark.flood_stage: 99%']) assert.ok(yml.split('\n').includes(line), line);
  assert.doesNotMatch(yml, /ssl|geoip|xpack\.ml/);
  assert.deepEqual(parseYml(yml)['path.repo'], '["/h/snap shots"]');
});

test('elasticsearch.yml with security (x-pack path, plan-tested): HTTPS with the instance certificate, no transport TLS for one node', () => {
  const yml = renderConfig({ ...base, security: true, tls: { cert: '/h/config/tls/server.crt', key: '/h/config/tls/server.key' }, defaultDistribution: true });
  const lines = yml.split('\n');
  for (const line of ['xpack.security.enabled: true', 'xpack.security.http.ssl.enabled: true', 'xpack.security.http.ssl.certificate: "/h/config/tls/server.crt"', 'xpack.security.http.ssl.key: "/h/config/tls/server.key"', 'xpack.security.transport.ssl.enabled: false', 'ingest.geoip.downloader.enabled: false']) assert.ok(lines.includes(line), line);
  assert.doesNotMatch(yml, /password/i, 'no secret in the config');
});

test('connection URLs: plain http on loopback without security; https as elastic with the password hidden, on a secured instance', () => {
  const root = mkdtempSync(join(tmpdir(), 'pdb-es-inst-'));
  const ctx = { engine: 'elasticsearch', name: 'main', config: { port: 9201 }, paths: { root } } as unknown as InstanceContext;
  writeFileSync(join(root, 'elasticsearch-instance.json'), JSON.stringify({ security: false, es_home: '/x' }));
  assert.equal(connectionUrl(ctx, { database: 'shop', showPassword: false, password: '' }), 'http://127.0.0.1:9201/shop');
  writeFileSync(join(root, 'elasticsearch-instance.json'), JSON.stringify({ security: true, es_home: '/x' }));
  mkdirSync(join(root, 'config', 'tls'), { recursive: true });
  writeFileSync(join(root, 'config', 'tls', 'server.crt'), 'PEM');
  assert.equal(connectionUrl(ctx, { showPassword: false, password: 'p@ss' }), 'https://elastic:***@127.0.0.1:9201');
  assert.equal(connectionUrl(ctx, { showPassword: true, password: 'p@ss' }), 'https://elastic:p%40ss@127.0.0.1:9201');
  assert.throws(() => connectionUrl(ctx, { database: 'A', showPassword: false, password: '' }), /not a valid Elasticsearch index name/);
});

test('heap sizes and index settings', () => {
  assert.ok(HEAP.test('512m') && HEAP.test('2g') && !HEAP.test('0m') && !HEAP.test('512') && !HEAP.test('1g -XX:+Bad'));
  assert.equal(renderHeap('1g').split('\n').slice(1, 3).join(' '), '-Xms1g -Xmx1g');
  assert.deepEqual(indexSettings({ number_of_shards: '2', 'index.refresh_interval': '5s' }), { 'index.number_of_shards': '2', 'index.number_of_replicas': '0', 'index.refresh_interval': '5s' });
  assert.throws(() => indexSettings({ 'Bad Key': '1' }), /not an index setting name/);
});

test('indices and data streams become databases; hidden and backing indices are not listed on their own', () => {
  const dbs = toDatabases(
    [
      { index: 'shop', health: 'green', 'docs.count': '3', 'store.size': '100' },
      { index: '.security-7', health: 'green', 'docs.count': '1', 'store.size': '5' },
      { index: '.ds-logs-2026.12.01-000001', health: 'yellow', 'docs.count': '4', 'store.size': '40' },
      { index: '.ds-logs-2026.12.02-000002', health: 'yellow', 'docs.count': '6', 'store.size': '60' },
    ],
    [{ name: 'logs', status: 'YELLOW', indices: [{ index_name: '.ds-logs-2026.12.01-000001' }, { index_name: '.ds-logs-2026.12.02-000002' }] }],
  );
  assert.deepEqual(dbs.map((d) => [d.name, d.kind, d.health, d.docs, d.sizeBytes]), [['logs', 'data stream', 'yellow', 10, 100], ['shop', 'index', 'green', 3, 100]]);
});

test('a mapping flattens into fields, multi-fields after their parent', () => {
  const f = flattenMapping({ user: { properties: { id: { type: 'long' }, name: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } } } }, at: { type: 'date' } });
  assert.deepEqual(f.map((x) => [x.path, x.type, x.multiOf ?? '']), [['at', 'date', ''], ['user', 'object', ''], ['user.id', 'long', ''], ['user.name', 'text', ''], ['user.name.keyword', 'keyword', 'user.name']]);
});

test('shards become index entries with segments and state', () => {
  const e = shardEntries([{ index: 'shop', shard: '1', prirep: 'p', state: 'STARTED', docs: '5', store: '900', node: 'main', 'segments.count': '3' }, { index: 'shop', shard: '0', prirep: 'r', state: 'UNASSIGNED', 'unassigned.reason': 'INDEX_CREATED' }]);
  assert.deepEqual(e.map((x) => [x.name, x.primary, x.invalid ?? false]), [['shard 0 replica', false, true], ['shard 1 primary', true, false]]);
  assert.match(e[1]!.definition!, /STARTED on main: 3 segments, 5 docs/);
  assert.match(e[0]!.definition!, /unassigned \(INDEX_CREATED\)/);
});

test('_nodes/stats become counters (rates) and gauges; rejections and a full heap are named', () => {
  const r = performanceFrom({
    nodes: {
      n: {
        indices: { indexing: { index_total: 10, index_time_in_millis: 4 }, search: { query_total: 7, query_time_in_millis: 2, fetch_total: 1 }, docs: { count: 3 }, store: { size_in_bytes: 99 } },
        jvm: { mem: { heap_used_in_bytes: 90, heap_max_in_bytes: 100, heap_used_percent: 90 }, gc: { collectors: { young: { collection_count: 5, collection_time_in_millis: 20 }, old: { collection_count: 0, collection_time_in_millis: 0 } } } },
        thread_pool: { write: { rejected: 2, completed: 10, queue: 1 }, search: { rejected: 0, completed: 3, queue: 0 }, generic: { rejected: 9 } },
        http: { current_open: 2, total_opened: 8 },
      },
    },
  });
  assert.equal(r.counters['indexing_ops'], 10);
  assert.equal(r.counters['search_queries'], 7);
  assert.equal(r.counters['gc_young_collections'], 5);
  assert.equal(r.counters['threadpool_write_rejected'], 2);
  assert.equal(r.counters['threadpool_generic_rejected'], undefined);
  assert.equal(r.gauges['heap_used_percent'], 90);
  assert.equal(r.gauges['http_connections_open'], 2);
  assert.ok(r.notes?.some((n) => /write=2/.test(n)));
  assert.ok(r.notes?.some((n) => /heap is 90% used/.test(n)));
});

test('disk watermarks: percentages, ratios and absolute free space', () => {
  assert.deepEqual(parseWatermark('85%'), { usedPercent: 85 });
  assert.deepEqual(parseWatermark('0.9'), { usedPercent: 90 });
  assert.deepEqual(parseWatermark('500mb'), { freeBytes: 500 * 1024 ** 2 });
  const wm = { low: '85%', high: '90%', flood: '95%' };
  assert.equal(diskCheck(wm, 100, 50).status, 'ok');
  assert.equal(diskCheck(wm, 100, 12).status, 'warn');
  assert.equal(diskCheck(wm, 100, 8).status, 'fail');
  assert.match(diskCheck(wm, 100, 2).detail, /flood stage/);
  assert.equal(diskCheck({ low: '10gb', high: '5gb', flood: '1gb' }, 100 * 1024 ** 3, 7 * 1024 ** 3).status, 'warn');
});

test('elasticsearch.yml edits keep one line per setting', () => {
  const t = setYml('a: 1\nb: "x"\n', 'b', 'y z');
  assert.equal(t, 'a: 1\nb: "y z"\n');
  assert.deepEqual(parseYml(setYml(t, 'c.d', '5')), { a: '1', b: 'y z', 'c.d': '5' });
});

test('privileges and roles for the security API (x-pack path, unit-tested only)', () => {
  assert.deepEqual(parsePrivileges(['SELECT', 'write', 'read']), ['read', 'write']);
  assert.throws(() => parsePrivileges(['superuser']), /not an Elasticsearch index privilege/);
  assert.equal(roleName('app', 'shop'), 'portunix_app_shop');
  assert.equal(roleName('app', undefined), 'portunix_app_all');
  assert.deepEqual(nextRole(['read'], ['write', 'read'], 'grant'), ['read', 'write']);
  assert.deepEqual(nextRole(['read', 'write'], ['write'], 'revoke'), ['read']);
});

test('the document checksum does not depend on order, and sees every change', () => {
  const docs: [string, unknown][] = Array.from({ length: 50 }, (_, i) => [`d${i}`, { n: i, s: `v${i}` }]);
  const a = new DocChecksum();
  for (const [id, s] of docs) a.add(id, s);
  const b = new DocChecksum();
  for (const [id, s] of [...docs].reverse()) b.add(id, s);
  assert.equal(a.hex(), b.hex());
  assert.equal(a.rows, 50);
  const c = new DocChecksum();
  for (const [id, s] of docs) c.add(id, id === 'd7' ? { n: 7, s: 'changed' } : s);
  assert.notEqual(c.hex(), a.hex());
  const d = new DocChecksum();
  for (const [id, s] of docs) d.add(id === 'd7' ? 'd7x' : id, s);
  assert.notEqual(d.hex(), a.hex(), 'an _id change is seen');
  assert.match(a.hex(), /^[0-9a-f]{64}$/);
});

test('a snapshot archive holds only relative plain files of a repository', () => {
  const good = ['drwx------ u/g 0 2026-12-01 20:00 ./', '-rw-r--r-- u/g 10 2026-12-01 20:00 ./index-0', '-rw-r--r-- u/g 8 2026-12-01 20:00 ./index.latest', '-rw-r--r-- u/g 8 2026-12-01 20:00 ./snap-abc.dat', 'drwx------ u/g 0 2026-12-01 20:00 ./indices/'].join('\n');
  assert.equal(checkArchiveListing(good), undefined);
  assert.match(checkArchiveListing(`${good}\nlrwxrwxrwx u/g 0 2026-12-01 20:00 ./x -> /etc/passwd`)!, /link/);
  assert.match(checkArchiveListing(`${good}\n-rw-r--r-- u/g 1 2026-12-01 20:00 ../../etc/cron.d/x`)!, /outside/);
  assert.match(checkArchiveListing(`${good}\n-rw-r--r-- u/g 1 2026-12-01 20:00 /etc/x`)!, /outside/);
  assert.match(checkArchiveListing('-rw-r--r-- u/g 2 2026-12-01 20:00 hello.txt')!, /not a snapshot repository/);
});

test('archive and bin-dir installs read the version from lib/ without starting a JVM', async () => {
  assert.equal(versionFromLibNames(['elasticsearch-cli-8.19.21.jar', 'elasticsearch-8.19.21.jar']), '8.19.21');
  assert.equal(versionFromLibNames(['elasticsearch-core-8.1.0.jar']), undefined);
  const tree = mkdtempSync(join(tmpdir(), 'pdb-es-tree-'));
  mkdirSync(join(tree, 'bin'));
  mkdirSync(join(tree, 'lib'));
  writeFileSync(join(tree, 'lib', 'elasticsearch-8.19.21.jar'), '');
  assert.equal(await localBinaries.version(join(tree, 'bin'), async () => ''), '8.19.21');
  await assert.rejects(localBinaries.version('/nonexistent/bin', async () => ''), /not an Elasticsearch distribution/);
  assert.deepEqual(localBinaries.required, ['elasticsearch']);
});

test('server errors map to codes; the product check failure names the port', () => {
  const ctx = { name: 'main', config: { port: 9201 } } as unknown as InstanceContext;
  const resp = { meta: { statusCode: 404, body: { error: { type: 'index_not_found_exception', reason: 'no such index [x]' } } } };
  assert.deepEqual(esReason(resp), { status: 404, type: 'index_not_found_exception', reason: 'no such index [x]' });
  assert.equal(mapEsError(resp, ctx).code, 'NOT_FOUND');
  assert.equal(mapEsError({ meta: { statusCode: 401, body: { error: { type: 'security_exception', reason: 'unable to authenticate' } } } }, ctx).code, 'AUTH_FAILED');
  assert.equal(mapEsError({ name: 'ConnectionError', message: 'connect ECONNREFUSED' }, ctx).code, 'NOT_RUNNING');
  assert.match(mapEsError({ name: 'ProductNotSupportedError', message: 'x' }, ctx).message, /127\.0\.0\.1:9201 is not Elasticsearch/);
});

test('absent capabilities answer NOT_APPLICABLE with what to use instead', () => {
  assert.throws(() => need(engine, 'constraints'), (e: Error & { code?: string }) => e.code === 'NOT_APPLICABLE' && /table-info _mapping/.test(e.message));
  assert.throws(() => need(engine, 'enableStatements'), /slow log/);
  assert.equal(engine.info.terms.database, 'index');
  assert.ok(engine.info.creationSettings);
});

test('why a restored shard is unassigned: the first NO decider (a full disk is named as such), else ES\'s own summary, else nothing', () => {
  const disk = { node_allocation_decisions: [{ deciders: [{ decider: 'same_shard', decision: 'YES', explanation: 'ok' }, { decider: 'disk_threshold', decision: 'NO', explanation: 'the node is above the low watermark' }] }] };
  assert.deepEqual(reasonFrom(disk), { decider: 'disk_threshold', explanation: 'the node is above the low watermark' });
  assert.deepEqual(reasonFrom({ unassigned_info: { reason: 'NEW_INDEX_RESTORED', details: 'failed shard: corrupt file' }, node_allocation_decisions: [{ deciders: [] }] }), { explanation: 'failed shard: corrupt file' });
  assert.deepEqual(reasonFrom({ allocate_explanation: 'cannot allocate because allocation is not permitted to any of the nodes' }), { explanation: 'cannot allocate because allocation is not permitted to any of the nodes' });
  assert.equal(reasonFrom({}), undefined);
});
