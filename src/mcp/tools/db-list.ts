import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { databaseItem, pageOutput, paging, target } from '../schemas.js';
import { bytes, pageFooter, table } from '../../core/text-format.js';

export const dbList = defineTool({
  name: 'db_list',
  title: 'List databases',
  description: 'Databases (keyspaces, files) of an instance.',
  operation: 'read',
  input: { ...target, ...paging },
  output: { items: z.array(databaseItem), ...pageOutput },
  async run(args, { core }) {
    const p = await core.listDatabases(args);
    return {
      structured: p,
      text: `${table(['DATABASE', 'SIZE', 'OWNER', 'ENCODING'], p.items.map((d) => [d.name, bytes(d.sizeBytes), d.owner ?? d.path, d.encoding]))}\n${pageFooter(p, 'databases')}`,
    };
  },
});
