import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier, pageOutput, paging, target , databaseParam } from '../schemas.js';
import { pageFooter, table } from '../../core/text-format.js';

const constraint = z.object({
  schema: z.string().optional(),
  table: z.string(),
  name: z.string(),
  type: z.enum(['primary key', 'foreign key', 'unique', 'check', 'exclusion', 'not null']),
  columns: z.array(z.string()),
  references: z
    .object({ schema: z.string().optional(), table: z.string(), columns: z.array(z.string()), onDelete: z.string().optional(), onUpdate: z.string().optional() })
    .optional(),
  definition: z.string().optional(),
});

export const dbConstraints = defineTool({
  name: 'db_constraints',
  title: 'Constraints',
  description: 'Primary, foreign, unique and check constraints.',
  operation: 'read',
  input: { ...target, database: databaseParam, schema: identifier('schema').optional(), table: identifier('table').optional(), ...paging },
  output: { items: z.array(constraint), ...pageOutput },
  async run(args, { core }) {
    const p = await core.constraints(args);
    const detail = (c: z.infer<typeof constraint>) =>
      c.references
        ? `-> ${c.references.schema ? `${c.references.schema}.` : ''}${c.references.table}(${c.references.columns.join(',')})${c.references.onDelete ? ` on delete ${c.references.onDelete}` : ''}`
        : c.type === 'check'
          ? c.definition
          : '';
    return {
      structured: p,
      text: `${table(
        ['TABLE', 'CONSTRAINT', 'TYPE', 'COLUMNS', 'DETAIL'],
        p.items.map((c) => [c.schema ? `${c.schema}.${c.table}` : c.table, c.name, c.type, c.columns.join(','), detail(c)]),
      )}\n${pageFooter(p, 'constraints')}`,
    };
  },
});
