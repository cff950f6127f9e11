/**
 * Issue 13 on the document, search and time-series engines: db_query and the wrapped upstreams
 * (mongodb-mcp-server 3.0.4, @elastic/mcp-server-elasticsearch 0.3.1) against the FerretDB
 * 1.24.2 STAND-IN for MongoDB and the Elasticsearch 8.19.21 integ-test distribution (security
 * off), and db_query on InfluxDB 1.6.7 (Debian). Each refusal checks WHICH layer refused:
 * InfluxDB's grants; FerretDB's missing features or portunix-db's query shapes (FerretDB has no
 * roles); mongodb-mcp-server's read-only guard; and for ES the absence of any write path.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { MongoClient } from 'mongodb';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { call, fails, freePort, ok, text } from '../helpers/mcp.js';
import { adminPassword, influx } from '../helpers/influx.js';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CLI } from '../helpers/cli.js';
import { mcpEnv } from '../helpers/mcp.js';
import { auditLines, childPids } from '../helpers/query.js';
import { testServer } from '../servers/cache.js';

const ferret = testServer('ferretdb');
const es = testServer('elasticsearch-8');
const mcpMongo = testServer('mongodb-mcp');
const mcpEs = testServer('elastic-mcp');
const missing = [!ferret && 'ferretdb', !es && 'elasticsearch-8', !mcpMongo && 'mongodb-mcp', !mcpEs && 'elastic-mcp'].filter(Boolean);
const home = freshHome('query-mongo-es-influx');
const opts = { home };
const esEnv = { ES_JAVA_HOME: es?.extra?.['javaHome'], JAVA_HOME: undefined };
let client: Client;
let serverPid = 0;
let mongo: MongoClient;
let esPort = 0;
let influxDb: ReturnType<typeof influx>;

async function esHttp(method: string, path: string, body?: unknown): Promise<any> {
  const r = await fetch(`http://127.0.0.1:${esPort}${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return r.json();
}

describe('db_query and upstreams on MongoDB (FerretDB stand-in), Elasticsearch, InfluxDB', { skip: missing.length ? `not provisioned: ${missing.join(', ')}` : false, timeout: 15 * 60_000 }, () => {
  before(async () => {
    const [mPort, iPort] = [await freePort(), await freePort()];
    esPort = await freePort();
    await Promise.all([
      cliOk(['install', 'mongodb', '--bin-dir', ferret!.binDir!, '--port', String(mPort), '-q'], opts),
      cliOk(['install', 'influxdb', '--version', '1.6', '--source', 'apt', '--port', String(iPort), '-q'], { home, timeoutMs: 600_000 }),
      cliOk(['install', 'elasticsearch', '--archive', es!.archive!, '--sha256', es!.sha256!, '--port', String(esPort), '-q'], { home, env: esEnv, timeoutMs: 600_000 }),
    ]);
    const { MongoClient } = await import('mongodb');
    mongo = new MongoClient((await cliOk(['url', 'mongodb', '--show-password', '--json'], opts)).json.url as string, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    await mongo.db('app').collection('users').insertMany(Array.from({ length: 30 }, (_, i) => ({ login: `u${i}`, score: i })));
    await cliOk(['create', 'books', '--type', 'elasticsearch', '-q'], { home, env: esEnv });
    await esHttp('POST', '/books/_doc?refresh=true', { title: 'lamp', n: 1 });
    await esHttp('POST', '/books/_doc?refresh=true', { title: 'desk', n: 2 });
    await cliOk(['create', 'metrics', '--type', 'influxdb', '-q'], opts);
    influxDb = influx(home, iPort, 'admin', await adminPassword((a) => cliOk([...a, '--json'], opts)));
    const w = await influxDb.write('metrics', Array.from({ length: 10 }, (_, i) => `cpu,host=h${i % 2} v=${i} ${1_700_000_000_000_000_000 + i * 1e9}`).join('\n'));
    assert.equal(w.status, 204);
    // both upstreams start (npm packages, read-only accounts) before the server answers: allow for a loaded machine
    const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', 'serve', '--with', 'mongodb,elasticsearch'], env: { ...mcpEnv(home), PORTUNIX_DB_UPSTREAM_CACHE: mcpMongo!.extra!['upstreamCache']! }, stderr: 'ignore' });
    client = new McpClient({ name: 'query-mongo-es-influx', version: '0' });
    await client.connect(transport, { timeout: 240_000 });
    serverPid = transport.pid!;
  });

  after(async () => {
    await mongo?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await Promise.all([runCli(['stop', 'mongodb'], opts), runCli(['stop', 'influxdb'], opts), runCli(['stop', 'elasticsearch'], { home, env: esEnv })]);
  });

  it('user readonly: InfluxDB grants READ (server-enforced); FerretDB and security-off ES say plainly that the server does not enforce it', async () => {
    const i = (await cliOk(['user', 'readonly', 'influxdb', '--json'], opts)).json;
    assert.equal(i.server_enforced, true);
    assert.match(i.enforcement.join(' '), /READ on metrics/);
    const m = (await cliOk(['user', 'readonly', 'mongodb', '--json'], opts)).json;
    assert.equal(m.server_enforced, false);
    assert.match(m.enforcement[0], /FerretDB 1\.24\.2 .*has no roles \(createUser: roles not implemented\)/);
    const e = (await cliOk(['user', 'readonly', 'elasticsearch', '--json'], { home, env: esEnv })).json;
    assert.equal(e.server_enforced, false);
    assert.match(e.enforcement[0], /security is off/);
  });

  it('MongoDB db_query: find/aggregate/count work; writes refused by portunix-db (verbs, $out/$merge) or FerretDB ($where, $function); data unchanged; audited', async () => {
    const f = await ok(client, 'db_query', { type: 'mongodb', database: 'app', query: '{"find": "users", "filter": {"score": {"$lt": 3}}, "sort": {"score": 1}, "projection": {"_id": 0}}' });
    assert.deepEqual(f.s.rows, [[{ login: 'u0', score: 0 }], [{ login: 'u1', score: 1 }], [{ login: 'u2', score: 2 }]]);
    assert.match(f.s.read_only_note, /not enforced by the server/);
    const a = await ok(client, 'db_query', { type: 'mongodb', database: 'app', query: '{"aggregate": "users", "pipeline": [{"$group": {"_id": null, "n": {"$sum": 1}}}]}' });
    // FerretDB 1.24 leaves out a null _id in $group output
    assert.equal(a.s.rows[0][0].n, 30);
    const q = (query: string) => ({ type: 'mongodb', database: 'app', query });
    assert.match(await fails(client, 'db_query', q('{"aggregate": "users", "pipeline": [{"$out": "stolen"}]}')), /^Error \[FORBIDDEN\]: \$out writes.*refused by portunix-db/);
    assert.match(await fails(client, 'db_query', q('{"aggregate": "users", "pipeline": [{"$merge": {"into": "stolen"}}]}')), /^Error \[FORBIDDEN\]: \$merge/);
    assert.match(await fails(client, 'db_query', q('{"insert": "users", "documents": [{"evil": 1}]}')), /^Error \[USAGE\].*runs find, aggregate, count or distinct/);
    assert.match(await fails(client, 'db_query', q('{"mapReduce": "users", "map": "function(){}", "reduce": "function(){}", "out": "mr"}')), /USAGE/);
    // server-side JavaScript: FerretDB itself answers it does not have it
    assert.match(await fails(client, 'db_query', q('{"find": "users", "filter": {"$where": "this.score > 1"}}')), /\$where/);
    assert.match(await fails(client, 'db_query', q('{"aggregate": "users", "pipeline": [{"$addFields": {"x": {"$function": {"body": "function(){return 1}", "args": [], "lang": "js"}}}}]}')), /\$function is not implemented/);
    assert.equal(await mongo.db('app').collection('users').countDocuments(), 30);
    assert.deepEqual((await mongo.db('app').listCollections().toArray()).map((c) => c.name).sort(), ['users']);
    assert.ok(auditLines(home).some((l) => l.action === 'query' && l.engine === 'mongodb' && !l.ok && /\$out/.test(l.query ?? '')));
  });

  it('mongodb-mcp-server upstream: find works on FerretDB as portunix_ro; $out and $where refused by its own guard; no write, connect or Atlas tools; audited with the query', async () => {
    const tools = (await client.listTools()).tools;
    const mongoTools = tools.filter((t) => t.name.startsWith('mongo_main_')).map((t) => t.name);
    assert.ok(mongoTools.includes('mongo_main_find') && mongoTools.includes('mongo_main_aggregate'), mongoTools.join(' '));
    for (const t of ['insert-many', 'delete-many', 'update-many', 'drop-collection', 'create-index', 'connect', 'switch-connection']) assert.ok(!mongoTools.includes(`mongo_main_${t}`), t);
    assert.ok(!mongoTools.some((t) => /atlas/.test(t)));
    const find = tools.find((t) => t.name === 'mongo_main_find')!;
    assert.match(find.description!, /^\[mongodb-mcp-server 3\.0\.4, read-only account NOT enforced by the server; mongodb\/main\]/);
    assert.ok(!('connectionId' in (find.inputSchema.properties ?? {})));
    const r = await call(client, 'mongo_main_find', { database: 'app', collection: 'users', filter: { login: 'u7' } });
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), /"u7"/);
    assert.match(await fails(client, 'mongo_main_aggregate', { database: 'app', collection: 'users', pipeline: [{ $out: 'stolen' }] }), /^Error \[FORBIDDEN\]: mongodb-mcp-server: .*readOnly mode/);
    assert.match(await fails(client, 'mongo_main_find', { database: 'app', collection: 'users', filter: { $where: 'true' } }), /FORBIDDEN.*server-side JavaScript/);
    assert.equal(await mongo.db('app').collection('users').countDocuments(), 30);
    assert.ok(auditLines(home).some((l) => l.action === 'mcp:mongo_main_find' && l.ok && l.upstream === 'mongodb-mcp-server@3.0.4' && /u7/.test(l.query ?? '')));
  });

  it('Elasticsearch db_query: _search works; paths other than _search cannot be reached; nothing is created or deleted', async () => {
    const r = await ok(client, 'db_query', { type: 'elasticsearch', database: 'books', query: '{"query": {"match": {"title": "lamp"}}}' });
    assert.equal(r.s.rows.length, 1);
    assert.deepEqual(r.s.rows[0][3], { title: 'lamp', n: 1 });
    const agg = await ok(client, 'db_query', { type: 'elasticsearch', database: 'books', query: '{"size": 0, "aggs": {"s": {"sum": {"field": "n"}}}}' });
    assert.deepEqual(agg.s.rows.at(-1)[3], { s: { value: 3 } });
    // a script in a search can only compute (the integ-test zip may lack painless: then the search fails); either way nothing changes
    await call(client, 'db_query', { type: 'elasticsearch', database: 'books', query: '{"query": {"match_all": {}}, "script_fields": {"twice": {"script": "doc[\'n\'].value * 2"}}}' });
    for (const idx of ['books/_delete_by_query', 'books/_doc/1', '_all', 'evil?refresh=true', '../books']) {
      assert.match(await fails(client, 'db_query', { type: 'elasticsearch', database: idx, query: '{}' }), /INVALID_IDENTIFIER/, idx);
    }
    assert.match(await fails(client, 'db_query', { type: 'elasticsearch', database: 'newindex', query: '{}' }), /NOT_FOUND|no such index/);
    assert.match(await fails(client, 'db_query', { type: 'elasticsearch', database: 'books', query: 'DELETE /books' }), /USAGE.*not JSON/);
    const indices = (await esHttp('GET', '/_cat/indices?format=json')).map((i: { index: string }) => i.index).filter((n: string) => !n.startsWith('.'));
    assert.deepEqual(indices, ['books']);
    assert.equal((await esHttp('GET', '/books/_count')).count, 2);
  });

  it('Elastic upstream: search works; it offers no write tool', async () => {
    const names = (await client.listTools()).tools.filter((t) => t.name.startsWith('es_main_')).map((t) => t.name).sort();
    assert.deepEqual(names, ['es_main_get_mappings', 'es_main_get_shards', 'es_main_list_indices', 'es_main_search']);
    const r = await call(client, 'es_main_search', { index: 'books', queryBody: { query: { match: { title: 'desk' } } } });
    assert.notEqual(r.isError, true, text(r));
    assert.match(text(r), /desk/);
    assert.ok(auditLines(home).some((l) => l.action === 'mcp:es_main_search' && l.ok && /desk/.test(l.query ?? '')));
  });

  it('InfluxDB 1.6 db_query: SELECT works as portunix_ro; DROP, DELETE, SELECT INTO, CREATE, multi-statement writes refused by InfluxDB; data unchanged; audited', async () => {
    const r = await ok(client, 'db_query', { type: 'influxdb', database: 'metrics', query: 'SELECT count(v) FROM cpu' });
    assert.deepEqual(r.s.columns, ['time', 'count']);
    assert.equal(r.s.rows[0][1], 10);
    for (const qtext of ['DROP MEASUREMENT cpu', 'DELETE FROM cpu', 'SELECT * INTO metrics..stolen FROM cpu', 'CREATE DATABASE evil', 'SELECT count(v) FROM cpu; DROP DATABASE metrics', 'CREATE USER x WITH PASSWORD \'y\' WITH ALL PRIVILEGES', 'GRANT ALL TO portunix_ro']) {
      const t = await fails(client, 'db_query', { type: 'influxdb', database: 'metrics', query: qtext });
      assert.match(t, /^Error \[PERMISSION_DENIED\]: Refused by InfluxDB: error authorizing query: portunix_ro not authorized/, qtext);
      assert.ok(auditLines(home).some((l) => l.query === qtext && l.ok === false), qtext);
    }
    const count = await influxDb.values('SELECT count(v) FROM cpu', 'metrics');
    assert.equal(count[0]![1], 10);
    const dbs = (await influxDb.values('SHOW DATABASES')).map((v) => v[0]);
    assert.ok(!dbs.includes('evil'));
  });

  it('an upstream killed mid-session answers UPSTREAM_FAILED; the other upstream and db_query keep working', async () => {
    const pids = childPids(serverPid, /mongodb-mcp-server/);
    assert.equal(pids.length, 1, 'one mongodb-mcp-server child');
    process.kill(pids[0]!, 'SIGKILL');
    let t = '';
    for (let i = 0; i < 50 && !/UPSTREAM_FAILED/.test(t); i++) {
      t = text(await call(client, 'mongo_main_find', { database: 'app', collection: 'users', filter: {} }));
      if (!/UPSTREAM_FAILED/.test(t)) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(t, /^Error \[UPSTREAM_FAILED\]: mongodb-mcp-server is not running \(mongodb-mcp-server exited/);
    assert.match(t, /db_query answers meanwhile/);
    assert.match(text(await call(client, 'es_main_search', { index: 'books', queryBody: { query: { match_all: {} } } })), /lamp|desk/);
    const q = await ok(client, 'db_query', { type: 'mongodb', database: 'app', query: '{"count": "users"}' });
    assert.deepEqual(q.s.rows, [[{ count: 30 }]]);
  });
});
