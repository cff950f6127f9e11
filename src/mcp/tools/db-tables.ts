import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier, pageOutput, paging, tableItem, target , databaseParam } from '../schemas.js';
import { bytes, pageFooter, table, detailsText } from '../../core/text-format.js';

export const dbTables = defineTool({
  name: 'db_tables',
  title: 'List tables',
  description: 'Tables, views, collections or key types of a database.',
  operation: 'read',
  input: {
    ...target,
    database: databaseParam,
    schema: identifier('schema').optional(),
    include_sizes: z.boolean().optional().describe('Add rows and sizes'),
    ...paging,
  },
  output: { items: z.array(tableItem), ...pageOutput },
  async run(args, { core }) {
    const { include_sizes, ...rest } = args;
    const p = await core.tables({ ...rest, includeSizes: !!include_sizes });
    const withDetails = p.items.some((t) => t.details);
    const rows = p.items.map((t) => [t.schema ? `${t.schema}.${t.name}` : t.name, t.kind, ...(include_sizes ? [t.rows === undefined ? undefined : `${t.rowsEstimated ? '~' : ''}${t.rows}`, bytes(t.sizeBytes)] : []), ...(withDetails ? [detailsText(t.details, 160)] : [])]);
    const headers = ['TABLE', 'KIND', ...(include_sizes ? ['ROWS', 'SIZE'] : []), ...(withDetails ? ['DETAILS'] : [])];
    return {
      structured: p,
      text: `${table(headers, rows)}\n${pageFooter(p, 'tables')}`,
    };
  },
});
