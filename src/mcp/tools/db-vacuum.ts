import { z } from 'zod';
import { defineTool, reporter } from '../tool-base.js';
import { identifier, target , databaseParam } from '../schemas.js';

export const dbVacuum = defineTool({
  name: 'db_vacuum',
  title: 'Maintenance',
  description: 'VACUUM / OPTIMIZE a database or table, or run an engine `task`.',
  operation: 'write',
  input: {
    ...target,
    database: databaseParam,
    table: identifier('table').optional(),
    full: z.boolean().optional().describe('Rewrite (locks tables)'),
    analyze: z.boolean().optional(),
    task: z.string().regex(/^[a-z][a-z-]{0,31}$/).optional().describe('TimescaleDB: compress, run-job'),
    job: z.number().int().positive().optional().describe('For run-job'),
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
