/**
 * The MongoDB engine end to end through the built CLI, against FerretDB v1.24.2 (SQLite
 * backend) — a MongoDB wire-protocol server STANDING IN for MongoDB, built from its Go module by
 * test/servers/ferretdb.ts and installed through the tool (`install mongodb --bin-dir`).
 * Nothing here ran on MongoDB itself. Where FerretDB lacks a feature the test asserts the typed
 * error that names FerretDB.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { resignManifest } from '../helpers/backup.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { testServer } from '../servers/cache.js';

const server = testServer('ferretdb');
const home = freshHome('mongodb');
const opts = { home };
const cli = (args: string[], code = 0) => cliOk([...args, '--json'], opts, code);
const errorOf = (r: { json: any }): { code: string; message: string; hint?: string } => r.json?.error ?? {};

async function connect(instance = 'main'): Promise<MongoClient> {
  const { MongoClient } = await import('mongodb');
  const url = (await cli(['url', 'mongodb', '--instance', instance, '--show-password'])).json.url as string;
  // the URL names the instance's CA (tlsCAFile): verification is on
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  return client;
}

async function counts(client: MongoClient, db: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const c of await client.db(db).listCollections().toArray()) out[c.name] = await client.db(db).collection(c.name).countDocuments();
  return out;
}

const EXPECTED = { customers: 40, orders: 90, portunix_created: 0 };

describe(`mongodb engine on the FerretDB stand-in (${server?.standIn ?? 'not provisioned'})`, { skip: server ? false : 'ferretdb test server not provisioned (node dist/test/servers/provision.js ferretdb)', timeout: 10 * 60_000 }, () => {
  let port = 0;
  let client: MongoClient;

  before(async () => {
    port = await freePort();
    const r = await cli(['install', 'mongodb', '--bin-dir', server!.binDir!, '--port', String(port)]);
    assert.equal(r.json.state, 'running');
    assert.equal(r.json.source, 'bin-dir');
    client = await connect();
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await runCli(['stop', 'mongodb'], opts);
    await runCli(['stop', 'mongodb', '--instance', 'second'], opts);
  });

  test('status names FerretDB and the MongoDB version it emulates; TLS is required and pinned', async () => {
    const st = (await cli(['status', 'mongodb'])).json.find((e: any) => e.instance === 'main');
    assert.equal(st.state, 'running');
    assert.equal(st.version, '7.0');
    assert.match(st.full_version, /^7\.0\.\d+ \(FerretDB 1\.24\.2\)$/);
    const url = (await cli(['url', 'mongodb'])).json.url as string;
    assert.match(url, /^mongodb:\/\/admin:\*\*\*@127\.0\.0\.1:\d+\/\?authSource=admin&tls=true&tlsCAFile=/);
    const { MongoClient } = await import('mongodb');
    const password = decodeURIComponent(new URL((await cli(['url', 'mongodb', '--show-password'])).json.url).password);
    // plain TCP is refused (TLS only), and so is TLS without the instance's CA
    const plain = new MongoClient(`mongodb://admin:${encodeURIComponent(password)}@127.0.0.1:${port}/?authSource=admin`, { serverSelectionTimeoutMS: 1500 });
    await assert.rejects(plain.connect());
    await plain.close(true);
    const unpinned = new MongoClient(`mongodb://admin:${encodeURIComponent(password)}@127.0.0.1:${port}/?authSource=admin&tls=true`, { serverSelectionTimeoutMS: 1500 });
    await assert.rejects(unpinned.connect(), /certificate|self.signed|Server selection/i);
    await unpinned.close(true);
    // a wrong password is refused
    const wrong = new MongoClient(`mongodb://admin:nope@127.0.0.1:${port}/?authSource=admin&tls=true&tlsCAFile=${encodeURIComponent(join(home, 'instances', 'mongodb', 'main', 'tls', 'server.crt'))}`, { serverSelectionTimeoutMS: 3000 });
    await assert.rejects(wrong.connect(), /Authentication failed/i);
    await wrong.close(true);
    const health = (await cli(['health', 'mongodb'])).json;
    assert.equal(health.healthy, true);
    assert.ok(health.checks.some((c: any) => c.name === 'server' && /FerretDB 1\.24\.2, a stand-in/.test(c.detail)));
  });

  test('admin: create and drop databases; users; roles are a typed error on FerretDB', async () => {
    const created = await cli(['create', 'shop', '--type', 'mongodb']);
    assert.match(created.stdout, /portunix_created/);
    const db = client.db('shop');
    await db.collection('customers').insertMany(Array.from({ length: EXPECTED.customers }, (_, i) => ({ name: `c${i}`, email: `c${i}@x.test`, age: i, address: { city: i % 2 ? 'Praha' : 'Brno' } })));
    await db.collection('orders').insertMany(Array.from({ length: EXPECTED.orders }, (_, i) => ({ customer: `c${i % 40}`, total: i + 0.5, at: new Date(1_700_000_000_000 + i) })));
    await db.collection('customers').createIndex({ email: 1 }, { unique: true });
    const list = (await cli(['list', '--type', 'mongodb'])).json as any[];
    assert.deepEqual(list[0].databases.map((d: any) => d.name), ['shop'], 'admin, local and config are the server\'s own');
    await cli(['create', 'scratch', '--type', 'mongodb']);
    await cli(['drop', 'scratch', '--type', 'mongodb', '--force']);
    assert.ok(!(await client.db('admin').admin().listDatabases()).databases.some((d) => d.name === 'scratch'));

    await cliOk(['user', 'create', 'app', '--type', 'mongodb', '--password-stdin'], { home, input: 'app-Secret-1\n' });
    const users = (await cli(['user', 'list', '--type', 'mongodb'])).json as any[];
    assert.deepEqual(users.map((u) => u.name).sort(), ['admin', 'app', 'portunix_ro']);
    // the new user can log in
    const { MongoClient } = await import('mongodb');
    const appUrl = (await cli(['url', 'mongodb', '--show-password'])).json.url.replace(/\/\/admin:[^@]+@/, '//app:app-Secret-1@');
    const app = new MongoClient(appUrl, { serverSelectionTimeoutMS: 5000 });
    await app.connect();
    assert.equal((await app.db('shop').command({ ping: 1 }))['ok'], 1);
    await app.close();
    const g = await runCli(['user', 'grant', 'app', '--type', 'mongodb', '--privileges', 'read', '--database', 'shop', '--json'], opts);
    assert.equal(errorOf(g).code, 'NOT_APPLICABLE');
    assert.match(errorOf(g).message, /FerretDB 1\.24\.2 \(standing in for MongoDB\) does not support roles/);
    await cli(['user', 'delete', 'app', '--type', 'mongodb']);
    const gone = await runCli(['user', 'delete', 'app', '--type', 'mongodb', '--json'], opts);
    assert.equal(errorOf(gone).code, 'NOT_FOUND');
    assert.equal(errorOf(await runCli(['user', 'delete', 'admin', '--type', 'mongodb', '--json'], opts)).code, 'FORBIDDEN');
    assert.equal(errorOf(await runCli(['drop', 'admin', '--type', 'mongodb', '--force', '--json'], opts)).code, 'FORBIDDEN');
  });

  test('inspection: collections with counts and sizes, sampled fields, indexes, constraints', async () => {
    const tables = (await cli(['tables', 'shop', '--type', 'mongodb', '--sizes'])).json;
    const rows = tables.items ?? tables;
    assert.deepEqual(Object.fromEntries(rows.map((t: any) => [t.name, t.rows])), EXPECTED);
    assert.ok(rows.every((t: any) => t.kind === 'collection' && t.sizeBytes > 0), JSON.stringify(rows));
    const schema = (await cli(['schema', 'shop', '--type', 'mongodb'])).json;
    assert.ok(schema.notes.some((n: string) => /^orders: 4 fields found in 90 of 90 documents sampled \(first 100 in natural order \(FerretDB 1\.24\.2 has no \$sample stage\)\)/.test(n)), JSON.stringify(schema.notes));
    const info = (await cli(['table-info', 'customers', '--database', 'shop', '--type', 'mongodb'])).json;
    assert.deepEqual(Object.fromEntries(info.columns.map((c: any) => [c.name, c.type])), { _id: 'objectId', address: 'object', 'address.city': 'string', age: 'int', email: 'string', name: 'string' });
    assert.equal(info.details.sampled, 40);
    assert.deepEqual(info.primaryKey, ['_id']);
    const idx = (await cli(['indexes', 'shop', '--type', 'mongodb', '--table', 'customers'])).json;
    const items = idx.items ?? idx;
    assert.deepEqual(items.map((i: any) => [i.name, i.unique, i.primary]), [['_id_', true, true], ['email_1', true, false]]);
    assert.ok(items.every((i: any) => i.scans === undefined), 'FerretDB has no $indexStats: no usage figures are made up');
    const cons = (await cli(['constraints', 'shop', '--type', 'mongodb', '--table', 'customers'])).json;
    assert.deepEqual((cons.items ?? cons).map((c: any) => [c.name, c.type]), [['_id_', 'primary key'], ['email_1', 'unique']]);
  });

  test('FerretDB gaps are typed NOT_APPLICABLE errors naming FerretDB and what to use instead', async () => {
    for (const args of [['connections', 'mongodb'], ['metrics', 'mongodb', '--enable-statements'], ['config', 'set', 'mongodb', 'cursorTimeoutMillis', '1000']]) {
      const r = await runCli([...args, '--json'], opts);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(errorOf(r).code, 'NOT_APPLICABLE', `${args.join(' ')}: ${r.stdout}`);
      assert.match(errorOf(r).message, /FerretDB 1\.24\.2 \(standing in for MongoDB\) does not support/);
      assert.ok(errorOf(r).hint, 'a hint names what to use instead');
      assert.doesNotMatch(r.stdout + r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
    const cfg = (await cli(['config', 'show', 'mongodb'])).json;
    assert.ok((cfg.items ?? cfg).some((s: any) => s.name === 'authenticationMechanisms' && s.restartRequired === true));
    const perf = (await cli(['metrics', 'mongodb'])).json;
    assert.ok(perf.counters.cmd_total > 0);
    assert.match(perf.slowQueriesNote, /FerretDB 1\.24\.2 has no profiler/);
    const vac = (await cli(['vacuum', 'shop', '--type', 'mongodb'])).json;
    assert.ok(vac.actions.includes('validate customers: valid') && vac.actions.some((a: string) => /^compact orders/.test(a)));
    assert.ok(vac.actions.some((a: string) => /has no planCacheClear command/.test(a)));
  });

  test('backup → drop → restore → verify; restore into another name', async () => {
    const b = await cli(['backup', 'shop', '--type', 'mongodb']);
    const file = b.json.file as string;
    assert.match(file, /\.bson\.gz$/);
    assert.equal(b.json.manifest.format, 'bson.gz');
    assert.deepEqual(Object.fromEntries(b.json.manifest.tables.map((t: any) => [t.name, t.rows])), EXPECTED);
    assert.ok(b.json.manifest.tables.every((t: any) => /^[0-9a-f]{32}$/.test(t.checksum)));
    assert.ok(b.json.manifest.notes.some((n: string) => /no oplog/.test(n)));
    const v = (await cli(['backup', 'verify', file])).json;
    assert.equal(v.ok, true, JSON.stringify(v.problems));
    assert.match(v.method, /scratch MongoDB server \(not the live one\)/);
    assert.ok(v.tables.every((t: any) => t.checksum_match === true));
    assert.ok(!(await client.db('admin').admin().listDatabases()).databases.some((d) => /_verify_/.test(d.name)), 'the scratch database is dropped');

    await cli(['drop', 'shop', '--type', 'mongodb', '--force']);
    assert.deepEqual(await counts(client, 'shop'), {});
    const r = await cli(['restore', file]);
    assert.ok(r.json.actions.some((a: string) => /verified counts and checksums/.test(a)));
    assert.deepEqual(await counts(client, 'shop'), EXPECTED);
    assert.equal((await client.db('shop').collection('customers').findOne({ name: 'c7' }))?.['email'], 'c7@x.test');
    // the unique index came back
    await assert.rejects(client.db('shop').collection('customers').insertOne({ email: 'c7@x.test' }), /duplicate/i);

    const again = await runCli(['restore', file, '--json'], opts);
    assert.equal(errorOf(again).code, 'CONFIRMATION_REQUIRED');
    await cli(['restore', file, '--target', 'shop_copy']);
    assert.deepEqual(await counts(client, 'shop_copy'), EXPECTED);
    assert.deepEqual(await counts(client, 'shop'), EXPECTED, 'the original is untouched');
  });

  test('a corrupt backup is refused before anything changes', async () => {
    const file = (await cli(['backup', 'shop', '--type', 'mongodb'])).json.file as string;
    const manifest = JSON.parse(await readFile(`${file}.manifest.json`, 'utf8'));
    const original = await readFile(file);
    const dir = await mkdtemp(join(tmpdir(), 'pdb-mongo-corrupt-'));
    try {
      // 1. one byte flipped, the manifest still describes the original: the sha256 catches it
      const flipped = join(dir, 'flipped.bson.gz');
      const bytes = Buffer.from(original);
      const mid = Math.floor(bytes.length / 2);
      bytes[mid] = bytes[mid]! ^ 0xff;
      await writeFile(flipped, bytes);
      await writeFile(`${flipped}.manifest.json`, JSON.stringify(manifest)); // the signed manifest, unchanged
      const r1 = await runCli(['restore', flipped, '--target', 'victim', '--json'], opts);
      assert.equal(errorOf(r1).code, 'BACKUP_CORRUPT', r1.stdout);
      // 2. cut short when it was written (the manifest matches the bad bytes): the engine's own check refuses it
      const cut = join(dir, 'cut.bson.gz');
      const short = original.subarray(0, original.length - 30);
      await writeFile(cut, short);
      await writeFile(`${cut}.manifest.json`, JSON.stringify({ ...manifest, file: 'cut.bson.gz', size_bytes: short.length, sha256: createHash('sha256').update(short).digest('hex') }));
      // an edited manifest fails its HMAC; re-signed with the home's key (as when the file was cut short before it was signed) it meets the engine's own check
      assert.equal(errorOf(await runCli(['restore', cut, '--target', 'victim', '--json'], opts)).code, 'BACKUP_TAMPERED');
      await resignManifest(opts.home, cut);
      const r2 = await runCli(['restore', cut, '--target', 'victim', '--json'], opts);
      assert.equal(errorOf(r2).code, 'BACKUP_CORRUPT', r2.stdout);
      assert.match(errorOf(r2).hint ?? '', /Nothing was changed/);
      const v = await runCli(['backup', 'verify', cut, '--json'], opts);
      assert.notEqual(v.code, 0);
      assert.ok(!(await client.db('admin').admin().listDatabases()).databases.some((d) => d.name === 'victim' || /_verify_/.test(d.name)), 'nothing was created');
      assert.deepEqual(await counts(client, 'shop'), EXPECTED);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('bad input: injection-shaped names and $-operators are refused as INVALID_IDENTIFIER', async () => {
    const attempts = [
      ['create', 'shop.$cmd', '--type', 'mongodb'],
      ['create', '{"$gt":""}', '--type', 'mongodb'],
      ['drop', 'shop;db.dropDatabase()', '--type', 'mongodb', '--force'],
      ['tables', '$where', '--type', 'mongodb'],
      ['table-info', '$cmd', '--database', 'shop', '--type', 'mongodb'],
      ['table-info', 'system.users', '--database', 'admin', '--type', 'mongodb'],
      ['indexes', 'shop', '--type', 'mongodb', '--table', '{"$ne":null}'],
      ['backup', 'sh op', '--type', 'mongodb'],
      ['restore', 'x', '--target', '$admin'],
    ];
    for (const args of attempts) {
      const r = await runCli([...args, '--json'], opts);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.ok(['INVALID_IDENTIFIER', 'NOT_FOUND', 'USAGE'].includes(errorOf(r).code), `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    const u = await runCli(['user', 'create', '$admin', '--type', 'mongodb', '--password-stdin', '--json'], { home, input: 'x-Secret-123\n' });
    assert.equal(errorOf(u).code, 'INVALID_IDENTIFIER');
    assert.deepEqual(await counts(client, 'shop'), EXPECTED, 'nothing changed');
  });

  test('two instances side by side; kill -9 → crashed → start', async () => {
    const port2 = await freePort();
    await cli(['install', 'mongodb', '--bin-dir', server!.binDir!, '--instance', 'second', '--port', String(port2)]);
    const second = await connect('second');
    await second.db('other').collection('x').insertOne({ a: 1 });
    assert.deepEqual(await counts(second, 'other'), { x: 1 });
    assert.ok(!(await second.db('admin').admin().listDatabases()).databases.some((d) => d.name === 'shop'), 'instances are separate');
    await second.close();
    const pid = (await cli(['status', 'mongodb'])).json.find((e: any) => e.instance === 'second').pid as number;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50; i++) {
      try {
        process.kill(pid, 0);
        await new Promise((r) => setTimeout(r, 100));
      } catch {
        break;
      }
    }
    const st = (await cli(['status', 'mongodb'])).json.find((e: any) => e.instance === 'second');
    assert.equal(st.state, 'crashed');
    const started = await cli(['start', 'mongodb', '--instance', 'second']);
    assert.match(started.stdout + started.stderr, /crash|running/);
    const back = await connect('second');
    assert.deepEqual(await counts(back, 'other'), { x: 1 });
    await back.close();
    const main = (await cli(['status', 'mongodb'])).json.find((e: any) => e.instance === 'main');
    assert.equal(main.state, 'running', 'the other instance was not touched');
    // a clean stop, then the log shows FerretDB's own shutdown
    await cli(['stop', 'mongodb', '--instance', 'second']);
    const log = readFileSync(join(home, 'instances', 'mongodb', 'second', 'server.log'), 'utf8');
    assert.match(log, /Listener stopped|Stopping/);
  });
});
