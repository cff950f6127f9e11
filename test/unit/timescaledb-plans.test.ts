import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env['PORTUNIX_HOME'] = mkdtempSync(join(tmpdir(), 'pdb-tsdb-'));

const { SAMPLE_HOSTS } = await import('../../src/core/install/host.js');
const { DbError } = await import('../../src/core/errors.js');
const { parseSourceId } = await import('../../src/engines/ids.js');
const { engine: timescaledb } = await import('../../src/engines/timescaledb/index.js');
const { engine: postgresql } = await import('../../src/engines/postgresql/index.js');
const { enableTimescalePreload } = await import('../../src/engines/timescaledb/instance.js');
const { compressionRatio, intervalText, jobKind } = await import('../../src/engines/timescaledb/inspect.js');
const { eligibleOlderThan, maintenanceTask } = await import('../../src/engines/timescaledb/maintenance.js');
const { restoreVersionProblem } = await import('../../src/engines/timescaledb/backup.js');
const { need } = await import('../../src/engines/need.js');
import type { InstanceContext } from '../../src/engines/contract.js';
import type { InstallPlan, PlanStep, ArtifactResolver } from '../../src/core/install/plan.js';

const noResolver: ArtifactResolver = { npmPackage: async () => { throw new Error('TimescaleDB plans never use the npm registry'); } };
const req = (version: string, source: string) => ({ engine: 'timescaledb' as const, version, source: source as never, instance: 'main', port: 5432, dataDir: '/tmp/x' });
const plan = (v: string, s: string, h: string): Promise<InstallPlan> => timescaledb.install.plan(req(v, s), SAMPLE_HOSTS[h]!, noResolver);
const commands = (p: InstallPlan) => p.steps.filter((s): s is Extract<PlanStep, { kind: 'command' }> => s.kind === 'command').map((s) => s.argv);
const writes = (p: InstallPlan) => p.steps.filter((s): s is Extract<PlanStep, { kind: 'write-file' }> => s.kind === 'write-file').map((w) => [w.path, w.content]);

test('timescaledb info: PostgreSQL family, PG 14-17, no portable source', () => {
  assert.equal(timescaledb.info.family, 'postgresql');
  assert.deepEqual(timescaledb.info.versions.map((v) => v.version), ['14', '15', '16', '17']);
  assert.deepEqual(timescaledb.info.sources, ['apt', 'dnf', 'brew']);
  for (const h of Object.values(SAMPLE_HOSTS)) assert.notEqual(timescaledb.info.defaultSource(h, '16'), 'portable');
  assert.throws(() => parseSourceId('portable', timescaledb.info.sources), (e: Error & { code?: string }) => e.code === 'UNKNOWN_SOURCE' && /apt, dnf, brew/.test(e.message));
});

test('timescaledb reuses PostgreSQL operations; its own: install, initialize, create, inspection, maintenance tasks, backups, config set', () => {
  for (const op of ['launchSpec', 'isReady', 'shutdown', 'listDatabases', 'vacuum', 'indexes', 'constraints', 'configGet', 'validateIdentifier'] as const) {
    assert.equal(timescaledb[op], postgresql[op], op);
  }
  for (const op of ['initialize', 'createDatabase', 'listTables', 'tableInfo', 'performance', 'backup', 'restore', 'fingerprint', 'verifyBackup', 'configSet'] as const) {
    assert.notEqual(timescaledb[op], postgresql[op], op);
  }
  assert.equal(typeof timescaledb.maintenanceTask, 'function');
  assert.equal(postgresql.maintenanceTask, undefined);
});

test('plain PostgreSQL has no maintenance tasks: a typed NOT_APPLICABLE that names plain vacuum', () => {
  assert.throws(() => need(postgresql, 'maintenanceTask'), (e: Error & { code?: string }) => e.code === 'NOT_APPLICABLE' && /vacuum --task.*plain `vacuum`/.test(e.message));
});

test('timescaledb pure logic: ratios, job kinds, intervals, eligible chunks, restore version check', () => {
  assert.equal(compressionRatio(1000, 250), 4);
  assert.equal(compressionRatio(1000, 0), undefined);
  assert.equal(compressionRatio(undefined, 10), undefined);
  assert.equal(jobKind('_timescaledb_functions', 'policy_compression'), 'compression');
  assert.equal(jobKind('_timescaledb_functions', 'policy_refresh_continuous_aggregate'), 'refresh');
  assert.equal(jobKind('_timescaledb_internal', 'policy_retention'), 'retention');
  assert.equal(jobKind('public', 'policy_retention'), 'custom', 'a user procedure of the same name is not a policy');
  assert.equal(intervalText({ days: 1 }), '1 days');
  assert.equal(intervalText({ toPostgres: () => '3 days' }), '3 days');
  assert.equal(intervalText('7 days'), '7 days');
  assert.equal(intervalText(null), undefined);
  assert.deepEqual(eligibleOlderThan('3 days', 'timestamp with time zone'), { sql: '$2::interval', param: '3 days' });
  assert.deepEqual(eligibleOlderThan(1000, 'bigint'), { sql: '$2::bigint', param: '1000' });
  assert.deepEqual(eligibleOlderThan(undefined, 'date'), { sql: 'now()' });
  assert.equal(eligibleOlderThan(undefined, 'integer'), undefined);
  // a value from a job's config is a bound parameter, never spliced into SQL
  assert.deepEqual(eligibleOlderThan("1 day'); DROP TABLE x; --", 'timestamptz'), { sql: '$2::interval', param: "1 day'); DROP TABLE x; --" });
  assert.equal(restoreVersionProblem(undefined, []), undefined);
  assert.equal(restoreVersionProblem('2.23.0', ['2.22.1', '2.23.0']), undefined);
  assert.match(restoreVersionProblem('2.23.0', ['2.24.0'])!, /taken with TimescaleDB 2\.23\.0; this server can install only 2\.24\.0/);
  assert.match(restoreVersionProblem('2.23.0', [])!, /no timescaledb extension installed/);
});

test('timescaledb maintenance tasks: unknown task and mismatched options are USAGE errors before any connection', async () => {
  const ctx = { engine: 'timescaledb', name: 'main' } as unknown as InstanceContext;
  await assert.rejects(maintenanceTask(ctx, { database: 'm', task: 'drop_chunks' }), (e: Error & { code?: string }) => e.code === 'USAGE' && /Tasks: compress .*run-job/.test((e as { hint?: string }).hint ?? ''));
  await assert.rejects(maintenanceTask(ctx, { database: 'm', task: '__proto__' }), (e: Error & { code?: string }) => e.code === 'USAGE');
  await assert.rejects(maintenanceTask(ctx, { database: 'm', task: 'compress', job: 3 }), (e: Error & { code?: string }) => e.code === 'USAGE' && /--job goes with --task run-job/.test(e.message));
  await assert.rejects(maintenanceTask(ctx, { database: 'm', task: 'run-job', table: 't' }), (e: Error & { code?: string }) => e.code === 'USAGE');
});

test('apt: the PostgreSQL plan, then the packagecloud repository with signed-by, then timescaledb-2-postgresql-N', async () => {
  for (const [h, flavour, codename] of [['debian-12', 'debian', 'bookworm'], ['ubuntu-24.04', 'ubuntu', 'noble']] as const) {
    for (const v of ['14', '15', '16', '17']) {
      const p = await plan(v, 'apt', h);
      const pg = await postgresql.install.plan({ ...req(v, 'apt'), engine: 'postgresql' }, SAMPLE_HOSTS[h]!, noResolver);
      assert.equal(p.engine, 'timescaledb');
      assert.deepEqual(p.steps.slice(0, pg.steps.length), pg.steps, 'starts with the PostgreSQL plan');
      assert.equal(p.binDir, pg.binDir);
      assert.deepEqual(writes(p).at(-1), ['/etc/apt/sources.list.d/timescaledb.list', `deb [signed-by=/usr/share/keyrings/timescaledb.asc] https://packagecloud.io/timescale/timescaledb/${flavour}/ ${codename} main\n`]);
      assert.ok(commands(p).some((a) => a.join(' ') === 'curl -fsSL -o /usr/share/keyrings/timescaledb.asc https://packagecloud.io/timescale/timescaledb/gpgkey'));
      assert.deepEqual(commands(p).at(-1), ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', `timescaledb-2-postgresql-${v}`]);
      assert.ok(p.notes.some((n) => /shared_preload_libraries = 'timescaledb'/.test(n)));
    }
  }
});

test('dnf: PGDG PostgreSQL plus the Timescale EL repository', async () => {
  const p = await plan('16', 'dnf', 'rhel-9');
  assert.deepEqual(commands(p)[0]!.slice(0, 3), ['dnf', 'install', '-y']);
  assert.ok(commands(p).some((a) => a.includes('postgresql16-server')));
  const repo = writes(p).at(-1)!;
  assert.equal(repo[0], '/etc/yum.repos.d/timescale_timescaledb.repo');
  assert.match(repo[1]!, /^\[timescale_timescaledb\]\n/);
  assert.match(repo[1]!, /\nbaseurl=https:\/\/packagecloud\.io\/timescale\/timescaledb\/el\/9\/\$basearch\n/);
  assert.match(repo[1]!, /\nrepo_gpgcheck=1\n/);
  assert.deepEqual(commands(p).at(-1), ['dnf', 'install', '-y', 'timescaledb-2-postgresql-16']);
  const f = await plan('15', 'dnf', 'fedora-40');
  assert.match(writes(f).at(-1)![1]!, /\/el\/9\/\$basearch/);
  assert.ok(f.notes.some((n) => /Fedora/.test(n)));
});

test('brew: postgresql@N, the Timescale tap, timescaledb_move.sh', async () => {
  const p = await plan('17', 'brew', 'macos-arm64');
  assert.deepEqual(commands(p), [['brew', 'install', 'postgresql@17'], ['brew', 'tap', 'timescale/tap'], ['brew', 'install', 'timescale/tap/timescaledb'], ['/opt/homebrew/bin/timescaledb_move.sh']]);
});

test('wrong source for the host, Windows, and portable are clear DbErrors', async () => {
  const cases: [string, string, string][] = [];
  for (const h of Object.keys(SAMPLE_HOSTS)) for (const s of ['apt', 'dnf', 'brew', 'portable']) cases.push(['16', s, h]);
  const ok = new Set(['apt:debian-12', 'apt:ubuntu-24.04', 'dnf:fedora-40', 'dnf:rhel-9', 'brew:macos-arm64']);
  for (const [v, s, h] of cases) {
    if (ok.has(`${s}:${h}`)) continue;
    await assert.rejects(plan(v, s, h), (e: unknown) => e instanceof DbError && !!e.hint && (s === 'portable' ? e.code === 'UNKNOWN_SOURCE' : e.code === 'UNSUPPORTED_PLATFORM'), `${s} on ${h}`);
  }
  await assert.rejects(plan('16', timescaledb.info.defaultSource(SAMPLE_HOSTS['windows-x64']!, '16'), 'windows-x64'), /Windows/);
});

test('enableTimescalePreload rewrites the preload line of portunix.conf and turns telemetry off', () => {
  const conf = "port = 5432\nshared_preload_libraries = ''\n";
  assert.equal(enableTimescalePreload(conf), "port = 5432\nshared_preload_libraries = 'timescaledb'\ntimescaledb.telemetry_level = 'off'\n");
  assert.equal(enableTimescalePreload("shared_preload_libraries = 'pg_stat_statements'\n"), "shared_preload_libraries = 'timescaledb,pg_stat_statements'\ntimescaledb.telemetry_level = 'off'\n");
  assert.equal(enableTimescalePreload(enableTimescalePreload(conf)), enableTimescalePreload(conf), 'idempotent');
  assert.match(enableTimescalePreload('port = 1\n'), /shared_preload_libraries = 'timescaledb'/);
});

test('vacuum --task/--job: a job id that is not a positive integer, or --job without --task, is refused before anything runs', async () => {
  const { vacuum } = await import('../../src/core/ops/maintenance.js');
  for (const job of [-1, 0, 1.5, Number.NaN, 2 ** 60]) {
    await assert.rejects(vacuum({ type: 'timescaledb', database: 'm', task: 'run-job', job }), (e: Error & { code?: string }) => e.code === 'USAGE' && /not a positive integer/.test(e.message), String(job));
  }
  await assert.rejects(vacuum({ type: 'timescaledb', database: 'm', job: 1000 }), (e: Error & { code?: string }) => e.code === 'USAGE' && /--job goes with --task run-job/.test(e.message));
});
