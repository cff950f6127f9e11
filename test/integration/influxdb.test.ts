/**
 * InfluxDB 1.6.7 end to end, through the built CLI, against Debian's real influxd that the tool
 * installs itself (`install influxdb --version 1.6 --source apt`) into a fresh PORTUNIX_HOME.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { resignManifest, sealedBackup } from '../helpers/backup.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { adminPassword, caOf, http, influx } from '../helpers/influx.js';
import { kill9 } from '../helpers/wait.js';

const home = freshHome('influxdb');
const opts = { home };
const cli = (args: string[], code = 0) => cliOk([...args, '--json'], opts, code);
const errorOf = (r: { json: any }) => r.json.error as { code: string; message: string; hint?: string };
let port = 0;
let password = '';
let db: ReturnType<typeof influx>;

const NOW = Date.now() * 1_000_000;
/** cpu: 60 points over 2 hosts; mem: 25; "disk io" (a measurement name with a space): 5; week.cpu in a second retention policy: 7. */
function points(): { lines: string; week: string } {
  const lines: string[] = [];
  for (let i = 0; i < 60; i++) lines.push(`cpu,host=${i % 2 ? 'a' : 'b'},dc=x usage=${i / 2},idle=${100 - i}i ${NOW - i * 1e9}`);
  for (let i = 0; i < 25; i++) lines.push(`mem,host=a free=${i * 1024}i,note="q'uote\\"d" ${NOW - i * 1e9}`);
  for (let i = 0; i < 5; i++) lines.push(`disk\\ io,host=a bytes=${i} ${NOW - i * 1e9}`);
  const week = Array.from({ length: 7 }, (_, i) => `cpu,host=w usage=${i} ${NOW - i * 1e9}`).join('\n');
  return { lines: lines.join('\n'), week };
}
const EXPECTED = { 'autogen.cpu': 60, 'autogen.disk io': 5, 'autogen.mem': 25, 'week.cpu': 7 };

async function databases(): Promise<string[]> {
  return (await cli(['list', '--type', 'influxdb'])).json[0].databases.map((d: { name: string }) => d.name);
}

async function counts(name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [rp, m] of [['autogen', 'cpu'], ['autogen', 'mem'], ['autogen', 'disk io'], ['week', 'cpu']] as const) {
    const v = await db.values(`SELECT COUNT(*) FROM "${name}"."${rp}"."${m}"`).catch(() => []);
    const n = Math.max(0, ...((v[0] as unknown[] | undefined)?.slice(1).map(Number) ?? [0]));
    if (n) out[`${rp}.${m}`] = n;
  }
  return out;
}

describe('InfluxDB 1.6 (Debian package) through the CLI', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    port = await freePort();
    await cliOk(['install', 'influxdb', '--version', '1.6', '--source', 'apt', '--port', String(port), '-q'], { home, timeoutMs: 600_000 });
    password = await adminPassword(cli);
    db = influx(home, port, 'admin', password);
  });

  after(async () => {
    await runCli(['stop', 'influxdb'], opts);
  });

  test('status: running 1.6.7 from apt', async () => {
    const r = (await cli(['status', 'influxdb'])).json[0];
    assert.equal(r.state, 'running');
    assert.equal(r.version, '1.6');
    assert.match(r.full_version, /^1\.6\.7/);
    assert.equal(r.source, 'apt');
  });

  test('the generated config: loopback, auth on, HTTPS with the instance certificate, no password on disk', async () => {
    const conf = await readFile(join(home, 'instances', 'influxdb', 'main', 'server.conf'), 'utf8');
    assert.match(conf, new RegExp(`bind-address = "127\\.0\\.0\\.1:${port}"`));
    assert.match(conf, /^bind-address = "127\.0\.0\.1:\d+"/m, 'the backup RPC on loopback');
    assert.match(conf, /auth-enabled = true/);
    assert.match(conf, /https-enabled = true/);
    assert.ok(!conf.includes(password));
    // plain HTTP is refused, unauthenticated HTTPS is refused, pinned + authenticated works
    assert.notEqual((await http(port, 'GET', '/ping', { plain: true }).catch(() => ({ status: 0 }))).status, 204);
    const anon = await http(port, 'POST', '/query', { ca: caOf(home), body: 'q=SHOW+DATABASES' });
    assert.equal(anon.status, 401);
    await assert.rejects(http(port, 'GET', '/ping', {}), /self-signed|certificate/i, 'the certificate is not trusted without pinning');
    const url = (await cli(['url', 'influxdb'])).json.url as string;
    assert.equal(url, `https://admin:***@127.0.0.1:${port}`);
    const h = await cli(['health', 'influxdb']);
    const byName = Object.fromEntries((h.json.checks as { name: string; status: string }[]).map((c) => [c.name, c.status]));
    assert.deepEqual([byName['tls'], byName['auth'], byName['bind'], byName['backup-rpc']], ['ok', 'ok', 'ok', 'ok']);
  });

  test('databases and retention policies; points written over HTTPS', async () => {
    assert.equal((await cli(['create', 'metrics', '--type', 'influxdb'])).json.created, true);
    assert.equal((await cli(['create', 'metrics', '--type', 'influxdb'])).json.created, false);
    assert.equal((await db.query('CREATE RETENTION POLICY "week" ON "metrics" DURATION 7d REPLICATION 1')).status, 200);
    const p = points();
    assert.equal((await db.write('metrics', p.lines)).status, 204);
    assert.equal((await db.write('metrics', p.week, 'week')).status, 204);
    assert.deepEqual(await counts('metrics'), EXPECTED);
    assert.deepEqual(await databases(), ['metrics']);
  });

  test('inspection: retention policies beside measurements, table-info, schema, size, metrics, connections, config', async () => {
    const t = (await cli(['tables', 'metrics', '--type', 'influxdb', '--sizes'])).json.items as { name: string; kind: string; rows?: number; schema?: string }[];
    assert.deepEqual(t.filter((x) => x.kind.startsWith('retention')).map((x) => [x.name, x.kind]), [['autogen', 'retention policy (default)'], ['week', 'retention policy']]);
    assert.deepEqual(Object.fromEntries(t.filter((x) => x.kind === 'measurement').map((x) => [x.name, x.rows])), { cpu: 60, 'disk io': 5, mem: 25 });
    const week = (await cli(['tables', 'metrics', '--type', 'influxdb', '--sizes', '--schema', 'week'])).json.items as { name: string; rows?: number }[];
    assert.equal(week.find((x) => x.name === 'cpu')?.rows, 7);
    const info = (await cli(['table-info', 'cpu', '--type', 'influxdb', '--database', 'metrics'])).json;
    assert.deepEqual(info.columns.map((c: { name: string; type: string }) => [c.name, c.type]), [['time', 'timestamp (ns)'], ['dc', 'tag (string)'], ['host', 'tag (string)'], ['idle', 'field (integer)'], ['usage', 'field (float)']]);
    assert.equal(info.rows, 60);
    assert.match(info.comment, /^2 series/);
    const rp = (await cli(['table-info', 'week', '--type', 'influxdb', '--database', 'metrics'])).json;
    assert.equal(rp.kind, 'retention policy');
    assert.match(rp.comment, /duration 168h0m0s/);
    const schema = (await cli(['schema', 'metrics', '--type', 'influxdb'])).json;
    assert.deepEqual(schema.schemas.map((s: { name: string }) => s.name), ['autogen', 'week']);
    const size = (await cli(['size', 'influxdb'])).json;
    assert.ok(size.items.find((d: { name: string }) => d.name === 'metrics').sizeBytes > 0, JSON.stringify(size));
    const m = (await cli(['metrics', 'influxdb'])).json;
    assert.ok(m.counters['httpd.queryReq'] > 0, JSON.stringify(m.counters));
    assert.ok(m.counters['httpd.pointsWrittenOK'] >= 97);
    assert.equal(m.gauges['series_cardinality.metrics'] >= 4, true, JSON.stringify(m.gauges));
    assert.match(String(m.gauges['version']), /^1\.6\.7/);
    assert.ok(Array.isArray((await cli(['connections', 'influxdb'])).json.items));
    assert.equal((await cli(['config', 'get', 'influxdb', 'httpd.https-enabled'])).json.value, 'true');
    assert.equal(errorOf(await cli(['config', 'get', 'influxdb', 'httpd.https-enable'], 3)).hint, 'Did you mean httpd.https-enabled?');
  });

  test('not-applicable answers exit 5 and name what to use', async () => {
    for (const args of [['indexes', 'metrics'], ['constraints', 'metrics'], ['vacuum', 'metrics']]) {
      const e = errorOf(await cli([...args, '--type', 'influxdb'], 5));
      assert.equal(e.code, 'NOT_APPLICABLE');
      assert.match(e.message, /db_table_info|db_tables/);
    }
    assert.equal(errorOf(await cli(['config', 'set', 'influxdb', 'x', 'y'], 5)).code, 'NOT_APPLICABLE');
  });

  test('InfluxQL-injection-shaped names are refused and change nothing', async () => {
    const bad = ['metrics"; DROP DATABASE "metrics', "x' OR '1'='1", 'a b', 'x\\', 'a'.repeat(65)];
    for (const name of bad) {
      const r = await runCli(['create', name, '--type', 'influxdb', '--json'], opts);
      assert.notEqual(r.code, 0, name);
      assert.equal(r.json?.error?.code, 'INVALID_IDENTIFIER', `${name}: ${r.stdout}`);
    }
    for (const args of [['tables', 'metrics" ; DROP DATABASE "metrics'], ['table-info', 'cpu"; DROP MEASUREMENT "cpu', '--database', 'metrics'], ['drop', 'metrics"; --', '--force'], ['user', 'create', 'u"; DROP USER "admin']]) {
      const r = await runCli([...args, '--type', 'influxdb', '--json'], { ...opts, input: 'pw\n', env: { PORTUNIX_DB_PASSWORD: 'pw' } });
      assert.notEqual(r.code, 0, args.join(' '));
      assert.ok(['INVALID_IDENTIFIER', 'USAGE'].includes(r.json?.error?.code), `${args.join(' ')}: ${r.stdout} ${r.stderr}`);
    }
    assert.deepEqual(await counts('metrics'), EXPECTED);
    // the install made the read-only account db_query uses beside the admin
    assert.deepEqual((await db.values('SHOW USERS')).map((u) => u[0]), ['admin', 'portunix_ro']);
  });

  test('users and grants: READ on a database, WRITE, ALL as admin; revoke; delete', async () => {
    const appPw = 'app-secret-pw';
    await cliOk(['user', 'create', 'app', '--type', 'influxdb', '--password-stdin'], { ...opts, input: `${appPw}\n` });
    const granted = (await cli(['user', 'grant', 'app', '--type', 'influxdb', '--privileges', 'read', '--database', 'metrics'])).json;
    assert.ok(JSON.stringify(granted).includes('GRANT READ ON \\"metrics\\" TO \\"app\\"'), JSON.stringify(granted));
    const app = influx(home, port, 'app', appPw);
    assert.equal((await app.values('SELECT COUNT(usage) FROM cpu', 'metrics'))[0]?.[1], 60);
    assert.equal((await app.write('metrics', 'cpu,host=z usage=1')).status, 403, 'READ does not write');
    await cli(['user', 'grant', 'app', '--type', 'influxdb', '--privileges', 'write', '--database', 'metrics']);
    let users = (await cli(['user', 'list', '--type', 'influxdb'])).json as { name: string; superuser: boolean; grants: string[] }[];
    assert.deepEqual(users.find((u) => u.name === 'app')?.grants, ['ALL PRIVILEGES ON metrics']);
    await cli(['user', 'revoke', 'app', '--type', 'influxdb', '--privileges', 'write', '--database', 'metrics']);
    users = (await cli(['user', 'list', '--type', 'influxdb'])).json;
    assert.deepEqual(users.find((u) => u.name === 'app')?.grants, ['READ ON metrics']);
    await cli(['user', 'grant', 'app', '--type', 'influxdb', '--privileges', 'all']);
    users = (await cli(['user', 'list', '--type', 'influxdb'])).json;
    assert.equal(users.find((u) => u.name === 'app')?.superuser, true);
    assert.equal(errorOf(await cli(['user', 'grant', 'app', '--type', 'influxdb', '--privileges', 'read'], 2)).code, 'USAGE');
    assert.equal(errorOf(await cli(['user', 'grant', 'app', '--type', 'influxdb', '--privileges', 'drop', '--database', 'metrics'], 2)).code, 'USAGE');
    assert.equal(errorOf(await cli(['user', 'delete', 'admin', '--type', 'influxdb'], 2)).code, 'USAGE');
    await cli(['user', 'delete', 'app', '--type', 'influxdb']);
    // the install made the read-only account db_query uses beside the admin
    assert.deepEqual((await db.values('SHOW USERS')).map((u) => u[0]), ['admin', 'portunix_ro']);
  });

  test('backup -> drop -> restore -> same points; restore into a new name; verify', async () => {
    const b = (await cli(['backup', 'metrics', '--type', 'influxdb'])).json;
    assert.match(b.file, /\.tar\.gz$/);
    assert.equal(b.manifest.scope, 'database');
    assert.deepEqual(Object.fromEntries(b.manifest.tables.map((t: { name: string; rows: number }) => [t.name, t.rows])), EXPECTED);
    assert.ok(b.manifest.tables.every((t: { checksum?: string }) => /^[0-9a-f]{64}$/.test(t.checksum ?? '')));
    assert.deepEqual(await databases(), ['metrics'], 'no scratch database left behind');
    const v = (await cli(['backup', 'verify', b.file])).json;
    assert.equal(v.ok, true, JSON.stringify(v));
    assert.match(v.method, /scratch InfluxDB server \(not the live one\)/);
    await cli(['drop', 'metrics', '--type', 'influxdb', '--force']);
    assert.deepEqual(await counts('metrics'), {});
    const r = (await cli(['restore', b.file])).json;
    assert.ok(r.actions.some((a: string) => /verified points and checksums/.test(a)), r.actions.join('; '));
    assert.deepEqual(await counts('metrics'), EXPECTED);
    assert.equal((await db.values(`SELECT note FROM mem LIMIT 1`, 'metrics'))[0]?.[1], `q'uote"d`);
    const copy = (await cli(['restore', b.file, '--target', 'metrics_copy'])).json;
    assert.match(copy.target, /metrics_copy/);
    assert.deepEqual(await counts('metrics_copy'), EXPECTED);
    assert.equal(errorOf(await cli(['restore', b.file], 2)).code, 'CONFIRMATION_REQUIRED');
    // replace: points written after the backup are gone
    assert.equal((await db.write('metrics', `cpu,host=late usage=1 ${NOW}`)).status, 204);
    await cli(['restore', b.file, '--force']);
    assert.deepEqual(await counts('metrics'), EXPECTED);
    await cli(['drop', 'metrics_copy', '--type', 'influxdb', '--force']);
  });

  test('--encrypt: the archive goes through age as tar writes it; no plaintext file ever appears; it verifies and restores', async () => {
    const sealed = await sealedBackup(['metrics', '--type', 'influxdb'], join(home, 'sealed'), opts);
    assert.match(sealed.file, /\.tar\.gz\.age$/);
    const v = (await cli(['backup', 'verify', sealed.file])).json;
    assert.equal(v.ok, true, JSON.stringify(v));
    await cli(['restore', sealed.file, '--target', 'metrics_sealed']);
    assert.deepEqual(await counts('metrics_sealed'), EXPECTED);
    await cli(['drop', 'metrics_sealed', '--type', 'influxdb', '--force']);
  });

  test('a corrupt or lying backup is refused before anything is touched', async () => {
    const file = (await cli(['backup', 'list', '--type', 'influxdb'])).json[0].file as string;
    const bad = join(home, 'corrupt.tar.gz');
    await copyFile(file, bad);
    await copyFile(`${file}.manifest.json`, `${bad}.manifest.json`);
    const bytes = await readFile(bad);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = bytes[mid]! ^ 0xff;
    await writeFile(bad, bytes);
    const e = errorOf(await cli(['restore', bad, '--target', 'never'], 1));
    assert.equal(e.code, 'BACKUP_CORRUPT');
    assert.equal(errorOf(await cli(['backup', 'verify', bad], 1)).code, 'BACKUP_CORRUPT');
    // a manifest that claims other counts: the restore is checked, refused and undone
    const lying = join(home, 'lying.tar.gz');
    await copyFile(file, lying);
    const m = JSON.parse(await readFile(`${file}.manifest.json`, 'utf8'));
    m.tables[0].rows += 1;
    await writeFile(`${lying}.manifest.json`, JSON.stringify(m));
    // an edited manifest fails its HMAC; re-signed with the home's key it meets the restore's own comparison
    assert.equal(errorOf(await cli(['restore', lying, '--target', 'lying_copy'], 1)).code, 'BACKUP_TAMPERED');
    await resignManifest(home, lying);
    assert.equal(errorOf(await cli(['restore', lying, '--target', 'lying_copy'], 1)).code, 'RESTORE_FAILED');
    const v = await runCli(['backup', 'verify', lying, '--json'], opts);
    assert.notEqual(v.code, 0, v.stdout);
    assert.match(v.json.error.message, /the manifest says autogen\.cpu=61/);
    assert.deepEqual(await databases(), ['metrics']);
    assert.deepEqual(await counts('metrics'), EXPECTED);
  });

  test('start when running is idempotent; kill -9 -> crashed -> start recovers the points', async () => {
    assert.equal((await cli(['start', 'influxdb'])).json.already_running, true);
    const before = (await cli(['status', 'influxdb'])).json[0];
    await kill9(before.pid);
    assert.equal((await cli(['status', 'influxdb'])).json[0].state, 'crashed');
    await cli(['start', 'influxdb']);
    assert.equal((await cli(['status', 'influxdb'])).json[0].state, 'running');
    assert.deepEqual(await counts('metrics'), EXPECTED);
    await cli(['stop', 'influxdb']);
    assert.equal((await cli(['status', 'influxdb'])).json[0].state, 'stopped');
    assert.equal(errorOf(await cli(['tables', 'metrics', '--type', 'influxdb'], 4)).code, 'NOT_RUNNING');
    await cli(['start', 'influxdb']);
  });
});
