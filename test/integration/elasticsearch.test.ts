/**
 * Elasticsearch 8 for real: Elastic's integ-test distribution from Maven Central (test/servers/
 * elasticsearch.ts), installed through the CLI with `--archive FILE --sha256 H` and run by the
 * tool (as the service user when the tests run as root), one instance for the whole file because
 * a JVM start is slow on a small machine. CLI and MCP over stdio against the same node.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { resignManifest, sealedBackup } from '../helpers/backup.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { call, fails, freePort, ok, stdioClient } from '../helpers/mcp.js';
import { testServer } from '../servers/cache.js';

const es = testServer('elasticsearch-8');
const home = freshHome('es');
const E = { type: 'elasticsearch' };
let port = 0;
let env: Record<string, string | undefined> = {};
const cli = (args: string[], code = 0) => cliOk(args, { home, env, timeoutMs: 600_000 }, code);

async function http(method: string, path: string, body?: unknown, ndjson = false): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
    ...(body !== undefined ? { body: ndjson ? (body as string) : JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return text ? JSON.parse(text) : {};
}

const count = async (index: string) => (await http('GET', `/${index}/_count`)).count as number;

/** 2,500 documents (more than one page of the checksum's search_after) in one bulk request. */
async function bulkLoad(index: string, n: number): Promise<void> {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) lines.push(JSON.stringify({ index: { _id: `p${i}` } }), JSON.stringify({ name: `product ${i}`, price: i % 97, tags: [`t${i % 5}`], meta: { seq: i } }));
  const r = await http('POST', `/${index}/_bulk?refresh=true`, lines.join('\n') + '\n', true);
  assert.equal(r.errors, false, 'bulk load has no errors');
}

describe(`Elasticsearch ${es?.version ?? '8'} (Maven integ-test distribution) through the CLI and MCP`, { skip: es ? false : 'elasticsearch-8 is not provisioned (node dist/test/servers/provision.js elasticsearch-8)', timeout: 30 * 60_000 }, () => {
  let ro: Client;
  let rw: Client;
  let backupFile = '';

  before(async () => {
    port = await freePort();
    env = { ES_JAVA_HOME: es!.extra!['javaHome'], JAVA_HOME: undefined };
    const r = await cli(['install', 'elasticsearch', '--archive', es!.archive!, '--sha256', es!.sha256!, '--port', String(port), '--json']);
    assert.equal(r.json.state, 'running', r.stderr);
    assert.match(r.stderr, /Java from ES_JAVA_HOME/);
    ro = await stdioClient(home);
    rw = await stdioClient(home, ['--allow-write']);
  });

  after(async () => {
    await ro?.close().catch(() => undefined);
    await rw?.close().catch(() => undefined);
    await runCli(['stop', 'elasticsearch'], { home, env });
  });

  it('runs the exact server version, single node on 127.0.0.1, data/logs/snapshots inside the instance', async () => {
    const st = (await cli(['status', 'elasticsearch', '--json'])).json[0];
    assert.equal(st.state, 'running');
    assert.equal(st.full_version, es!.version);
    const nodes = await http('GET', '/_nodes/_local/settings,http');
    const node = Object.values(nodes.nodes as Record<string, any>)[0];
    assert.equal(node.settings.discovery.type, 'single-node');
    assert.match(node.http.publish_address, /^127\.0\.0\.1:/);
    const inst = join(home, 'instances', 'elasticsearch', 'main');
    assert.deepEqual([node.settings.path.data].flat(), [join(inst, 'data')]);
    assert.equal(node.settings.path.logs, join(inst, 'logs'));
    assert.deepEqual([node.settings.path.repo].flat(), [join(inst, 'snapshots')]);
    const jvm = await http('GET', '/_nodes/_local/jvm');
    assert.equal(Object.values(jvm.nodes as Record<string, any>)[0].jvm.mem.heap_max_in_bytes, 512 * 1024 * 1024, 'default heap 512m');
    if (process.getuid?.() === 0) assert.equal(execFileSync('ps', ['-o', 'user=', '-p', String(st.pid)], { encoding: 'utf8' }).trim(), 'portunix-db', 'runs as the service user');
    assert.equal((await cli(['url', 'elasticsearch', '--database', 'shop', '--json'])).json.url, `http://127.0.0.1:${port}/shop`);
  });

  it('index admin: create with settings, refuse bad names and --setting where it does not belong, drop needs --force', async () => {
    const c = await cli(['create', 'shop', '--type', 'elasticsearch', '--setting', 'number_of_shards=2', '--setting', 'index.refresh_interval=2s', '--json']);
    assert.equal(c.json.created, true);
    const s = await http('GET', '/shop/_settings');
    assert.equal(s.shop.settings.index.number_of_shards, '2');
    assert.equal(s.shop.settings.index.number_of_replicas, '0');
    assert.equal(s.shop.settings.index.refresh_interval, '2s');
    assert.equal((await cli(['create', 'shop', '--type', 'elasticsearch', '--json'])).json.created, false);
    for (const bad of ['Shop', '.security', '_x', 'a/b', 'a b', '../x', 'a*', 'x'.repeat(300)]) {
      const r = await runCli(['create', bad, '--type', 'elasticsearch', '--json'], { home, env });
      assert.equal(r.code, 2, `${bad}: ${r.stdout}`);
      assert.equal(r.json.error.code, 'INVALID_IDENTIFIER');
    }
    const badSetting = await runCli(['create', 'x1', '--type', 'elasticsearch', '--setting', 'number_of_shards=abc', '--json'], { home, env });
    assert.notEqual(badSetting.code, 0);
    assert.match(badSetting.json.error.message, /number_of_shards/);
    const badKey = await runCli(['create', 'x1', '--type', 'elasticsearch', '--setting', 'noequals', '--json'], { home, env });
    assert.equal(badKey.json.error.code, 'USAGE');
    assert.equal((await fetch(`http://127.0.0.1:${port}/x1`, { method: 'HEAD' })).status, 404, 'nothing was created');
    await cli(['create', 'scratch', '--type', 'elasticsearch']);
    assert.equal((await runCli(['drop', 'scratch', '--type', 'elasticsearch', '--json'], { home, env })).json.error.code, 'CONFIRMATION_REQUIRED');
    await cli(['drop', 'scratch', '--type', 'elasticsearch', '--force']);
    assert.equal((await runCli(['drop', 'scratch', '--type', 'elasticsearch', '--force', '--json'], { home, env })).json.error.code, 'NOT_FOUND');
  });

  it('inspection: list/size with health and docs, fields as tables, mapping as table info, shards and segments', async () => {
    await bulkLoad('shop', 2500);
    const list = (await cli(['list', '--type', 'elasticsearch', '--json'])).json;
    const items = (list.items ?? list[0]?.databases ?? list) as any[];
    const shop = items.find((d) => d.name === 'shop');
    assert.equal(shop.kind, 'index');
    assert.equal(shop.health, 'green');
    assert.equal(shop.docs, 2500);
    assert.ok(shop.sizeBytes > 0);
    const tables = (await cli(['tables', 'shop', '--type', 'elasticsearch', '--json'])).json;
    const names = ((tables.items ?? tables) as any[]).map((t) => `${t.name}:${t.kind}`);
    for (const want of ['_id:metadata field', 'name:text field', 'name.keyword:keyword multi-field', 'price:long field', 'meta:object field', 'meta.seq:long field']) assert.ok(names.includes(want), `${want} in ${names.join(', ')}`);
    await cli(['create', 'empty', '--type', 'elasticsearch']);
    const empty = (await cli(['tables', 'empty', '--type', 'elasticsearch', '--json'])).json;
    assert.ok(((empty.items ?? empty) as any[]).length >= 2, 'a new index is never an empty answer');
    const info = (await cli(['table-info', '_mapping', '--database', 'shop', '--type', 'elasticsearch', '--json'])).json;
    assert.equal(info.rows, 2500);
    assert.ok(info.columns.some((c: any) => c.name === 'price' && c.type === 'long'));
    const field = (await cli(['table-info', 'meta', '--database', 'shop', '--type', 'elasticsearch', '--json'])).json;
    assert.deepEqual(field.columns.map((c: any) => c.name), ['meta', 'meta.seq']);
    assert.equal((await runCli(['table-info', 'nope', '--database', 'shop', '--type', 'elasticsearch', '--json'], { home, env })).json.error.code, 'NOT_FOUND');
    const idx = (await cli(['indexes', 'shop', '--type', 'elasticsearch', '--json'])).json;
    const shards = (idx.items ?? idx) as any[];
    assert.equal(shards.length, 2, 'two primaries');
    assert.ok(shards.every((s) => s.primary && /STARTED.*segments.*docs/.test(s.definition)));
    const c = await runCli(['constraints', 'shop', '--type', 'elasticsearch', '--json'], { home, env });
    assert.equal(c.code, 5);
    assert.match(c.json.error.message, /no constraints/);
  });

  it('health, metrics, connections, users (security off: NOT_APPLICABLE saying why)', async () => {
    const h = (await cli(['health', 'elasticsearch', '--json'])).json;
    const checks = (h.checks ?? h) as any[];
    for (const name of ['cluster health', 'unassigned shards', 'disk watermarks', 'JVM heap', 'thread-pool rejections']) assert.ok(checks.some((c) => c.name === name), name);
    const m = (await cli(['metrics', 'elasticsearch', '--json'])).json;
    const report = m.report ?? m;
    assert.ok(JSON.stringify(report).includes('indexing_ops'), JSON.stringify(report).slice(0, 400));
    assert.ok(JSON.stringify(report).includes('heap_used_percent'));
    const conns = (await cli(['connections', 'elasticsearch', '--json'])).json;
    assert.ok(((conns.items ?? conns) as any[]).some((c) => /^task /.test(c.state)), 'running tasks are listed');
    const u = await runCli(['user', 'list', '--type', 'elasticsearch', '--json'], { home, env });
    assert.equal(u.code, 5);
    assert.match(u.json.error.message, /Security is off.*xpack\.security\.enabled: false/);
  });

  it('config: cluster settings live and persistent, node settings restart-required, managed ones refused', async () => {
    const live = (await cli(['config', 'set', 'elasticsearch', 'cluster.routing.allocation.disk.watermark.low', '96%', '--json'])).json;
    assert.equal(live.applied, 'live');
    const persistent = (await http('GET', '/_cluster/settings?flat_settings=true')).persistent;
    assert.equal(persistent['cluster.routing.allocation.disk.watermark.low'], '96%');
    // accepted above ES's default high watermark (90 %) because the yml's high went along, as it was
    assert.equal(persistent['cluster.routing.allocation.disk.watermark.high'], '98%');
    const stat = (await cli(['config', 'set', 'elasticsearch', 'thread_pool.write.queue_size', '500', '--json'])).json;
    assert.equal(stat.applied, 'restart-required');
    assert.match(readFileSync(join(home, 'instances', 'elasticsearch', 'main', 'config', 'elasticsearch.yml'), 'utf8'), /^thread_pool\.write\.queue_size: "500"$/m);
    const heap = (await cli(['config', 'set', 'elasticsearch', 'heap', '512m', '--json'])).json;
    assert.equal(heap.applied, 'restart-required');
    for (const [k, v, code] of [['network.host', '0.0.0.0', 'FORBIDDEN'], ['heap', '99x', 'USAGE'], ['no.such.setting', '1', 'NOT_FOUND'], ['cluster.routing.allocation.disk.watermark.low', 'lots', 'USAGE'], ['java_home', '/nonexistent', 'START_FAILED']] as const) {
      const r = await runCli(['config', 'set', 'elasticsearch', k, v, '--json'], { home, env });
      assert.equal(r.json?.error?.code, code, `${k}=${v}: ${r.stdout}`);
    }
    assert.equal((await cli(['config', 'get', 'elasticsearch', 'cluster.routing.allocation.disk.watermark.low', '--json'])).json.value, '96%');
  });

  it('maintenance: forcemerge (--full to one segment per shard), refresh, cache clear', async () => {
    const v = (await cli(['vacuum', 'shop', '--type', 'elasticsearch', '--full', '--json'])).json;
    assert.deepEqual(v.actions, ['POST shop/_forcemerge?max_num_segments=1', 'POST shop/_refresh', 'POST shop/_cache/clear']);
    assert.ok(v.details.segments_after <= 2, JSON.stringify(v.details));
  });

  it('bulk-loaded index: backup -> delete -> restore -> verify, and restore into a new name', async () => {
    const b = (await cli(['backup', 'shop', '--type', 'elasticsearch', '--json'])).json;
    backupFile = b.file;
    assert.match(backupFile, /\.snapshot\.tar\.gz$/);
    assert.equal(statSync(backupFile).mode & 0o777, 0o600);
    const manifest = JSON.parse(readFileSync(`${backupFile}.manifest.json`, 'utf8'));
    assert.deepEqual(manifest.tables.map((t: any) => [t.name, t.rows]), [['documents', 2500]]);
    assert.match(manifest.tables[0].checksum, /^[0-9a-f]{64}$/);
    const live = (await cli(['backup', 'verify', backupFile, '--json'])).json;
    assert.equal(live.ok, true, JSON.stringify(live.problems));
    await cli(['drop', 'shop', '--type', 'elasticsearch', '--force']);
    const r = (await cli(['restore', backupFile, '--json'])).json;
    assert.equal(r.target, 'shop');
    assert.equal(await count('shop'), 2500);
    assert.equal((await http('GET', '/shop/_doc/p42'))._source.name, 'product 42');
    const again = await runCli(['restore', backupFile, '--json'], { home, env });
    assert.equal(again.json.error.code, 'CONFIRMATION_REQUIRED');
    await http('POST', '/shop/_doc/extra?refresh=true', { name: 'written after the backup' });
    const replaced = (await cli(['restore', backupFile, '--force', '--json'])).json;
    assert.ok(replaced.actions.some((a: string) => /deleted the old index shop/.test(a)));
    assert.equal(await count('shop'), 2500, 'the document written after the backup is gone');
    const renamed = (await cli(['restore', backupFile, '--target', 'shop_copy', '--json'])).json;
    assert.equal(renamed.target, 'shop_copy');
    assert.equal(await count('shop_copy'), 2500);
    const indices = (await http('GET', '/_cat/indices?format=json&expand_wildcards=all')).map((i: any) => i.index) as string[];
    assert.ok(!indices.some((i) => /-pdb(check|verify|restoring)-/.test(i)), `no scratch index left: ${indices.join(', ')}`);
    const repos = await http('GET', '/_snapshot');
    assert.deepEqual(Object.keys(repos), [], 'no snapshot repository left registered');
  });

  it('a corrupt or tampered snapshot is refused before anything is touched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pdb-es-bad-'));
    // corrupt: bytes flipped, the manifest's sha256 catches it
    const corrupt = join(dir, 'corrupt.snapshot.tar.gz');
    const bytes = readFileSync(backupFile);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = (bytes[mid] ?? 0) ^ 0xff;
    writeFileSync(corrupt, bytes, { mode: 0o600 });
    writeFileSync(`${corrupt}.manifest.json`, readFileSync(`${backupFile}.manifest.json`));
    const r1 = await runCli(['restore', corrupt, '--force', '--json'], { home, env });
    assert.equal(r1.json.error.code, 'BACKUP_CORRUPT');
    // tampered: a document changed inside the snapshot and the manifest's size/sha256 recomputed;
    // the engine's own check (restore into scratch, compare the checksum) refuses it
    const tree = join(dir, 'tree');
    execFileSync('mkdir', ['-p', tree]);
    execFileSync('tar', ['-xzf', backupFile, '-C', tree]);
    await http('POST', '/shop/_doc/p1?refresh=true', { name: 'changed' });
    const other = (await cli(['backup', 'shop', '--type', 'elasticsearch', '--destination', dir, '--json'])).json;
    const tampered = join(dir, 'tampered.snapshot.tar.gz');
    writeFileSync(tampered, readFileSync(other.file), { mode: 0o600 });
    const m = JSON.parse(readFileSync(`${backupFile}.manifest.json`, 'utf8'));
    m.size_bytes = statSync(tampered).size;
    m.sha256 = createHash('sha256').update(readFileSync(tampered)).digest('hex');
    m.file = 'tampered.snapshot.tar.gz';
    writeFileSync(`${tampered}.manifest.json`, JSON.stringify(m));
    // an edited manifest fails its HMAC first...
    const unsigned = await runCli(['restore', tampered, '--force', '--json'], { home, env });
    assert.equal(unsigned.json.error.code, 'BACKUP_TAMPERED', unsigned.stdout);
    // ...and one re-signed with the home's key (a key holder's edit) still meets the engine's own check
    await resignManifest(home, tampered);
    await cli(['restore', backupFile, '--force']);
    const before = await count('shop');
    const r2 = await runCli(['restore', tampered, '--force', '--json'], { home, env });
    assert.equal(r2.json.error.code, 'BACKUP_CORRUPT', r2.stdout);
    assert.match(r2.json.error.hint, /Nothing was changed/);
    assert.equal(await count('shop'), before);
    assert.equal((await http('GET', '/shop/_doc/p1'))._source.name, 'product 1', 'the target is as it was');
    // verify restores into a scratch server, where the engine's own check refuses it the same way
    const vr = await runCli(['backup', 'verify', tampered, '--json'], { home, env });
    assert.notEqual(vr.code, 0, vr.stdout);
    assert.match(JSON.stringify(vr.json), /checksum differs|BACKUP_CORRUPT/, vr.stdout);
    // not a snapshot at all, but a well-hashed tarball
    const junk = join(dir, 'junk.snapshot.tar.gz');
    writeFileSync(join(dir, 'hello.txt'), 'hi');
    execFileSync('tar', ['-czf', junk, '-C', dir, 'hello.txt']);
    const jm = { ...m, file: 'junk.snapshot.tar.gz', size_bytes: statSync(junk).size, sha256: createHash('sha256').update(readFileSync(junk)).digest('hex') };
    writeFileSync(`${junk}.manifest.json`, JSON.stringify(jm));
    await resignManifest(home, junk); // signed, so the engine's own check is what refuses it
    const r3 = await runCli(['restore', junk, '--target', 'junk', '--json'], { home, env });
    assert.equal(r3.json.error.code, 'BACKUP_CORRUPT');
    assert.match(r3.json.error.message, /not a snapshot repository/);
  });

  it('--encrypt: the snapshot archive goes through age as tar writes it; no plaintext file ever appears; it verifies and restores', async () => {
    const sealed = await sealedBackup(['shop', '--type', 'elasticsearch'], join(home, 'sealed'), { home, env, timeoutMs: 600_000 });
    assert.match(sealed.file, /\.snapshot\.tar\.gz\.age$/);
    const v = (await cli(['backup', 'verify', sealed.file, '--json'])).json;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    await cli(['restore', sealed.file, '--target', 'shop_sealed']);
    assert.equal(await count('shop_sealed'), 2500);
    await cli(['drop', 'shop_sealed', '--type', 'elasticsearch', '--force']);
  });

  it('a disk past the low watermark is DISK_FULL naming the watermark, not a damaged snapshot; nothing is left behind', async () => {
    // 1 % used is past on any disk: ES refuses to place a restored shard, which backup's own check needs
    await cli(['config', 'set', 'elasticsearch', 'cluster.routing.allocation.disk.watermark.low', '1%']);
    try {
      const r = await runCli(['backup', 'shop', '--type', 'elasticsearch', '--json'], { home, env });
      assert.equal(r.json?.error?.code, 'DISK_FULL', r.stdout);
      assert.match(r.json.error.message, /would not place the restored shards.*low watermark/s);
      assert.match(r.json.error.hint, /watermark\.low/);
      const indices = (await http('GET', '/_cat/indices?format=json&expand_wildcards=all')).map((i: any) => i.index) as string[];
      assert.ok(!indices.some((i) => /-pdb(check|verify|restoring)-/.test(i)), `no scratch index left: ${indices.join(', ')}`);
      assert.deepEqual(Object.keys(await http('GET', '/_snapshot')), [], 'no snapshot repository left registered');
    } finally {
      await cli(['config', 'set', 'elasticsearch', 'cluster.routing.allocation.disk.watermark.low', '96%']);
    }
    const after = (await cli(['backup', 'shop', '--type', 'elasticsearch', '--json'])).json;
    assert.deepEqual(JSON.parse(readFileSync(`${after.file}.manifest.json`, 'utf8')).tables.map((t: any) => t.rows), [2500], 'backs up again once the disk is within the watermark');
  });

  it('every MCP tool over stdio', async () => {
    const st = await ok(ro, 'db_status', E);
    assert.equal(st.s.instances[0].full_version, es!.version);
    const list = await ok(ro, 'db_list', E);
    assert.ok(list.s.items.some((d: any) => d.name === 'shop'));
    assert.equal((await ok(ro, 'db_size', { ...E, database: 'shop' })).s.items[0].name, 'shop');
    assert.ok((await ok(ro, 'db_tables', { ...E, database: 'shop' })).s.items.some((t: any) => t.name === 'price'));
    assert.equal((await ok(ro, 'db_schema', { ...E, database: 'shop' })).s.database, 'shop');
    assert.ok((await ok(ro, 'db_table_info', { ...E, database: 'shop', table: '_mapping' })).s.columns.length > 5);
    assert.equal((await ok(ro, 'db_indexes', { ...E, database: 'shop' })).s.items.length, 2);
    assert.match(await fails(ro, 'db_constraints', { ...E, database: 'shop' }), /NOT_APPLICABLE.*no constraints/);
    assert.ok((await ok(ro, 'db_connections', E)).s.items.length > 0);
    const perf = await ok(ro, 'db_performance', { ...E, database: 'shop' });
    assert.ok(JSON.stringify(perf.s).includes('search_queries'));
    assert.ok((await ok(ro, 'db_backup_status', E)).s.items.some((b: any) => b.database === 'shop'));
    assert.equal((await call(ro, 'db_backup_create', { ...E, database: 'shop' })).isError, true, 'read-only server has no backup tool');
    const b = await ok(rw, 'db_backup_create', { ...E, database: 'shop_copy' });
    assert.equal(b.s.manifest.tables, 1);
    assert.match(await fails(rw, 'db_restore', { file: b.s.file, target: 'shop_mcp' }), /CONFIRMATION_REQUIRED/);
    const r = await ok(rw, 'db_restore', { file: b.s.file, target: 'shop_mcp', confirm: true });
    assert.equal(r.s.tables[0].rows, 2500);
    assert.equal(await count('shop_mcp'), 2500);
    const v = await ok(rw, 'db_vacuum', { ...E, database: 'shop_mcp' });
    assert.ok(v.s.actions.includes('POST shop_mcp/_forcemerge'));
    assert.match(await fails(rw, 'db_vacuum', { ...E, database: 'shop_mcp', table: 'price' }), /NOT_APPLICABLE/);
  });

  it('bad input through MCP is an error that changes nothing', async () => {
    const before = (await http('GET', '/_cat/indices?format=json')).length;
    for (const [name, args] of [
      ['db_tables', { ...E, database: '_all' }],
      ['db_tables', { ...E, database: '*' }],
      ['db_tables', { ...E, database: 'shop/_doc' }],
      ['db_size', { ...E, database: '.security-7' }],
      ['db_table_info', { ...E, database: 'shop', table: '../_mapping' }],
      ['db_vacuum', { ...E, database: 'shop,shop_copy' }],
      ['db_backup_create', { ...E, database: 'shop?pretty' }],
      ['db_tables', { ...E, database: 'nosuchindex' }],
    ] as [string, Record<string, unknown>][]) {
      const msg = await fails(rw, name, args);
      assert.match(msg, /INVALID_IDENTIFIER|NOT_FOUND|USAGE/, `${name} ${JSON.stringify(args)}: ${msg}`);
      assert.doesNotMatch(msg, /\n\s+at /);
    }
    assert.equal((await http('GET', '/_cat/indices?format=json')).length, before);
  });

  it('a missing JDK is a clear error at install, before anything starts', async () => {
    const other = freshHome('es-nojdk');
    const r = await runCli(['install', 'elasticsearch', '--instance', 'nojdk', '--archive', es!.archive!, '--sha256', es!.sha256!, '--port', String(await freePort()), '--json'], { home: other, env: { ES_JAVA_HOME: undefined, JAVA_HOME: undefined }, timeoutMs: 300_000 });
    assert.notEqual(r.code, 0);
    assert.equal(r.json.error.code, 'START_FAILED');
    assert.match(r.json.error.message, /no bundled jdk\/, and neither ES_JAVA_HOME nor JAVA_HOME is set/);
    assert.match(r.json.error.hint, /ES_JAVA_HOME/);
  });

  it('lifecycle: kill -9 -> crashed -> start recovers with the data; stop is clean', async () => {
    const st = (await cli(['status', 'elasticsearch', '--json'])).json[0];
    process.kill(st.pid, 'SIGKILL');
    for (let i = 0; i < 100 && (await fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false)); i++) await new Promise((r) => setTimeout(r, 300));
    const crashed = (await cli(['status', 'elasticsearch', '--json'])).json[0];
    assert.equal(crashed.state, 'crashed');
    assert.ok(crashed.log_tail.length > 0);
    assert.match(await fails(ro, 'db_list', E), /not running|crashed|start/i);
    const started = (await cli(['start', 'elasticsearch', '--json'])).json;
    assert.equal(started.recovered_from_crash, true);
    assert.ok((await count('shop')) >= 2500, 'the data is back after the crash');
    const stopped = (await cli(['stop', 'elasticsearch', '--json'])).json;
    assert.equal(stopped.forced, false, 'SIGTERM made the node close cleanly');
    assert.equal((await cli(['status', 'elasticsearch', '--json'])).json[0].state, 'stopped');
    assert.match(readFileSync(join(home, 'instances', 'elasticsearch', 'main', 'server.log'), 'utf8'), /closed/);
  });
});
