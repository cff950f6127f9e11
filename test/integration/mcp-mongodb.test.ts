/**
 * Every MCP tool for the MongoDB engine, through the SDK client over stdio spawning
 * `portunix-db mcp serve`, against FerretDB v1.24.2 (SQLite backend): a MongoDB wire-protocol
 * server STANDING IN for MongoDB, installed through the tool with `install mongodb --bin-dir`.
 * Where FerretDB lacks a feature, the tool's answer is a typed error that names FerretDB.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { MongoClient } from 'mongodb';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { call, fails, freePort, ok, stdioClient, text } from '../helpers/mcp.js';
import { testServer } from '../servers/cache.js';

const server = testServer('ferretdb');
const home = freshHome('mcp-mongodb');
const opts = { home };
const M = { type: 'mongodb' };
let rw: Client;
let ro: Client;
let mongo: MongoClient;

describe(`mcp over stdio, mongodb engine on the FerretDB stand-in (${server?.standIn ?? 'not provisioned'})`, { skip: server ? false : 'ferretdb test server not provisioned (node dist/test/servers/provision.js ferretdb)', timeout: 10 * 60_000 }, () => {
  before(async () => {
    const port = await freePort();
    await cliOk(['install', 'mongodb', '--bin-dir', server!.binDir!, '--port', String(port), '-q'], opts);
    const { MongoClient } = await import('mongodb');
    mongo = new MongoClient((await cliOk(['url', 'mongodb', '--show-password', '--json'], opts)).json.url as string, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    const db = mongo.db('app');
    await db.collection('users').insertMany(Array.from({ length: 30 }, (_, i) => ({ login: `u${i}`, score: i, profile: { lang: i % 3 ? 'cs' : 'en' } })));
    await db.collection('events').insertMany(Array.from({ length: 60 }, (_, i) => ({ kind: i % 2 ? 'click' : 'view', at: new Date(1_700_000_000_000 + i * 1000) })));
    await db.collection('users').createIndex({ login: 1 }, { unique: true });
    await db.collection('events').createIndex({ kind: 1, at: -1 });
    rw = await stdioClient(home, ['--allow-write']);
    ro = await stdioClient(home);
  });

  after(async () => {
    await mongo?.close().catch(() => undefined);
    await rw?.close().catch(() => undefined);
    await ro?.close().catch(() => undefined);
    await runCli(['stop', 'mongodb'], opts);
  });

  it('db_status: running, reported as FerretDB emulating MongoDB 7.0', async () => {
    const { s, text: t } = await ok(ro, 'db_status', M);
    assert.equal(s.instances[0].state, 'running');
    assert.match(s.instances[0].full_version, /^7\.0\.\d+ \(FerretDB 1\.24\.2\)$/);
    assert.match(t, /FerretDB 1\.24\.2/);
  });

  it('db_list and db_size: listDatabases with sizes, without the server\'s own databases', async () => {
    const list = await ok(ro, 'db_list', M);
    assert.deepEqual(list.s.items.map((d: any) => d.name), ['app']);
    const size = await ok(ro, 'db_size', { ...M, database: 'app' });
    assert.equal(size.s.items[0].name, 'app');
    assert.ok(size.s.items[0].sizeBytes > 0);
  });

  it('db_tables: collections with exact counts and sizes', async () => {
    const { s } = await ok(ro, 'db_tables', { ...M, database: 'app', include_sizes: true });
    assert.deepEqual(s.items.map((x: any) => [x.name, x.kind, x.rows, x.rowsEstimated]), [['events', 'collection', 60, false], ['users', 'collection', 30, false]]);
    assert.ok(s.items.every((x: any) => x.sizeBytes > 0));
  });

  it('db_schema and db_table_info: fields from a bounded sample, saying how many documents', async () => {
    const sch = await ok(ro, 'db_schema', { ...M, database: 'app' });
    assert.deepEqual(sch.s.objects.items.map((o: any) => [o.name, o.columns]), [['events', 3], ['users', 5]]);
    assert.ok(sch.s.notes.some((n: string) => /^users: 5 fields found in 30 of 30 documents sampled/.test(n)));
    assert.match(sch.text, /note: events: 3 fields found in 60 of 60 documents sampled/);
    const ti = await ok(ro, 'db_table_info', { ...M, database: 'app', table: 'users' });
    assert.deepEqual(ti.s.columns.map((c: any) => `${c.name}:${c.type}`), ['_id:objectId', 'login:string', 'profile:object', 'profile.lang:string', 'score:int']);
    assert.equal(ti.s.details.sampled, 30);
    assert.match(ti.text, /note: Fields and types come from 30 of 30 documents sampled/);
    assert.match(await fails(ro, 'db_table_info', { ...M, database: 'app', table: 'nope' }), /does not exist/);
  });

  it('db_indexes and db_constraints: listIndexes, unique indexes as constraints, no invented usage', async () => {
    const ix = await ok(ro, 'db_indexes', { ...M, database: 'app' });
    assert.deepEqual(ix.s.items.map((i: any) => [i.table, i.name, i.columns.join(',')]), [['events', '_id_', '_id'], ['events', 'kind_1_at_-1', 'kind,at:-1'], ['users', '_id_', '_id'], ['users', 'login_1', 'login']]);
    assert.ok(ix.s.items.every((i: any) => i.scans === undefined && i.unused === undefined));
    const co = await ok(ro, 'db_constraints', { ...M, database: 'app', table: 'users' });
    assert.deepEqual(co.s.items.map((c: any) => [c.name, c.type, c.columns]), [['_id_', 'primary key', ['_id']], ['login_1', 'unique', ['login']]]);
  });

  it('db_connections: FerretDB\'s currentOp is always empty, so the answer is a typed error, not an empty list', async () => {
    const msg = await fails(ro, 'db_connections', M);
    assert.match(msg, /NOT_APPLICABLE/);
    assert.match(msg, /FerretDB 1\.24\.2 \(standing in for MongoDB\) does not support listing connections/);
  });

  it('db_performance: per-command counters, rates on the next sample, no profiler on FerretDB', async () => {
    const first = await ok(ro, 'db_performance', M);
    assert.ok(first.s.counters.cmd_total > 0);
    assert.match(first.s.slowQueriesNote, /FerretDB 1\.24\.2 has no profiler/);
    await mongo.db('app').collection('users').find({}).toArray();
    const second = await ok(ro, 'db_performance', M);
    assert.equal(typeof second.s.rates.cmd_total, 'number');
    const enable = await fails(rw, 'db_performance', { ...M, enable_statements: true });
    assert.match(enable, /FerretDB 1\.24\.2 \(standing in for MongoDB\) does not support the database profiler/);
  });

  it('bad input: injection-shaped names and $-operators are refused and change nothing', async () => {
    const attempts: [string, Record<string, unknown>][] = [
      ['db_tables', { ...M, database: '$where' }],
      ['db_tables', { ...M, database: 'app.$cmd' }],
      ['db_table_info', { ...M, database: 'app', table: '$cmd' }],
      ['db_table_info', { ...M, database: 'admin', table: 'system.users' }],
      ['db_indexes', { ...M, database: 'app', table: '{"$gt":""}' }],
      ['db_backup_create', { ...M, database: 'app;rm -rf /' }],
      ['db_vacuum', { ...M, database: 'a b' }],
      ['db_tables', { ...M, database: { $ne: null } }],
    ];
    for (const [name, args] of attempts) {
      const r = await call(name === 'db_backup_create' || name === 'db_vacuum' ? rw : ro, name, args);
      assert.equal(r.isError, true, `${name} ${JSON.stringify(args)}: ${text(r)}`);
    }
    assert.deepEqual((await mongo.db('admin').admin().listDatabases()).databases.map((d) => d.name).filter((n) => !['admin', 'local', 'config'].includes(n)), ['app']);
  });

  it('--allow-write: db_vacuum runs compact and validate per collection', async () => {
    const v = await ok(rw, 'db_vacuum', { ...M, database: 'app', table: 'users' });
    assert.ok(v.s.actions.includes('validate users: valid'), JSON.stringify(v.s.actions));
    assert.ok(v.s.actions.some((a: string) => /^compact users/.test(a)));
    assert.ok(v.s.actions.some((a: string) => /FerretDB 1\.24\.2 \(standing in for MongoDB\) has no planCacheClear/.test(a)));
  });

  it('db_backup_create → db_backup_status → db_restore (refused without confirm, then into a new name)', async () => {
    const b = await ok(rw, 'db_backup_create', { ...M, database: 'app' });
    const file = b.s.file as string;
    assert.equal(b.s.manifest.tables, 2);
    assert.equal(b.s.manifest.format, 'bson.gz');
    assert.ok(b.s.manifest.notes.some((n: string) => /no oplog/.test(n)));
    const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8'));
    assert.deepEqual(manifest.tables.map((t: any) => [t.name, t.rows]), [['events', 60], ['users', 30]]);
    const st = await ok(ro, 'db_backup_status', { ...M, database: 'app' });
    assert.equal(st.s.items[0].last_backup.file, file);
    assert.match(await fails(rw, 'db_restore', { file }), /confirm/i);
    const r = await ok(rw, 'db_restore', { file, target: 'app_restored', confirm: true });
    assert.ok(r.s.actions.some((a: string) => /verified counts and checksums: events=60, users=30/.test(a)), JSON.stringify(r.s.actions));
    assert.equal(await mongo.db('app_restored').collection('users').countDocuments(), 30);
    assert.equal(await mongo.db('app').collection('users').countDocuments(), 30);
  });

  it('the read-only server does not list write tools', async () => {
    const names = (await ro.listTools()).tools.map((t) => t.name);
    for (const w of ['db_backup_create', 'db_restore', 'db_vacuum']) assert.ok(!names.includes(w), w);
  });
});
