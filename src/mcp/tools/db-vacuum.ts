import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier, target } from '../schemas.js';
import { isRecord } from './shape.js';

export const dbVacuum = defineTool({
  name: 'db_vacuum',
  title: 'Maintenance (VACUUM / OPTIMIZE)',
  description:
    'Runs the engine\'s maintenance on a database or one table (PostgreSQL VACUUM, MySQL OPTIMIZE, SQLite VACUUM...). `full` rewrites tables and locks them meanwhile. Only listed when the server runs with --allow-write.',
  operation: 'write',
  auditAction: 'vacuum',
  input: {
    ...target,
    database: identifier('database'),
    table: identifier('table').optional(),
    full: z.boolean().optional().describe('Rewrite tables to return space to the OS (locks them)'),
    analyze: z.boolean().optional().describe('Also refresh planner statistics'),
  },
  output: { actions: z.array(z.string()), details: z.record(z.string(), z.unknown()).optional(), message: z.string().optional() },
  async run(args, { core }) {
    const r = await core.vacuum({ ...args, via: 'mcp' });
    const rec = isRecord(r) ? r : {};
    const actions = Array.isArray(rec['actions']) ? (rec['actions'] as unknown[]).map(String) : [];
    const details = isRecord(rec['details']) ? rec['details'] : undefined;
    const message = typeof rec['message'] === 'string' ? rec['message'] : undefined;
    return {
      structured: { actions, ...(details ? { details } : {}), ...(message ? { message } : {}) },
      text: [message ?? `Maintenance done on ${args.database}${args.table ? `.${args.table}` : ''}.`, ...actions.map((a) => `- ${a}`)].join('\n'),
    };
  },
});
