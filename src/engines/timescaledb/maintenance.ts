/**
 * TimescaleDB's maintenance tasks (`portunix-db vacuum <db> --type timescaledb --task ...`,
 * MCP db_vacuum with `task`): compress the chunks that are eligible, and run a background job
 * now. Plain `vacuum` stays PostgreSQL's VACUUM.
 */
import type pg from 'pg';
import type { InstanceContext, VacuumOutcome } from '../contract.js';
import { DbError, UsageError } from '../../core/errors.js';
import { resolveTable } from '../postgresql/inspect.js';
import { quoteIdent, withClient } from '../postgresql/client.js';
import { extensionVersion, intervalText, listJobs, ts } from './inspect.js';

export const TASKS: Record<string, string> = {
  compress: 'compress the chunks that are eligible: older than the compression policy\'s compress_after, or, without a policy, every chunk whose time range has ended (all hypertables with compression enabled, or --table)',
  'run-job': 'run one background job (policy or custom action) now, in this session: --job ID',
};

async function requireExtension(ctx: InstanceContext, c: pg.Client, database: string): Promise<void> {
  if (!(await extensionVersion(c))) {
    throw new DbError(`The timescaledb extension is not created in database "${database}".`, 'NOT_APPLICABLE', `Create it with CREATE EXTENSION timescaledb, or use plain \`portunix-db vacuum ${database} --type ${ctx.engine}\`.`);
  }
}

/**
 * The older_than argument for show_chunks: the policy's compress_after when there is one;
 * otherwise now() for time dimensions (chunks whose range has ended); integer dimensions
 * without a policy have no notion of "ended", so none of their chunks is eligible. Pure, for tests.
 */
export function eligibleOlderThan(policyCompressAfter: unknown, dimensionType: string): { sql: string; param?: string } | undefined {
  if (policyCompressAfter !== undefined && policyCompressAfter !== null) {
    const v = String(policyCompressAfter);
    return /^-?\d+$/.test(v) ? { sql: '$2::bigint', param: v } : { sql: '$2::interval', param: v };
  }
  return /timestamp|date/.test(dimensionType) ? { sql: 'now()' } : undefined;
}

async function compress(ctx: InstanceContext, c: pg.Client, database: string, table?: string): Promise<VacuumOutcome> {
  let targets: { schema: string; name: string }[];
  if (table) {
    const t = await resolveTable(ctx, c, database, table);
    const h = await c.query<{ compression_enabled: boolean }>(`SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_schema = $1 AND hypertable_name = $2`, [t.schema, t.name]);
    if (!h.rows[0]) throw new DbError(`"${t.schema}.${t.name}" is not a hypertable; only hypertable chunks are compressed.`, 'NOT_APPLICABLE', `List hypertables with \`portunix-db tables ${database} --type ${ctx.engine}\` (kind "hypertable").`);
    if (!h.rows[0].compression_enabled) throw new DbError(`Compression is not enabled on hypertable "${t.schema}.${t.name}".`, 'NOT_APPLICABLE', `Enable it first: ALTER TABLE ${quoteIdent(t.schema)}.${quoteIdent(t.name)} SET (timescaledb.compress, timescaledb.compress_orderby = '<time column> DESC');`);
    targets = [{ schema: t.schema, name: t.name }];
  } else {
    const r = await c.query<{ schema: string; name: string }>(`SELECT hypertable_schema AS schema, hypertable_name AS name FROM timescaledb_information.hypertables WHERE compression_enabled ORDER BY 1, 2`);
    targets = r.rows;
    if (!targets.length) return { actions: ['no hypertable has compression enabled; nothing to compress'], details: { compressed: [] } };
  }
  const actions: string[] = [];
  const compressed: { hypertable: string; chunks: string[]; rule: string }[] = [];
  for (const t of targets) {
    const rel = `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
    const policy = (await listJobs(c, t)).find((j) => j.kind === 'compression');
    const after = (policy?.config as Record<string, unknown> | undefined)?.['compress_after'];
    const dim = await c.query<{ column_type: string }>(`SELECT column_type FROM timescaledb_information.dimensions WHERE hypertable_schema = $1 AND hypertable_name = $2 ORDER BY dimension_number LIMIT 1`, [t.schema, t.name]);
    const older = eligibleOlderThan(after, dim.rows[0]?.column_type ?? '');
    if (!older) {
      actions.push(`${t.schema}.${t.name}: integer time dimension without a compression policy; no chunk is eligible (add one with add_compression_policy)`);
      continue;
    }
    const rule = after !== undefined ? `older than the policy's compress_after (${intervalText(after)})` : 'time range ended';
    const r = await c.query<{ chunk: string }>(
      `SELECT ${await ts(c)}.compress_chunk(ch, if_not_compressed => true)::text AS chunk
         FROM ${await ts(c)}.show_chunks($1::regclass, older_than => ${older.sql}) ch
        WHERE NOT EXISTS (SELECT 1 FROM timescaledb_information.chunks k WHERE format('%I.%I', k.chunk_schema, k.chunk_name)::regclass = ch AND k.is_compressed)`,
      older.param !== undefined ? [rel, older.param] : [rel],
    );
    const chunks = r.rows.map((x) => x.chunk);
    compressed.push({ hypertable: `${t.schema}.${t.name}`, chunks, rule });
    actions.push(`${t.schema}.${t.name}: compressed ${chunks.length} chunk(s) (${rule})`);
  }
  return { actions, details: { compressed } };
}

async function runJob(ctx: InstanceContext, c: pg.Client, database: string, job: number | undefined): Promise<VacuumOutcome> {
  if (job === undefined) throw new UsageError('--task run-job needs --job ID.', 'USAGE', `List the jobs with \`portunix-db metrics ${ctx.engine} --database ${database} --json\` (details.jobs).`);
  const found = (await listJobs(c)).find((j) => j.job_id === job);
  if (!found) throw new DbError(`TimescaleDB has no job ${job} in database "${database}".`, 'NOT_FOUND', `List the jobs with \`portunix-db metrics ${ctx.engine} --database ${database} --json\` (details.jobs).`);
  try {
    await c.query(`CALL ${await ts(c)}.run_job($1)`, [job]);
  } catch (err) {
    throw new DbError(`Job ${job} (${found.kind}${found.hypertable ? ` on ${found.hypertable}` : ''}) failed: ${(err as Error).message}`, 'COMMAND_FAILED', 'Fix the cause (see the message), then run it again; its failures also show in `metrics` (details.job_failures).');
  }
  const after = (await listJobs(c)).find((j) => j.job_id === job);
  return { actions: [`ran job ${job} (${found.kind}${found.hypertable ? ` on ${found.hypertable}` : ''}) now: ${found.proc}`], details: { job: after ?? found } };
}

export async function maintenanceTask(ctx: InstanceContext, options: { database: string; task: string; table?: string; job?: number }): Promise<VacuumOutcome> {
  if (!Object.hasOwn(TASKS, options.task)) {
    throw new UsageError(`TimescaleDB has no maintenance task "${options.task}".`, 'USAGE', `Tasks: ${Object.entries(TASKS).map(([k, v]) => `${k} (${v})`).join('; ')}. Without --task, vacuum runs VACUUM.`);
  }
  if (options.task !== 'run-job' && options.job !== undefined) throw new UsageError('--job goes with --task run-job.', 'USAGE');
  if (options.task === 'run-job' && options.table) throw new UsageError('--task run-job takes --job, not --table.', 'USAGE');
  return withClient(ctx, options.database, async (c) => {
    await requireExtension(ctx, c, options.database);
    return options.task === 'compress' ? compress(ctx, c, options.database, options.table) : runJob(ctx, c, options.database, options.job);
  });
}
