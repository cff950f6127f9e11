/**
 * Every MCP tool against a real InfluxDB 1.6.7 (Debian's package, installed by the CLI into a
 * fresh PORTUNIX_HOME), through the SDK client over stdio spawning `portunix-db mcp serve`.
 * Databases are the databases, db_tables lists retention policies beside measurements,
 * db_performance is SHOW STATS / SHOW DIAGNOSTICS, and index/constraint/vacuum tools answer
 * with a typed "not applicable" error that names the tool to use.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { call, fails, freePort, ok, stdioClient } from '../helpers/mcp.js';
import { adminPassword, influx } from '../helpers/influx.js';

const home = freshHome('mcp-influxdb');
const opts = { home };
const I = { type: 'influxdb' };
let port = 0;
let rw: Client;
let ro: Client;
let db: ReturnType<typeof influx>;

const NOW = Date.now() * 1_000_000;
const cpuCount = async (name: string) => Number((await db.values('SELECT COUNT(usage) FROM cpu', name).catch(() => []))[0]?.[1] ?? 0);

describe('mcp over stdio against a real InfluxDB 1.6', { timeout: 10 * 60_000 }, () => {
  before(async () => {
    port = await freePort();
    await cliOk(['install', 'influxdb', '--version', '1.6', '--source', 'apt', '--port', String(port), '-q'], { home, timeoutMs: 600_000 });
    db = influx(home, port, 'admin', await adminPassword((args) => cliOk([...args, '--json'], opts)));
    await cliOk(['create', 'sensors', '--type', 'influxdb'], opts);
    const lines = Array.from({ length: 40 }, (_, i) => `cpu,host=h${i % 4} usage=${i} ${NOW - i * 1e9}`).concat(Array.from({ length: 10 }, (_, i) => `temp,room=r1 c=${20 + i / 10} ${NOW - i * 1e9}`));
    assert.equal((await db.write('sensors', lines.join('\n'))).status, 204);
    rw = await stdioClient(home, ['--allow-write']);
    ro = await stdioClient(home);
  });

  after(async () => {
    await rw?.close().catch(() => undefined);
    await ro?.close().catch(() => undefined);
    await runCli(['stop', 'influxdb'], opts);
  });

  it('db_status and db_list', async () => {
    const st = (await ok(ro, 'db_status', I)).s.instances[0];
    assert.equal(st.state, 'running');
    assert.match(st.full_version, /^1\.6\.7/);
    const list = await ok(ro, 'db_list', I);
    assert.deepEqual(list.s.items.map((d: { name: string }) => d.name), ['sensors']);
  });

  it('db_tables, db_table_info, db_schema, db_size', async () => {
    const t = await ok(ro, 'db_tables', { ...I, database: 'sensors', include_sizes: true });
    assert.deepEqual(t.s.items.map((x: { name: string; kind: string; rows?: number }) => [x.name, x.kind, x.rows ?? null]), [
      ['autogen', 'retention policy (default)', null],
      ['cpu', 'measurement', 40],
      ['temp', 'measurement', 10],
    ]);
    const info = await ok(ro, 'db_table_info', { ...I, database: 'sensors', table: 'cpu' });
    assert.deepEqual(info.s.columns.map((c: { name: string }) => c.name), ['time', 'host', 'usage']);
    assert.equal(info.s.rows, 40);
    assert.match(info.s.comment, /^4 series/);
    const schema = await ok(ro, 'db_schema', { ...I, database: 'sensors' });
    assert.deepEqual(schema.s.schemas.map((x: { name: string; tables: number }) => [x.name, x.tables]), [['autogen', 2]]);
    const size = await ok(ro, 'db_size', { ...I, database: 'sensors' });
    assert.equal(size.s.items.length, 1);
    assert.ok(size.s.items[0].sizeBytes > 0, JSON.stringify(size.s));
  });

  it('db_performance and db_connections', async () => {
    const a = await ok(ro, 'db_performance', I);
    assert.ok(a.s.counters['httpd.queryReq'] > 0, JSON.stringify(a.s.counters));
    assert.ok(a.s.gauges['series_cardinality.sensors'] >= 5, JSON.stringify(a.s.gauges));
    const b = await ok(ro, 'db_performance', { ...I, database: 'sensors' });
    assert.ok(b.s.rates && 'httpd.queryReq' in b.s.rates, JSON.stringify(b.s));
    assert.equal((await call(ro, 'db_performance', { ...I, enable_statements: true })).isError, true);
    const c = await ok(ro, 'db_connections', I);
    assert.ok(Array.isArray(c.s.items));
  });

  it('db_indexes, db_constraints, db_vacuum: typed "not applicable" naming the tool to use', async () => {
    for (const [name, args, client] of [['db_indexes', { ...I, database: 'sensors' }, ro], ['db_constraints', { ...I, database: 'sensors' }, ro], ['db_vacuum', { ...I, database: 'sensors' }, rw]] as const) {
      const msg = await fails(client, name, args);
      assert.match(msg, /^Error \[NOT_APPLICABLE\]: InfluxDB /, `${name}: ${msg}`);
      assert.match(msg, /db_table_info|db_tables/);
      assert.doesNotMatch(msg, /\n\s+at /);
    }
  });

  it('InfluxQL-injection-shaped input is an error and changes nothing', async () => {
    const attempts: [string, Record<string, unknown>][] = [
      ['db_tables', { ...I, database: 'sensors"; DROP DATABASE "sensors' }],
      ['db_table_info', { ...I, database: 'sensors', table: 'cpu"; DROP MEASUREMENT "cpu' }],
      ['db_table_info', { ...I, database: 'sensors', table: "cpu' OR 1=1" }],
      ['db_size', { ...I, database: 'sensors\nDROP DATABASE sensors' }],
      ['db_backup_create', { ...I, database: 'x"y' }],
    ];
    for (const [name, args] of attempts) await fails(rw, name, args);
    assert.match(await fails(ro, 'db_tables', { ...I, database: 'a b' }), /INVALID_IDENTIFIER/);
    assert.equal(await cpuCount('sensors'), 40);
  });

  it('--allow-write: db_backup_create -> db_backup_status -> drop -> db_restore (same name and a new one)', async () => {
    assert.equal((await call(ro, 'db_backup_create', { ...I, database: 'sensors' })).isError, true, 'the read-only server has no backup tool');
    const b = await ok(rw, 'db_backup_create', { ...I, database: 'sensors' });
    assert.ok(existsSync(b.s.file));
    assert.equal(b.s.manifest.format, 'tar.gz');
    assert.equal(b.s.manifest.tables, 2, 'autogen.cpu and autogen.temp');
    const st = await ok(ro, 'db_backup_status', { ...I, database: 'sensors' });
    assert.equal(st.s.items[0].last_backup.file, b.s.file);
    assert.match(await fails(rw, 'db_restore', { file: b.s.file }), /CONFIRMATION_REQUIRED/);
    const copy = await ok(rw, 'db_restore', { file: b.s.file, target: 'sensors_copy', confirm: true });
    assert.deepEqual(copy.s.tables.map((t: { name: string; rows: number }) => [t.name, t.rows]), [['autogen.cpu', 40], ['autogen.temp', 10]]);
    await cliOk(['drop', 'sensors', '--type', 'influxdb', '--force'], opts);
    assert.equal(await cpuCount('sensors'), 0);
    const r = await ok(rw, 'db_restore', { file: b.s.file, confirm: true });
    assert.ok(r.s.actions.some((a: string) => /verified points and checksums/.test(a)), r.s.actions.join('; '));
    assert.equal(await cpuCount('sensors'), 40);
    assert.equal(await cpuCount('sensors_copy'), 40);
  });

  it('a stopped server gives an error that says how to start it', async () => {
    await cliOk(['stop', 'influxdb', '-q'], opts);
    assert.match(await fails(ro, 'db_tables', { ...I, database: 'sensors' }), /influxdb\/main is stopped; start it with `portunix-db start influxdb`/);
  });
});
