import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { databaseParam, defined, target } from '../schemas.js';
import { QUERY_LIMITS, renderQuery } from '../../core/ops/query.js';

export const dbQuery = defineTool({
  name: 'db_query',
  title: 'Read-only query',
  description: 'Run read-only SQL (or a Redis read command); rows, bytes and time are capped.',
  operation: 'read',
  input: {
    ...target,
    database: databaseParam.optional(),
    query: z.string().min(1).max(QUERY_LIMITS.textChars),
    limit: z.number().int().min(1).max(QUERY_LIMITS.rows.max).optional().describe(`Default ${QUERY_LIMITS.rows.default}`),
    timeout_ms: z.number().int().min(100).max(QUERY_LIMITS.timeoutMs.max).optional().describe(`Default ${QUERY_LIMITS.timeoutMs.default}`),
  },
  output: {
    engine: z.string(),
    instance: z.string(),
    database: z.string().optional(),
    account: z.string(),
    columns: z.array(z.string()),
    rows: z.array(z.array(z.unknown())),
    row_count: z.number().int(),
    truncated: z.boolean(),
    truncated_reason: z.enum(['rows', 'bytes']).optional(),
    command: z.string().optional(),
    read_only_note: z.string().optional(),
  },
  async run(args, { core }) {
    const r = await core.query(defined({ type: args.type, instance: args.instance, database: args.database, text: args.query, limit: args.limit, timeoutMs: args.timeout_ms, via: 'mcp' as const }));
    return { structured: r, text: renderQuery(r) };
  },
});
