import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier, pageOutput, paging, target , databaseParam } from '../schemas.js';
import { bytes, pageFooter, table } from '../../core/text-format.js';

const index = z.object({
  schema: z.string().optional(),
  table: z.string(),
  name: z.string(),
  columns: z.array(z.string()),
  unique: z.boolean(),
  primary: z.boolean(),
  method: z.string().optional(),
  sizeBytes: z.number().optional(),
  scans: z.number().optional(),
  unused: z.boolean().optional().describe('Never scanned since statistics were reset, and not backing a constraint'),
  invalid: z.boolean().optional(),
  duplicateOf: z.string().optional().describe('Another index on the same table with the same columns'),
  definition: z.string().optional(),
});

export const dbIndexes = defineTool({
  name: 'db_indexes',
  title: 'Indexes',
  description: 'Indexes: columns, size, scans; unused, invalid, duplicate.',
  operation: 'read',
  input: { ...target, database: databaseParam, schema: identifier('schema').optional(), table: identifier('table').optional(), ...paging },
  output: { items: z.array(index), ...pageOutput },
  async run(args, { core }) {
    const p = await core.indexes(args);
    const flags = (i: z.infer<typeof index>) => [i.primary ? 'primary' : i.unique ? 'unique' : '', i.unused ? 'UNUSED' : '', i.invalid ? 'INVALID' : '', i.duplicateOf ? `DUPLICATE of ${i.duplicateOf}` : ''].filter(Boolean).join(' ');
    return {
      structured: p,
      text: `${table(
        ['TABLE', 'INDEX', 'COLUMNS', 'SIZE', 'SCANS', 'FLAGS'],
        p.items.map((i) => [i.schema ? `${i.schema}.${i.table}` : i.table, i.name, i.columns.join(','), bytes(i.sizeBytes), i.scans, flags(i)]),
      )}\n${pageFooter(p, 'indexes')}`,
    };
  },
});
