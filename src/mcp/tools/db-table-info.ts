import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier, target , databaseParam } from '../schemas.js';
import { bytes, pairs, table, detailsText } from '../../core/text-format.js';

const MAX_COLUMNS = 500;

export const dbTableInfo = defineTool({
  name: 'db_table_info',
  title: 'Table structure',
  description: 'Columns, primary key, rows and size of one table.',
  operation: 'read',
  input: { ...target, database: databaseParam, schema: identifier('schema').optional(), table: identifier('table') },
  output: {
    schema: z.string().optional(),
    name: z.string(),
    kind: z.string(),
    columns: z.array(z.object({ name: z.string(), type: z.string(), nullable: z.boolean(), default: z.string().nullish(), comment: z.string().nullish() })),
    columns_truncated: z.boolean().optional(),
    primaryKey: z.array(z.string()).optional(),
    rows: z.number().optional(),
    rowsEstimated: z.boolean().optional(),
    sizeBytes: z.number().optional(),
    comment: z.string().nullish(),
    details: z.record(z.string(), z.unknown()).optional().describe('Engine-specific facts (validator, sample size, hypertable dimensions, compression, policies)'),
    notes: z.array(z.string()).optional(),
  },
  async run(args, { core }) {
    const t = await core.tableInfo(args);
    const columns = t.columns.slice(0, MAX_COLUMNS);
    const structured = { ...t, columns, ...(t.columns.length > MAX_COLUMNS ? { columns_truncated: true } : {}) };
    const head = `${t.schema ? `${t.schema}.` : ''}${t.name} (${t.kind}) ${pairs({
      rows: t.rows === undefined ? undefined : `${t.rowsEstimated ? '~' : ''}${t.rows}`,
      size: bytes(t.sizeBytes),
      'primary key': t.primaryKey?.join(', '),
      comment: t.comment,
    })}`;
    return {
      structured,
      text: `${head}${t.details ? `\ndetails: ${detailsText(t.details, 2000)}` : ''}\n${table(['COLUMN', 'TYPE', 'NULL', 'DEFAULT', 'COMMENT'], columns.map((c) => [c.name, c.type, c.nullable ? 'yes' : 'no', c.default, c.comment]))}${t.columns.length > MAX_COLUMNS ? `\n(first ${MAX_COLUMNS} of ${t.columns.length} columns)` : ''}${t.notes?.length ? `\n${t.notes.map((n) => `note: ${n}`).join('\n')}` : ''}`,
    };
  },
});
