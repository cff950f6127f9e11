import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { databaseItem, pageOutput, paging, target , databaseParam } from '../schemas.js';
import { bytes, pageFooter, table } from '../../core/text-format.js';

export const dbSize = defineTool({
  name: 'db_size',
  title: 'Database sizes',
  description: 'Size on disk per database, largest first, and the total.',
  operation: 'read',
  input: { ...target, database: databaseParam.optional(), ...paging },
  output: { items: z.array(databaseItem), ...pageOutput, total_bytes: z.number().describe('Sum over all databases, not only this page') },
  async run(args, { core }) {
    const p = await core.sizes(args);
    return {
      structured: p,
      text: `${table(['DATABASE', 'SIZE', 'BYTES'], p.items.map((d) => [d.name, bytes(d.sizeBytes), d.sizeBytes]))}\ntotal: ${bytes(p.total_bytes)}; ${pageFooter(p, 'databases')}`,
    };
  },
});
