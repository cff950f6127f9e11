import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { pageOutput, paging, target } from '../schemas.js';
import { pageFooter, table } from '../../core/text-format.js';

const connection = z.object({
  id: z.string(),
  client: z.string().optional(),
  user: z.string().optional(),
  database: z.string().optional(),
  state: z.string().optional(),
  queryStart: z.string().optional(),
  durationMs: z.number().optional(),
  query: z.string().optional().describe('Current or last query, cut to 200 characters'),
});

export const dbConnections = defineTool({
  name: 'db_connections',
  title: 'Active connections',
  description: 'Client connections: address, user, database, state, query.',
  operation: 'read',
  input: { ...target, ...paging },
  output: { items: z.array(connection), ...pageOutput },
  async run(args, { core }) {
    const p = await core.connections(args);
    return {
      structured: p,
      text: `${table(
        ['ID', 'USER', 'DATABASE', 'CLIENT', 'STATE', 'QUERY_START', 'QUERY'],
        p.items.map((c) => [c.id, c.user, c.database, c.client, c.state, c.queryStart, c.query]),
      )}\n${pageFooter(p, 'connections')}`,
    };
  },
});
