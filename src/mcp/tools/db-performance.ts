import { z } from 'zod';
import { DbError } from '../../core/errors.js';
import { clip } from '../../core/paging.js';
import { defineTool } from '../tool-base.js';
import { target , databaseParam } from '../schemas.js';
import { bytes, pairs, table, detailsText } from '../../core/text-format.js';

const num = z.number();

export const dbPerformance = defineTool({
  name: 'db_performance',
  title: 'Performance metrics',
  description: 'Gauges, rates since the last call, slowest statements, bloat, unused indexes.',
  operation: 'read',
  input: {
    ...target,
    database: databaseParam.optional(),
    top: z.number().int().min(1).max(100).optional().describe('Per list, default 10'),
    enable_statements: z.boolean().optional().describe('Turn on statement statistics (a write)'),
    window: z.string().regex(/^\d{1,4}[mhd]$/).optional().describe('Trend over 15m|1h|24h|7d: min/max/avg/last'),
  },
  output: {
    counters: z.record(z.string(), num).describe('Cumulative since server start'),
    gauges: z.record(z.string(), z.union([num, z.string(), z.null()])),
    rates: z.record(z.string(), num).optional().describe('Per second, since the previous sample'),
    sample_interval_seconds: num.optional(),
    slowQueries: z.array(z.object({ query: z.string(), calls: num.optional(), totalMs: num.optional(), meanMs: num.optional(), rows: num.optional() })).optional(),
    slowQueriesNote: z.string().optional(),
    bloat: z.array(z.object({ schema: z.string().optional(), table: z.string(), deadTuples: num.optional(), wastedBytes: num.optional(), ratio: num.optional() })).optional(),
    unusedIndexes: z.array(z.object({ schema: z.string().optional(), table: z.string(), index: z.string(), sizeBytes: num.optional() })).optional(),
    notes: z.array(z.string()).optional(),
    details: z.record(z.string(), z.unknown()).optional().describe('Engine-specific sections (TimescaleDB: background jobs, their last run and failures)'),
    statements: z.object({ changed: z.boolean(), restartRequired: z.boolean(), message: z.string() }).optional().describe('Outcome of enable_statements'),
    trend: z.object({ window: z.string(), from: z.string(), metrics: z.record(z.string(), z.object({ min: num, max: num, avg: num, last: num, samples: num })), note: z.string().optional() }).optional(),
  },
  changesConfig: (args) => args.enable_statements === true,
  async run(args, { core, allowed }) {
    const { top = 10, enable_statements, window, ...rest } = args;
    let statements: { changed: boolean; restartRequired: boolean; message: string } | undefined;
    if (enable_statements) {
      if (!allowed.has('write')) throw new DbError('Turning on statement statistics changes the server configuration, and this MCP server is read-only.', 'FORBIDDEN', 'Restart it with `portunix-db mcp serve --allow-write`, or call db_performance without enable_statements.');
      statements = await core.enableStatements(rest);
    }
    const r = await core.performance(rest);
    const trend = window ? await core.trend({ type: rest.type, ...(rest.instance ? { instance: rest.instance } : {}), window }) : undefined;
    const structured = {
      ...r,
      ...(r.slowQueries ? { slowQueries: r.slowQueries.slice(0, top).map((q) => ({ ...q, query: clip(q.query) ?? '' })) } : {}),
      ...(r.bloat ? { bloat: r.bloat.slice(0, top) } : {}),
      ...(r.unusedIndexes ? { unusedIndexes: r.unusedIndexes.slice(0, top) } : {}),
      ...(statements ? { statements } : {}),
      ...(trend ? { trend } : {}),
    };
    const lines = [`gauges: ${pairs(structured.gauges)}`];
    if (structured.rates) lines.push(`rates/s (over ${structured.sample_interval_seconds}s): ${pairs(structured.rates) || '-'}`);
    if (statements) lines.push(`statements: ${statements.message}`);
    if (trend) {
      const rows = Object.entries(trend.metrics);
      lines.push(rows.length ? `trend over ${trend.window} (min/avg/max/last):\n${table(['METRIC', 'MIN', 'AVG', 'MAX', 'LAST', 'N'], rows.map(([k, v]) => [k, v.min, v.avg, v.max, v.last, v.samples]))}` : `trend over ${trend.window}: ${trend.note ?? 'no samples'}`);
    }
    if (structured.slowQueries?.length) lines.push('', 'slowest statements:', table(['MEAN_MS', 'CALLS', 'TOTAL_MS', 'QUERY'], structured.slowQueries.map((q) => [q.meanMs, q.calls, q.totalMs, q.query])));
    else if (structured.slowQueriesNote) lines.push(`slowest statements: ${structured.slowQueriesNote}`);
    if (structured.bloat?.length) lines.push('', 'bloat:', table(['TABLE', 'DEAD_TUPLES', 'WASTED', 'RATIO'], structured.bloat.map((b) => [b.schema ? `${b.schema}.${b.table}` : b.table, b.deadTuples, bytes(b.wastedBytes), b.ratio])));
    if (structured.unusedIndexes?.length) lines.push('', 'unused indexes:', table(['TABLE', 'INDEX', 'SIZE'], structured.unusedIndexes.map((u) => [u.schema ? `${u.schema}.${u.table}` : u.table, u.index, bytes(u.sizeBytes)])));
    if (structured.details) lines.push(`details: ${detailsText(structured.details, 2000)}`);
    for (const n of structured.notes ?? []) lines.push(`note: ${n}`);
    return { structured, text: lines.join('\n') };
  },
});
