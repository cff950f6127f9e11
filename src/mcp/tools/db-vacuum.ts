import { z } from 'zod';
import { defineTool, reporter } from '../tool-base.js';
import { identifier, target , databaseParam } from '../schemas.js';

export const dbVacuum = defineTool({
  name: 'db_vacuum',
  title: 'Maintenance (VACUUM / OPTIMIZE)',
  description:
    "Runs the engine's maintenance on a database or one table (PostgreSQL VACUUM, MySQL OPTIMIZE, SQLite VACUUM...), or with `task` an engine's own maintenance task (TimescaleDB: compress chunks, run a job now). `full` rewrites tables and locks them meanwhile. Only listed when the server runs with --allow-write.",
  operation: 'write',
  input: {
    ...target,
    database: databaseParam,
    table: identifier('table').optional(),
    full: z.boolean().optional().describe('Rewrite tables to return space to the OS (locks them)'),
    analyze: z.boolean().optional().describe('Also refresh planner statistics'),
    task: z.string().regex(/^[a-z][a-z-]{0,31}$/).optional().describe("An engine's own maintenance task instead of vacuum: TimescaleDB 'compress' (eligible chunks, optionally of `table`) or 'run-job' (with `job`)"),
    job: z.number().int().positive().optional().describe("With task 'run-job': the job id (db_performance details.jobs)"),
  },
  output: { database: z.string(), actions: z.array(z.string()), details: z.record(z.string(), z.unknown()).optional() },
  async run(args, ctx) {
    const r = await ctx.core.vacuum({ ...args, via: 'mcp', progress: reporter(ctx, 'db_vacuum') });
    return {
      structured: r,
      text: [`Maintenance done on ${r.database}${args.table ? `.${args.table}` : ''}:`, ...r.actions.map((a) => `- ${a}`)].join('\n'),
    };
  },
});
