import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier, pageOutput, paging, tableItem, target } from '../schemas.js';
import { bytes, pageFooter, table } from '../../core/text-format.js';

export const dbTables = defineTool({
  name: 'db_tables',
  title: 'List tables',
  description: 'Tables, views and similar objects (collections, key types) of a database, paged; with `include_sizes` also row counts and sizes.',
  operation: 'read',
  input: {
    ...target,
    database: identifier('database'),
    schema: identifier('schema').optional().describe('Only this schema (default: all user schemas)'),
    include_sizes: z.boolean().optional().describe('Add row counts (estimated where marked) and sizes'),
    ...paging,
  },
  output: { items: z.array(tableItem), ...pageOutput },
  async run(args, { core }) {
    const { include_sizes, ...rest } = args;
    const p = await core.tables({ ...rest, includeSizes: !!include_sizes });
    const rows = p.items.map((t) => [t.schema ? `${t.schema}.${t.name}` : t.name, t.kind, t.rows === undefined ? undefined : `${t.rowsEstimated ? '~' : ''}${t.rows}`, bytes(t.sizeBytes)]);
    return {
      structured: p,
      text: `${table(include_sizes ? ['TABLE', 'KIND', 'ROWS', 'SIZE'] : ['TABLE', 'KIND'], include_sizes ? rows : rows.map((r) => r.slice(0, 2)))}\n${pageFooter(p, 'tables')}`,
    };
  },
});
