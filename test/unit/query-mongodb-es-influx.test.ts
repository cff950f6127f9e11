import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON } from 'mongodb';
import { parseMongoQuery, readRoles, writingStage } from '../../src/engines/mongodb/query.js';
import { provisionRole, readonlyRole, searchBody } from '../../src/engines/elasticsearch/query.js';
import { fluxTable, provisionReadToken, READ_TOKEN_DESCRIPTION, readonlyStatementsV1, readTokenPermissions, seriesTable, type AuthApi } from '../../src/engines/influxdb/query.js';
import { allSeries, parseQueryReply } from '../../src/engines/influxdb/client.js';
import { GENERATIONS } from '../../src/engines/influxdb/generations.js';
import { engine as influx } from '../../src/engines/influxdb/index.js';
import { upstreamError, withoutFixed } from '../../src/mcp/upstream.js';
import { mongodb, MONGODB_DISABLED } from '../../src/mcp/upstreams/mongodb.js';
import { elasticsearch } from '../../src/mcp/upstreams/elasticsearch.js';
import type { EsConn } from '../../src/engines/elasticsearch/client.js';

const EJSON = BSON.EJSON;
const limits = { maxRows: 200, maxBytes: 65536, timeoutMs: 30000, readWrite: false };

test('MongoDB read-only account: the read role on every user database, none on admin/local/config', () => {
  assert.deepEqual(readRoles(['shop', 'admin', 'local', 'config', 'app']), [{ role: 'read', db: 'app' }, { role: 'read', db: 'shop' }]);
  assert.deepEqual(readRoles(['admin']), []);
});

test('MongoDB db_query shapes: find/aggregate/count/distinct only, Extended JSON, no other command reaches the server', () => {
  const f = parseMongoQuery('{"find": "users", "filter": {"at": {"$gt": {"$date": "2024-01-01T00:00:00Z"}}}, "limit": 5, "sort": {"at": -1}}', EJSON);
  assert.equal(f.verb, 'find');
  assert.ok(f.verb === 'find' && (f.filter['at'] as Record<string, unknown>)['$gt'] instanceof Date);
  assert.equal(parseMongoQuery('{"aggregate": "users", "pipeline": [{"$match": {}}]}', EJSON).verb, 'aggregate');
  assert.equal(parseMongoQuery('{"count": "users", "query": {"a": 1}}', EJSON).verb, 'count');
  assert.equal(parseMongoQuery('{"distinct": "users", "key": "lang"}', EJSON).verb, 'distinct');
  // attacks: writes, mapReduce, admin commands, eval: refused before anything is sent
  for (const t of ['{"insert": "users", "documents": [{}]}', '{"delete": "users", "deletes": []}', '{"mapReduce": "users", "map": "function(){}", "reduce": "function(){}", "out": "x"}', '{"dropDatabase": 1}', '{"eval": "db.users.drop()"}', '{"createUser": "x", "pwd": "y", "roles": ["root"]}']) {
    assert.throws(() => parseMongoQuery(t, EJSON), /runs find, aggregate, count or distinct/, t);
  }
  assert.throws(() => parseMongoQuery('db.users.find()', EJSON), /not JSON/);
  assert.throws(() => parseMongoQuery('[1]', EJSON), /JSON object/);
  assert.throws(() => parseMongoQuery('{"find": "users", "limit": -1}', EJSON), /non-negative/);
  assert.throws(() => parseMongoQuery('{"find": "system.users"}', EJSON));
  assert.throws(() => parseMongoQuery('{"aggregate": "users", "pipeline": {"$out": "x"}}', EJSON), /array of stages/);
  assert.equal(writingStage([{ $match: {} }, { $out: 'stolen' }]), '$out');
  assert.equal(writingStage([{ $merge: { into: 'x' } }]), '$merge');
  assert.equal(writingStage([{ $match: { $out: 1 } }]), undefined);
});

test('Elasticsearch read-only role: read and view_index_metadata on non-restricted indices, cluster monitor; made through the security API', async () => {
  assert.deepEqual(readonlyRole(), { cluster: ['monitor'], indices: [{ names: ['*'], privileges: ['read', 'view_index_metadata'], allow_restricted_indices: false }] });
  const calls: { method: string; path: string; body?: unknown }[] = [];
  const fake = (known: boolean): EsConn => ({
    async req(method: string, path: string, options?: { body?: unknown }) {
      calls.push({ method, path, ...(options?.body !== undefined ? { body: options.body } : {}) });
      if (method === 'GET') {
        if (!known) throw Object.assign(new Error('not found'), { meta: { statusCode: 404 } });
        return { portunix_ro: {} };
      }
      return { created: true };
    },
  }) as EsConn;
  const made = await provisionRole(fake(false), { user: 'portunix_ro', password: 'pw-secret', statementTimeoutMs: 1000 });
  assert.equal(made.created, true);
  assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), ['GET /_security/user/portunix_ro', 'PUT /_security/role/portunix_ro', 'PUT /_security/user/portunix_ro']);
  assert.deepEqual(calls[1]!.body, readonlyRole());
  assert.deepEqual((calls[2]!.body as { roles: string[] }).roles, ['portunix_ro']);
  assert.equal(made.serverEnforced, undefined);
  assert.ok(!JSON.stringify(made).includes('pw-secret'));
  calls.length = 0;
  assert.equal((await provisionRole(fake(true), { user: 'portunix_ro', password: 'x', statementTimeoutMs: 1 })).created, false);
  await assert.rejects(provisionRole(fake(false), { user: 'bad/name', password: 'x', statementTimeoutMs: 1 }), /not a valid Elasticsearch user name/);
});

test('Elasticsearch db_query body: a JSON object, size bounded', () => {
  assert.equal(searchBody('{"query": {"match_all": {}}}', 200)['size'], 201);
  assert.equal(searchBody('{"size": 5}', 200)['size'], 5);
  assert.equal(searchBody('{"size": 100000}', 200)['size'], 201);
  assert.throws(() => searchBody('DELETE /books', 200), /not JSON/);
  assert.throws(() => searchBody('[]', 200), /JSON object/);
  assert.throws(() => searchBody('{"size": -3}', 200), /non-negative/);
});

test('InfluxDB 1.x read-only user: not admin, READ on each database, earlier privileges revoked', () => {
  const s = readonlyStatementsV1('portunix_ro', "it's", false, ['metrics', '_internal', 'other']);
  assert.deepEqual(s, [
    `CREATE USER "portunix_ro" WITH PASSWORD 'it\\'s'`,
    'REVOKE ALL PRIVILEGES FROM "portunix_ro"',
    'REVOKE ALL ON "metrics" FROM "portunix_ro"',
    'GRANT READ ON "metrics" TO "portunix_ro"',
    'REVOKE ALL ON "other" FROM "portunix_ro"',
    'GRANT READ ON "other" TO "portunix_ro"',
  ]);
  assert.match(readonlyStatementsV1('portunix_ro', 'p', true, [])[0]!, /^SET PASSWORD FOR "portunix_ro" = 'p'$/);
  assert.ok(!readonlyStatementsV1('u', 'p', false, ['d']).some((x) => /WRITE|ALL PRIVILEGES TO/.test(x)));
});

test('InfluxDB /query replies: a refusal in any statement is thrown (not only the first); series become one table', () => {
  const body = JSON.stringify({ results: [{ statement_id: 0, series: [{ name: 'databases', columns: ['name'], values: [['metrics']] }] }, { statement_id: 1, error: 'error authorizing query: portunix_ro not authorized to execute statement' }] });
  assert.deepEqual(parseQueryReply(200, body)[0]!.values, [['metrics']]);
  assert.throws(() => allSeries(200, body), /not authorized/);
  const t = seriesTable([{ name: 'cpu', tags: { host: 'a' }, columns: ['time', 'v'], values: [[1, 2]] }, { name: 'cpu', tags: { host: 'b' }, columns: ['time', 'v'], values: [[1, 3]] }]);
  assert.deepEqual(t, { columns: ['series', 'time', 'v'], rows: [['cpu host=a', 1, 2], ['cpu host=b', 1, 3]] });
  assert.deepEqual(seriesTable([{ name: 'cpu', columns: ['time', 'v'], values: [[1, 2]] }]), { columns: ['time', 'v'], rows: [[1, 2]] });
});

test('InfluxDB 2.x read token: read on the org\'s buckets (and the org), made by the server, earlier tokens replaced, kept as the secret', async () => {
  assert.deepEqual(readTokenPermissions('o1'), [{ action: 'read', resource: { type: 'buckets', orgID: 'o1' } }, { action: 'read', resource: { type: 'orgs', id: 'o1' } }]);
  const log: string[] = [];
  const existing = [{ id: 'old1', description: READ_TOKEN_DESCRIPTION }, { id: 'other', description: 'someone else' }];
  const api: AuthApi = {
    list: async () => existing,
    create: async (body) => {
      log.push(`create ${body.description} ${JSON.stringify(body.permissions.map((p) => p.action))}`);
      assert.ok(body.permissions.every((p) => p.action === 'read'));
      return { id: 'new1', token: 'tok-xyz' };
    },
    remove: async (id) => void log.push(`remove ${id}`),
  };
  const out = await provisionReadToken(api, 'o1', 'portunix_ro');
  assert.equal(out.secret, 'tok-xyz');
  assert.equal(out.created, false);
  assert.deepEqual(log, [`create ${READ_TOKEN_DESCRIPTION} ["read","read"]`, 'remove old1']);
  assert.ok(!out.enforcement.join(' ').includes('tok-xyz'));
  const fresh = await provisionReadToken({ ...api, list: async () => [] }, 'o1', 'portunix_ro');
  assert.equal(fresh.created, true);
  await assert.rejects(provisionReadToken({ ...api, create: async () => ({ id: 'x' }) }, 'o1', 'u'), /did not return it/);
  assert.deepEqual(fluxTable([{ result: '_result', table: 0, _time: 't1', _value: 1, host: 'a' }, { result: '_result', table: 1, _time: 't2', _value: 2 }]), { columns: ['_time', '_value', 'host'], rows: [['t1', 1, 'a'], ['t2', 2, null]] });
});

test('InfluxDB generations: both offer readonlyAccount and query; no upstream, with a reason naming db_query', () => {
  for (const g of Object.values(GENERATIONS)) {
    assert.equal(typeof g.ops.readonlyAccount, 'function', g.api);
    assert.equal(typeof g.ops.query, 'function', g.api);
  }
  assert.match(influx.unsupported.upstreamConnection ?? '', /db_query runs InfluxQL \(1\.x\) or Flux \(2\.x\)/);
});

test('mongodb-mcp-server config: env only (no argv), read-only, server JS off, connect/Atlas tools off, our limits; connectionId fixed and hidden', async () => {
  const uri = 'mongodb://portunix_ro:pw@127.0.0.1:1/?authSource=admin';
  const c = await mongodb.configure([{ engine: 'mongodb', instance: 'main', settings: { MDB_MCP_CONNECTION_STRING: uri } }], '/tmp/x', limits);
  assert.deepEqual(c.args, []);
  assert.equal(c.env['MDB_MCP_CONNECTION_STRING'], uri);
  assert.equal(c.env['MDB_MCP_READ_ONLY'], 'true');
  assert.equal(c.env['MDB_MCP_DISABLE_SERVER_SIDE_JS'], 'true');
  assert.equal(c.env['MDB_MCP_MAX_DOCUMENTS_PER_QUERY'], '200');
  assert.equal(c.env['MDB_MCP_MAX_BYTES_PER_QUERY'], '65536');
  assert.equal(c.env['MDB_MCP_MAX_TIME_M_S'], '30000');
  assert.equal(c.env['MDB_MCP_TELEMETRY'], 'disabled');
  assert.deepEqual(c.env['MDB_MCP_DISABLED_TOOLS']!.split(','), MONGODB_DISABLED);
  assert.ok(MONGODB_DISABLED.includes('connect') && MONGODB_DISABLED.includes('atlas'));
  const rw = await mongodb.configure([{ engine: 'mongodb', instance: 'main', settings: {} }], '/tmp/x', { ...limits, readWrite: true });
  assert.equal(rw.env['MDB_MCP_READ_ONLY'], 'false');
  const schema = withoutFixed({ type: 'object', properties: { connectionId: { type: 'string' }, database: { type: 'string' } }, required: ['connectionId', 'database'] }, mongodb.fixedArgs);
  assert.deepEqual(schema, { type: 'object', properties: { database: { type: 'string' } }, required: ['database'] });
  const es = await elasticsearch.configure([{ engine: 'elasticsearch', instance: 'main', settings: { ES_URL: 'https://127.0.0.1:9', ES_USERNAME: 'portunix_ro', ES_PASSWORD: 'pw', ES_VERSION: '8' } }], '/tmp/x', limits);
  assert.deepEqual(es.args, []);
  assert.equal(es.env['ES_PASSWORD'], 'pw');
  assert.equal(es.env['ES_VERSION'], '8');
});

test('upstream refusals say which layer refused: the upstream\'s own guard (FORBIDDEN) or the database (PERMISSION_DENIED)', () => {
  const own = upstreamError(mongodb, { content: [{ type: 'text', text: 'Error running aggregate: In readOnly mode you can not run pipelines with $out or $merge stages.' }], isError: true });
  assert.match(String(own.content[0]!.type === 'text' ? own.content[0]!.text : ''), /^Error \[FORBIDDEN\]: mongodb-mcp-server: .*readOnly mode[\s\S]*itself refused it/);
  const js = upstreamError(mongodb, { content: [{ type: 'text', text: 'The use of server-side JavaScript operators (such as $where, $function, $accumulator) is disabled.' }], isError: true });
  assert.match(String(js.content[0]!.type === 'text' ? js.content[0]!.text : ''), /FORBIDDEN/);
  const db = upstreamError(elasticsearch, { content: [{ type: 'text', text: 'security_exception: action [indices:data/write/index] is unauthorized for user [portunix_ro]' }], isError: true });
  assert.match(String(db.content[0]!.type === 'text' ? db.content[0]!.text : ''), /PERMISSION_DENIED[\s\S]*database refused it/);
});

test('mcp config --with/--target: the client entry starts our server with the upstreams; refused for an HTTP entry', async () => {
  const { planClientConfig } = await import('../../src/mcp/client-config.js');
  const p = planClientConfig('claude-code', { cwd: '/proj', with: ['dbhub', 'mongodb'], targets: ['postgresql/main/shop'] });
  const entry = p.entry as { args: string[] };
  assert.deepEqual(entry.args.slice(-6), ['mcp', 'serve', '--with', 'dbhub,mongodb', '--target', 'postgresql/main/shop']);
  assert.match(p.command ?? '', /mcp serve --with dbhub,mongodb --target postgresql\/main\/shop$/);
  const vs = planClientConfig('vscode', { cwd: '/proj', with: ['elasticsearch'] });
  assert.deepEqual((vs.entry as { args: string[] }).args.slice(-4), ['mcp', 'serve', '--with', 'elasticsearch']);
  assert.throws(() => planClientConfig('cursor', { http: { url: 'http://127.0.0.1:1/mcp', token: 't' }, with: ['dbhub'] }), /belong to the running HTTP server/);
});
