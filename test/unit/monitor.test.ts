/** Issue 16: the monitor's pure parts, its sample store, /metrics and the dashboard's HTTP side (no database servers). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { parseLoopbackListen } from '../../src/core/http-guard.js';
import { parseInterval, DEFAULT_INTERVAL_MS } from '../../src/core/monitor/sampler.js';
import { parseSeriesQuery, parseWindow, trend, monitorAlerts } from '../../src/core/monitor/query.js';
import { SampleStore, storeFile, ROLLUP_MS, RAW_RETENTION_MS } from '../../src/core/monitor/store.js';
import { backupFigures, conditionsOf, keyFigures, pointsOf, DISK_NEARLY_FULL } from '../../src/core/monitor/collect.js';
import { exposition, prometheusService } from '../../src/core/monitor/prometheus.js';
import { serveDashboard } from '../../src/core/monitor/dashboard.js';
import type { AgentContext } from '../../src/core/agent/task.js';
import { get, snapshot } from './monitor-fixtures.js';

let home: string;
before(() => {
  home = mkdtempSync(join(tmpdir(), 'pdb-monitor-unit-'));
  process.env['PORTUNIX_HOME'] = home;
});
after(() => rmSync(home, { recursive: true, force: true }));

const usage = (fn: () => unknown, re?: RegExp) => assert.throws(fn, (e: Error & { code?: string }) => e.code === 'USAGE' && (!re || re.test(e.message)));

describe('inputs', () => {
  test('--interval: seconds or a unit, 1s..1h', () => {
    assert.equal(parseInterval('15'), 15_000);
    assert.equal(parseInterval('15s'), 15_000);
    assert.equal(parseInterval('1500ms'), 1500);
    assert.equal(parseInterval('2m'), 120_000);
    assert.equal(parseInterval('1h'), 3600_000);
    assert.equal(DEFAULT_INTERVAL_MS, 15_000);
    for (const bad of ['0', '0s', '999ms', '2h', '-5', '1e3', '15 s', '', ' ', 'NaN', '0x10', '1.5', '15sec', '99999999', '15s; rm -rf /']) usage(() => parseInterval(bad));
  });

  test('--listen: loopback only, a port 0..65535', () => {
    assert.deepEqual(parseLoopbackListen('127.0.0.1:9464'), { host: '127.0.0.1', port: 9464 });
    assert.deepEqual(parseLoopbackListen('localhost:0'), { host: '127.0.0.1', port: 0 });
    assert.deepEqual(parseLoopbackListen('[::1]:8080'), { host: '::1', port: 8080 });
    assert.deepEqual(parseLoopbackListen('127.0.0.2:80'), { host: '127.0.0.2', port: 80 });
    for (const bad of ['0.0.0.0:9464', '[::]:9464', '192.168.1.10:9464', '10.0.0.1:1', 'example.com:80', '127.0.0.1.evil.test:80', 'localhost.evil.test:80', '127.1:80', '127.0.0.256:80', ':9464', '9464', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:-1', '127.0.0.1:80/x', '[::ffff:127.0.0.1]:80', '[fe80::1]:80', 'http://127.0.0.1:80', ' 127.0.0.1 :80']) {
      usage(() => parseLoopbackListen(bad));
    }
    usage(() => parseLoopbackListen('0.0.0.0:9464'), /only loopback/);
  });

  test('windows and series queries: every parameter checked', () => {
    assert.equal(parseWindow('15m'), 15 * 60_000);
    assert.equal(parseWindow('7d'), 7 * 86_400_000);
    for (const bad of ['0m', '31d', '1s', '1w', '', '1h ', ' 1h', '-1h', '1.5h', '1e2h', '99999d', 'PT1H', "1h' OR 1=1"]) usage(() => parseWindow(bad));
    const now = 1_000_000_000_000;
    const q = parseSeriesQuery(new URLSearchParams({ engine: 'pg', instance: 'main', metric: 'connections', range: '6h' }), now);
    assert.deepEqual(q, { engine: 'postgresql', instance: 'main', metric: 'connections', database: '', from: now - 6 * 3600_000, to: now, points: 300 });
    assert.equal(parseSeriesQuery(new URLSearchParams('engine=redis&metric=database_size_bytes&database=0&points=10')).database, '0');
    const bad: [string, RegExp | undefined][] = [
      ['engine=redis&metric=connections&x=1', /Unknown parameter/],
      ['engine=redis&metric=connections&metric=up', /twice/],
      ['engine=redis&metric=connections;DROP', /Unknown metric/],
      ['engine=redis&metric=../../etc/passwd', /Unknown metric/],
      ['engine=redis&metric=connections&instance=Main', undefined],
      ["engine=redis&metric=connections&instance=a'--", undefined],
      ['engine=redis&metric=connections&range=999d', /outside/],
      ['engine=redis&metric=connections&points=1000000', /points/],
      ['engine=redis&metric=connections&points=5', /points/],
      ['engine=redis&metric=connections&points=-1', /points/],
      [`engine=redis&metric=connections&database=${'x'.repeat(200)}`, /too long/],
      ['engine=redis&metric=connections&database=a%00b', /control/],
    ];
    for (const [qs, re] of bad) usage(() => parseSeriesQuery(new URLSearchParams(qs)), re);
    assert.throws(() => parseSeriesQuery(new URLSearchParams('engine=oracle&metric=up')), (e: Error & { code?: string }) => e.code === 'UNKNOWN_ENGINE');
  });
});

describe('collecting', () => {
  test('key figures come from the names the engine declares, never from its id', () => {
    const km = { connections: 'connected_clients', cacheHitRatio: 'hit_ratio', operations: ['total_commands_processed'], replicationLagSeconds: 'lag' };
    assert.deepEqual(keyFigures(km, { gauges: { connected_clients: 3, hit_ratio: 0.9, lag: null } }, { total_commands_processed: 12.345 }), { connections: 3, cache_hit_ratio: 0.9, operations_per_second: 12.35 });
    assert.deepEqual(keyFigures(undefined, { gauges: { connections: 3 } }, undefined), {});
    // a counter the server does not report (no rate yet) leaves no figure, never a zero
    assert.deepEqual(keyFigures({ transactions: ['a', 'b'] }, { gauges: {} }, { b: 2 }), { transactions_per_second: 2 });
    assert.deepEqual(keyFigures({ transactions: ['a'] }, { gauges: {} }, {}), {});
  });

  test('points: common series, database sizes capped, non-numbers skipped', () => {
    const snap = snapshot({ uptime_seconds: 10, key: { connections: 2 }, total_bytes: 100, sizes: Array.from({ length: 80 }, (_, i) => ({ database: `d${i}`, bytes: i })), healthy: false, checks: [{ name: 'a', status: 'fail', detail: '' }] });
    const pts = pointsOf(snap, { gauges: { used_memory: 5, role: 'master', nan: Number.NaN } }, { total_commands_processed: 1 });
    const m = (name: string) => pts.filter((p) => p.metric === name);
    assert.equal(m('up')[0]!.value, 1);
    assert.equal(m('connections')[0]!.value, 2);
    assert.equal(m('database_size_bytes').length, 50);
    assert.equal(m('health_failing')[0]!.value, 1);
    assert.equal(m('gauge.used_memory')[0]!.value, 5);
    assert.equal(m('gauge.role').length, 0);
    assert.equal(m('gauge.nan').length, 0);
    assert.equal(m('rate.total_commands_processed')[0]!.value, 1);
    assert.equal(pointsOf(snapshot({ state: 'crashed' })).find((p) => p.metric === 'up')!.value, 0);
  });

  test('alert conditions: crash, failing checks, full disk, backups', () => {
    assert.deepEqual(conditionsOf(snapshot()), []);
    const crashed = conditionsOf(snapshot({ state: 'crashed', log_tail: ['boom'] }));
    assert.equal(crashed.length, 1);
    assert.equal(crashed[0]!.kind, 'instance-crashed');
    assert.equal(crashed[0]!.detail, 'boom');
    const h = conditionsOf(snapshot({ checks: [{ name: 'connect', status: 'fail', detail: 'refused' }, { name: 'tls', status: 'warn', detail: '' }] }));
    assert.deepEqual(h.map((c) => [c.kind, c.key]), [['health-failed', 'health-failed:redis/main:connect']]);
    const disk = (used: number) => conditionsOf(snapshot({ disk: { path: '/d', free_bytes: 1, total_bytes: 10, used_ratio: used } }));
    assert.equal(disk(DISK_NEARLY_FULL).length, 1);
    assert.equal(disk(0.5).length, 0);
    const b = conditionsOf(snapshot({ backups: [{ database: '0', overdue: true, schedule: 'daily' }, { database: '1', last_backup_at: '2024-01-02T00:00:00Z', last_verify: { at: '2024-01-03T00:00:00Z', ok: false, error: 'rows differ' }, last_attempt: { at: '2024-01-01T00:00:00Z', ok: false } }, { database: '2', last_attempt: { at: '2024-01-01T00:00:00Z', ok: false, error: 'disk' } }] }));
    assert.deepEqual(b.map((c) => c.key).sort(), ['backup-failed:redis/main/2', 'backup-overdue:redis/main/0', 'verify-failed:redis/main/1']);
  });

  test('backup figures: overdue past 1.5 intervals of the schedule, never for unscheduled instances', () => {
    const now = Date.parse('2024-01-10T00:00:00Z');
    const e = (database: string, finished_at?: string) => ({ database, ...(finished_at ? { last_backup: { file: 'f', finished_at, method: 'rdb', size_bytes: 9 } } : {}) });
    const sched = { auto_backup: true, backup_schedule: 'daily', created_at: '2024-01-01T00:00:00Z', databases: ['a', 'b', 'c', 'new'] };
    const f = backupFigures([e('a', '2024-01-09T06:00:00Z'), e('b', '2024-01-08T00:00:00Z'), e('c')], sched, now);
    const by = new Map(f.map((x) => [x.database, x]));
    assert.equal(by.get('a')!.overdue, false);
    assert.equal(by.get('a')!.size_bytes, 9);
    assert.equal(by.get('b')!.overdue, true);
    assert.equal(by.get('c')!.overdue, true);
    assert.equal(by.get('new')!.overdue, true, 'a scheduled database with no backup, on an old instance');
    assert.equal(backupFigures([], { ...sched, created_at: '2024-01-09T23:00:00Z' }, now).every((x) => !x.overdue), true, 'a new instance has its grace');
    assert.equal(backupFigures([e('b', '2024-01-01T00:00:00Z')], { auto_backup: false, backup_schedule: 'daily' }, now)[0]!.overdue, undefined);
    assert.equal(backupFigures([e('b', '2024-01-01T00:00:00Z')], { auto_backup: true, backup_schedule: 'manual' }, now)[0]!.overdue, undefined);
  });
});

describe('sample store', () => {
  test('file 0600 in a 0700 dir; raw points, rollups, window stats', async () => {
    const dir = mkdtempSync(join(home, 's-'));
    const file = join(dir, 'monitor', 'samples.db');
    const store = (await SampleStore.open({ file }))!;
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(dir, 'monitor')).mode & 0o777, 0o700);
    const t0 = Math.floor(Date.now() / ROLLUP_MS) * ROLLUP_MS - 2 * ROLLUP_MS;
    for (let i = 0; i < 40; i++) {
      const at = t0 + i * 15_000;
      store.record(at, [snapshot({ at: new Date(at).toISOString() })], [{ engine: 'redis', instance: 'main', metric: 'connections', database: '', value: i % 10 }, { engine: 'redis', instance: 'main', metric: 'database_size_bytes', database: '0', value: 100 + i }], 15_000);
    }
    const now = t0 + 40 * 15_000;
    const s = store.series({ engine: 'redis', instance: 'main', metric: 'connections', database: '', from: t0, to: now, points: 1000 }, now);
    assert.equal(s.source, 'raw');
    assert.equal(s.points.length, 40, `${s.points.length} raw points`);
    const coarse = store.series({ engine: 'redis', instance: 'main', metric: 'connections', database: '', from: t0, to: now, points: 10 }, now);
    assert.ok(coarse.points.length <= 11 && coarse.points.length >= 9, `${coarse.points.length} points`);
    assert.equal(store.series({ engine: 'redis', instance: 'main', metric: 'database_size_bytes', database: '0', from: t0, to: now, points: 100 }, now).points.length > 0, true);
    const w = store.windowStats('redis', 'main', t0, now);
    assert.deepEqual(Object.keys(w), ['connections'], 'database series stay out of the instance window');
    assert.deepEqual(w['connections'], { min: 0, max: 9, avg: 4.5, last: 9, samples: 40 });
    // older than 24 h: rollups answer (5-minute buckets: min/max/avg kept)
    const later = now + RAW_RETENTION_MS + 60_000;
    store.prune(later);
    assert.equal(store.series({ engine: 'redis', instance: 'main', metric: 'connections', database: '', from: t0, to: now, points: 1000 }, now).points.length, 0, 'raw samples older than 24 h are gone');
    const old = store.windowStats('redis', 'main', t0, later);
    assert.equal(old['connections']!.min, 0);
    assert.equal(old['connections']!.max, 9);
    assert.equal(old['connections']!.samples, 40);
    const rolled = store.series({ engine: 'redis', instance: 'main', metric: 'connections', database: '', from: t0, to: now, points: 100 }, later);
    assert.equal(rolled.source, 'rollup');
    assert.ok(rolled.points.length >= 2 && rolled.points.length <= 3, `${rolled.points.length} rollup points`);
    // and after 30 days nothing is left, series rows included
    store.prune(now + 31 * 86_400_000);
    assert.equal(store.windowStats('redis', 'main', 0, now + 31 * 86_400_000)['connections'], undefined);
    assert.equal(store.latest().instances.length, 1, 'the latest snapshot stays');
    store.close();
  });

  test('bounded size: past maxBytes the oldest samples go', async () => {
    const file = join(mkdtempSync(join(home, 'b-')), 'samples.db');
    const store = (await SampleStore.open({ file, maxBytes: 256 * 1024 }))!;
    const t0 = Date.now() - 3600_000;
    const pts = Array.from({ length: 200 }, (_, i) => ({ engine: 'redis', instance: 'main', metric: `gauge.g${i}`, database: '', value: i }));
    for (let i = 0; i < 60; i++) store.record(t0 + i * 1000, [], pts, 1000);
    assert.ok(store.usedBytes() > 256 * 1024, `grew to ${store.usedBytes()}`);
    store.prune(t0 + 60_000);
    assert.ok(store.usedBytes() <= 256 * 1024, `pruned to ${store.usedBytes()}`);
    const left = store.series({ engine: 'redis', instance: 'main', metric: 'gauge.g0', database: '', from: t0, to: t0 + 60_000, points: 1000 }, t0 + 60_000).points;
    assert.ok(left.length > 0 && left.length < 60, `${left.length} of 60 kept`);
    assert.ok(left[0]![0] > t0, 'the oldest went first');
    store.close();
  });

  test('alerts: raised once while the condition holds, resolved when it clears, again when it returns', async () => {
    const file = join(mkdtempSync(join(home, 'a-')), 'samples.db');
    const store = (await SampleStore.open({ file }))!;
    const c = { key: 'instance-crashed:redis/main', kind: 'instance-crashed' as const, engine: 'redis', instance: 'main', message: 'crashed' };
    assert.equal(store.reconcileAlerts([c], 1000).raised.length, 1);
    assert.equal(store.reconcileAlerts([c, c], 2000).raised.length, 0);
    assert.equal(store.alerts({ openOnly: true }).length, 1);
    const cleared = store.reconcileAlerts([], 3000);
    assert.equal(cleared.resolved.length, 1);
    assert.equal(store.alerts({ openOnly: true }).length, 0);
    assert.equal(store.reconcileAlerts([c], 4000).raised.length, 1);
    store.close();
    // a restarted sampler (a new connection) does not raise what is already open
    const again = (await SampleStore.open({ file }))!;
    assert.equal(again.reconcileAlerts([c], 5000).raised.length, 0);
    again.close();
  });

  test('trend and monitorAlerts read the store of PORTUNIX_HOME (absent: a note, never an error)', async () => {
    const none = await trend({ type: 'redis', window: '1h' });
    assert.deepEqual(none.metrics, {});
    assert.match(none.note!, /monitor/);
    assert.equal(await monitorAlerts(), undefined);
    const store = (await SampleStore.open())!;
    assert.equal(store.file, storeFile());
    const now = Date.now();
    for (let i = 0; i < 5; i++) store.record(now - (5 - i) * 1000, [snapshot()], [{ engine: 'redis', instance: 'main', metric: 'connections', database: '', value: i }, { engine: 'redis', instance: 'main', metric: 'gauge.used_memory', database: '', value: 1 }], 1000);
    store.reconcileAlerts([{ key: 'k', kind: 'disk-nearly-full', engine: 'redis', instance: 'main', message: 'full' }], now);
    store.close();
    const t = await trend({ type: 'redis', window: '15m' });
    assert.deepEqual(Object.keys(t.metrics), ['connections']);
    assert.equal(t.metrics['connections']!.max, 4);
    await assert.rejects(trend({ type: 'redis', window: '45d' }), (e: Error & { code?: string }) => e.code === 'USAGE');
    const a = (await monitorAlerts())!;
    assert.equal(a.running, true);
    assert.equal(a.alerts[0]!.kind, 'disk-nearly-full');
  });
});

function fakeCtx(): AgentContext & { alerts: unknown[] } {
  const alerts: unknown[] = [];
  return { home, log: { info: () => undefined, warn: () => undefined }, signal: new AbortController().signal, alerts, alert: async (a) => void alerts.push(a) };
}

describe('Prometheus /metrics', () => {
  test('exposition parses with a real parser; names, types, labels follow the conventions', async () => {
    const view = {
      last_round_at: '2024-01-01T00:00:00.000Z',
      interval_ms: 15_000,
      instances: [
        snapshot({ uptime_seconds: 42, key: { connections: 3, cache_hit_ratio: 0.5 }, totals: { operations: 1234 }, sizes: [{ database: '0', bytes: 2048 }], healthy: false, checks: [{ name: 'connect', status: 'fail', detail: 'x' }], disk: { path: '/', free_bytes: 10, total_bytes: 100, used_ratio: 0.9 }, backups: [{ database: '0', last_backup_at: '2024-01-01T00:00:00.000Z', size_bytes: 77, last_verify: { at: '2024-01-01T00:00:00.000Z', ok: false }, overdue: false, schedule: 'daily' }] }),
        snapshot({ engine: 'postgresql', instance: 'pg"16\\x', state: 'crashed', version: '16', notice: { eol: true } }),
      ],
    };
    const { text, contentType } = await exposition(view, [{ kind: 'instance-crashed' }, { kind: 'instance-crashed' }], Date.parse('2024-01-01T00:01:40.000Z'));
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(text);
    const fam = new Map(families.map((f) => [f.name, f]));
    for (const f of families) {
      assert.match(f.name, /^portunix_db_[a-z0-9_]+$/, f.name);
      assert.ok(f.help.length > 0, `${f.name} has help`);
      if (f.type === 'COUNTER') assert.match(f.name, /_total$/);
    }
    const val = (name: string, labels: Record<string, string>) => fam.get(name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;
    assert.equal(val('portunix_db_up', { engine: 'redis', instance: 'main' }), '1');
    assert.equal(val('portunix_db_up', { engine: 'postgresql', instance: 'pg"16\\x' }), '0', 'label values are escaped and parse back');
    assert.equal(val('portunix_db_version_eol', { engine: 'postgresql' }), '1');
    assert.equal(val('portunix_db_uptime_seconds', { instance: 'main' }), '42');
    assert.equal(val('portunix_db_connections', { instance: 'main' }), '3');
    assert.equal(val('portunix_db_cache_hit_ratio', { instance: 'main' }), '0.5');
    assert.equal(fam.get('portunix_db_operations_total')!.type, 'COUNTER');
    assert.equal(val('portunix_db_operations_total', { instance: 'main' }), '1234');
    assert.equal(val('portunix_db_database_size_bytes', { engine: 'redis', instance: 'main', database: '0' }), '2048');
    assert.equal(val('portunix_db_healthy', { instance: 'main' }), '0');
    assert.equal(val('portunix_db_health_check_failing', { check: 'connect' }), '1');
    assert.equal(val('portunix_db_backup_age_seconds', { database: '0' }), '100');
    assert.equal(val('portunix_db_backup_last_size_bytes', { database: '0' }), '77');
    assert.equal(val('portunix_db_backup_last_verify_success', { database: '0' }), '0');
    assert.equal(val('portunix_db_backup_overdue', { database: '0' }), '0');
    assert.equal(val('portunix_db_alerts_active', { kind: 'instance-crashed' }), '2');
    assert.equal(val('portunix_db_monitor_interval_seconds', {}), '15');
    assert.equal(val('portunix_db_disk_free_bytes', { instance: 'main' }), '10');
    // a crashed instance exports no stale connection figures
    assert.equal(val('portunix_db_connections', { engine: 'postgresql' }), undefined);
    assert.ok(parsePrometheusTextFormat((await exposition(undefined, [])).text).length > 0, 'an empty store still gives valid output');
  });

  test('the listener: bearer token, Host and Origin checks, read-only, nothing but /metrics', async () => {
    const tokenFile = join(mkdtempSync(join(home, 't-')), 'token');
    writeFileSync(tokenFile, 'a'.repeat(40) + '\n', { mode: 0o600 });
    const svc = prometheusService({ host: '127.0.0.1', port: 0, tokenFile });
    const started = await svc.start(fakeCtx());
    const port = Number(/:(\d+)\/metrics/.exec(started.describe)![1]);
    try {
      const ok = await get(port, '/metrics', { authorization: `Bearer ${'a'.repeat(40)}` });
      assert.equal(ok.status, 200, ok.body);
      assert.ok(parsePrometheusTextFormat(ok.body).some((f) => f.name === 'portunix_db_alerts_active'));
      const cases: [string, Record<string, string>, number, string?][] = [
        ['/metrics', {}, 401],
        ['/metrics', { authorization: 'Bearer wrong-token-of-some-length' }, 401],
        ['/metrics', { authorization: `Basic ${Buffer.from('a:' + 'a'.repeat(40)).toString('base64')}` }, 401],
        ['/metrics', { authorization: `Bearer ${'a'.repeat(39)}` }, 401],
        ['/metrics', { authorization: `Bearer ${'a'.repeat(40)}`, host: 'evil.example:80' }, 403],
        ['/metrics', { authorization: `Bearer ${'a'.repeat(40)}`, host: '127.0.0.1.evil.example' }, 403],
        ['/metrics', { authorization: `Bearer ${'a'.repeat(40)}`, origin: 'http://evil.example' }, 403],
        ['/metrics', { authorization: `Bearer ${'a'.repeat(40)}`, origin: 'null' }, 403],
        ['/', { authorization: `Bearer ${'a'.repeat(40)}` }, 404],
        ['/metrics/../../etc/passwd', { authorization: `Bearer ${'a'.repeat(40)}` }, 404],
        ['/nope', { host: 'evil.example' }, 403, 'a rebinding page learns nothing, not even 404'],
      ];
      for (const [path, headers, status, why] of cases) {
        const r = await get(port, path, headers);
        assert.equal(r.status, status, `${path} ${JSON.stringify(headers)}: ${r.body} ${why ?? ''}`);
        assert.doesNotMatch(r.body, /portunix_db_up/);
      }
      const post = await get(port, '/metrics', { authorization: `Bearer ${'a'.repeat(40)}` }, 'POST');
      assert.equal(post.status, 405);
    } finally {
      await started.stop();
    }
  });

  test('a token file others can read, or a short token, is refused before listening', async () => {
    const dir = mkdtempSync(join(home, 'tt-'));
    writeFileSync(join(dir, 'open'), 'b'.repeat(40), { mode: 0o644 });
    writeFileSync(join(dir, 'short'), 'abc', { mode: 0o600 });
    await assert.rejects(prometheusService({ host: '127.0.0.1', port: 0, tokenFile: join(dir, 'open') }).start(fakeCtx()), /readable by other users/);
    await assert.rejects(prometheusService({ host: '127.0.0.1', port: 0, tokenFile: join(dir, 'short') }).start(fakeCtx()), /shorter than 16/);
    await assert.rejects(prometheusService({ host: '127.0.0.1', port: 0, tokenFile: join(dir, 'missing') }).start(fakeCtx()), /Cannot read the token file/);
  });

  test('without --token-file the monitor makes its own token (0600), not the MCP one', async () => {
    const svc = await prometheusService({ host: '127.0.0.1', port: 0 }).start(fakeCtx());
    try {
      const file = join(home, 'monitor', 'http.token');
      assert.match(svc.describe, new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      await svc.stop();
    }
  });
});

describe('dashboard HTTP', () => {
  test('shell without the token (no data in it), API with it; parameters checked; CSP on', async (t) => {
    const tokenFile = join(mkdtempSync(join(home, 'd-')), 'token');
    const token = 'c'.repeat(48);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    let h;
    try {
      h = await serveDashboard({ host: '127.0.0.1', port: 0, tokenFile });
    } catch (err) {
      if (/not built/.test((err as Error).message)) return t.skip('front end not bundled (node scripts/bundle-dashboard.mjs)');
      throw err;
    }
    const auth = { authorization: `Bearer ${token}` };
    try {
      const page = await get(h.port, '/');
      assert.equal(page.status, 200);
      assert.match(String(page.headers['content-security-policy']), /script-src 'self'/);
      assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.doesNotMatch(page.body, /<script>/, 'no inline script');
      assert.equal((await get(h.port, '/app.js')).status, 200);
      assert.equal((await get(h.port, '/api/overview')).status, 401);
      const o = await get(h.port, '/api/overview', auth);
      assert.equal(o.status, 200, o.body);
      assert.ok(Array.isArray(JSON.parse(o.body).instances));
      const s = await get(h.port, '/api/series?engine=redis&metric=connections&range=1h', auth);
      assert.equal(s.status, 200, s.body);
      for (const bad of ['/api/series?engine=redis&metric=connections&range=1y', '/api/series?engine=redis&metric=x%27%3BDROP', '/api/series?engine=redis&metric=connections&evil=1', '/api/series?engine=nope&metric=up', '/api/overview?x=1']) {
        const r = await get(h.port, bad, auth);
        assert.equal(r.status, 400, `${bad}: ${r.body}`);
        assert.doesNotMatch(r.body, /at .*\.js:\d+/, 'no stack trace');
      }
      for (const [path, headers, status] of [
        ['/', { host: 'evil.example' }, 403],
        ['/api/overview', { ...auth, host: 'attacker.test:80' }, 403],
        ['/api/overview', { ...auth, origin: 'http://attacker.test' }, 403],
        ['/app.js/../../../package.json', {}, 404],
        ['/%2e%2e/%2e%2e/package.json', {}, 404],
        ['/api/overview', { authorization: 'Bearer ' + 'd'.repeat(48) }, 401],
      ] as const) {
        const r = await get(h.port, path, headers);
        assert.equal(r.status, status, `${path} ${JSON.stringify(headers)}: ${r.body}`);
      }
      assert.equal((await get(h.port, '/api/overview', auth, 'DELETE')).status, 405);
    } finally {
      await h.close();
    }
  });
});
