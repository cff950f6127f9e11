import type pg from 'pg';
import type { InstanceContext, VacuumOutcome } from '../contract.js';
import { quoteIdent, validatePgIdentifier, withClient } from './client.js';
import { resolveTable } from './inspect.js';

/** The VACUUM statement; identifiers arrive quoted. Pure, for tests. */
export function vacuumSql(options: { full: boolean; analyze: boolean; target?: string }): string {
  const flags = [...(options.full ? ['FULL'] : []), ...(options.analyze ? ['ANALYZE'] : [])];
  return `VACUUM${flags.length ? ` (${flags.join(', ')})` : ''}${options.target ? ` ${options.target}` : ''}`;
}

async function snapshot(c: pg.Client, tableOid: number | null): Promise<{ deadTuples: number; liveTuples: number; sizeBytes: number }> {
  await c.query('SELECT pg_stat_clear_snapshot()');
  const r = await c.query<{ dead: string | null; live: string | null; size: string | null }>(
    `SELECT sum(n_dead_tup) AS dead, sum(n_live_tup) AS live,
            CASE WHEN $1::oid IS NULL THEN pg_database_size(current_database()) ELSE pg_total_relation_size($1::oid) END AS size
       FROM pg_stat_user_tables WHERE ($1::oid IS NULL OR relid = $1::oid)`,
    [tableOid],
  );
  const row = r.rows[0];
  return { deadTuples: Number(row?.dead ?? 0), liveTuples: Number(row?.live ?? 0), sizeBytes: Number(row?.size ?? 0) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function vacuum(ctx: InstanceContext, options: { database: string; table?: string; full: boolean; analyze: boolean }): Promise<VacuumOutcome> {
  validatePgIdentifier('database', options.database);
  if (options.table !== undefined) validatePgIdentifier('table', options.table);
  return withClient(ctx, options.database, async (c) => {
    const table = options.table ? await resolveTable(ctx, c, options.database, options.table) : undefined;
    const target = table ? `${quoteIdent(table.schema)}.${quoteIdent(table.name)}` : undefined;
    const before = await snapshot(c, table?.oid ?? null);
    const sql = vacuumSql({ full: options.full, analyze: options.analyze, ...(target ? { target } : {}) });
    ctx.progress(`${sql} in ${options.database}`);
    // VACUUM of a large database may legitimately take longer than the default statement timeout
    await c.query('SET statement_timeout = 0');
    const startedAt = Date.now();
    await c.query(sql);
    const tookMs = Date.now() - startedAt;
    // statistics are flushed asynchronously on older servers; wait briefly for the counters to move
    let after = await snapshot(c, table?.oid ?? null);
    for (let i = 0; i < 10 && before.deadTuples > 0 && after.deadTuples === before.deadTuples; i++) {
      await sleep(200);
      after = await snapshot(c, table?.oid ?? null);
    }
    return {
      actions: [`${sql} on database ${options.database}`],
      details: {
        database: options.database,
        ...(table ? { table: `${table.schema}.${table.name}` } : {}),
        full: options.full,
        analyze: options.analyze,
        dead_tuples_before: before.deadTuples,
        dead_tuples_after: after.deadTuples,
        size_bytes_before: before.sizeBytes,
        size_bytes_after: after.sizeBytes,
        duration_ms: tookMs,
      },
    };
  });
}
