import { z } from 'zod';
import { page } from '../../core/paging.js';
import { defineTool } from '../tool-base.js';
import { engineParam, instanceParam, pageOutput, paging } from '../schemas.js';
import { bytes, pageFooter, table, type Cell } from '../format.js';
import { asRecords, pick } from './shape.js';

export const dbBackupStatus = defineTool({
  name: 'db_backup_status',
  title: 'Backup status',
  description: 'The last backup of each database and its result, from the backup manifests. Without `type`, every instance.',
  operation: 'read',
  input: { type: engineParam.optional(), instance: instanceParam, ...paging },
  output: { items: z.array(z.record(z.string(), z.unknown())), ...pageOutput },
  async run(args, { core }) {
    const all = asRecords(await core.backupStatus({ ...(args.type ? { type: args.type } : {}), ...(args.instance ? { instance: args.instance } : {}) }));
    const p = page(all, args);
    const rows: Cell[][] = p.items.map((e) => [
      [pick(e, 'engine'), pick(e, 'instance')].filter(Boolean).join('/') || undefined,
      pick(e, 'database'),
      pick(e, 'last_backup_at', 'created_at', 'at', 'finished_at', 'time'),
      pick(e, 'result', 'status', 'ok'),
      bytes(pick(e, 'size_bytes', 'sizeBytes', 'bytes') as number | undefined),
      pick(e, 'file', 'last_file'),
    ]);
    return {
      structured: p,
      text: p.total === 0 ? 'No backups yet. Create one with db_backup_create (server started with --allow-write) or `portunix-db backup <db> --type <engine>`.' : `${table(['INSTANCE', 'DATABASE', 'LAST_BACKUP', 'RESULT', 'SIZE', 'FILE'], rows)}\n${pageFooter(p, 'databases')}`,
    };
  },
});
