import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier, pageOutput, paging, target , databaseParam } from '../schemas.js';
import { pageFooter, table } from '../../core/text-format.js';

export const dbSchema = defineTool({
  name: 'db_schema',
  title: 'Schema overview',
  description: 'Schemas with table and view counts, and the objects of a database.',
  operation: 'read',
  input: { ...target, database: databaseParam, schema: identifier('schema').optional(), ...paging },
  output: {
    database: z.string(),
    schemas: z.array(z.object({ name: z.string(), tables: z.number(), views: z.number(), owner: z.string().optional() })),
    objects: z.object({
      items: z.array(z.object({ schema: z.string().optional(), name: z.string(), kind: z.string(), columns: z.number().optional() })),
      ...pageOutput,
    }),
    notes: z.array(z.string()).optional().describe('How the answer was found when it is not exact (document stores: fields from a bounded sample)'),
  },
  async run(args, { core }) {
    const s = await core.schema(args);
    const schemas = s.schemas.length > 200 ? s.schemas.slice(0, 200) : s.schemas;
    return {
      structured: { ...s, schemas },
      text: [
        `database ${s.database}`,
        table(['SCHEMA', 'TABLES', 'VIEWS', 'OWNER'], schemas.map((x) => [x.name, x.tables, x.views, x.owner])),
        '',
        table(['OBJECT', 'KIND', 'COLUMNS'], s.objects.items.map((o) => [o.schema ? `${o.schema}.${o.name}` : o.name, o.kind, o.columns])),
        pageFooter(s.objects, 'objects'),
        ...(s.notes?.length ? ['', ...s.notes.map((n) => `note: ${n}`)] : []),
      ].join('\n'),
    };
  },
});
