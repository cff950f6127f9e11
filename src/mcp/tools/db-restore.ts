import { z } from 'zod';
import { defineTool, reporter } from '../tool-base.js';
import { identifier, instanceParam } from '../schemas.js';

export const dbRestore = defineTool({
  name: 'db_restore',
  title: 'Restore a backup',
  description:
    'Restores a backup file (see db_backup_status) into its database, or into `target`. The file is checked against its manifest first. Replaces existing data, so it needs `confirm: true`: ask the user first. Only listed when the server runs with --allow-write.',
  operation: 'destructive',
  input: {
    file: z.string().min(1).max(4096).describe('Backup file path, as shown by db_backup_status'),
    target: identifier('target database').optional().describe('Restore into this database instead of the original'),
    instance: instanceParam.describe('Restore into this instance of the same engine (default: the one the backup came from)'),
    as_instance: z.string().min(1).max(64).optional().describe('Whole-instance snapshot: restore as this new instance beside the original'),
    jobs: z.number().int().min(1).max(64).optional().describe('Parallel workers (PostgreSQL)'),
  },
  output: {
    file: z.string(),
    engine: z.string(),
    instance: z.string(),
    target: z.string(),
    actions: z.array(z.string()).describe('What changed'),
    tables: z.array(z.object({ name: z.string(), rows: z.number(), checksum: z.string().optional() })).optional(),
    summary: z.string().optional().describe('What was replaced or made'),
  },
  confirmText: (args, { core }) => core.describeRestore(restoreArgs(args)),
  async run(args, ctx) {
    const { core } = ctx;
    const r = await core.restoreBackup({ ...restoreArgs(args), force: true, via: 'mcp', progress: reporter(ctx, 'db_restore') });
    const tables = r.tables?.slice(0, 100);
    return {
      structured: { ...r, ...(tables ? { tables } : {}) },
      text: `${r.summary ? `${r.summary}\n` : ''}Restored ${r.file} into ${r.engine}/${r.instance} ${r.target}:\n${r.actions.map((a) => `- ${a}`).join('\n')}${r.tables ? `\n${r.tables.length} tables, ${r.tables.reduce((s, t) => s + t.rows, 0)} rows` : ''}`,
    };
  },
});

function restoreArgs(args: { file: string; target?: string | undefined; instance?: string | undefined; as_instance?: string | undefined; jobs?: number | undefined }) {
  const { as_instance, ...rest } = args;
  return { ...rest, ...(as_instance !== undefined ? { asInstance: as_instance } : {}) } as { file: string; target?: string; instance?: string; asInstance?: string; jobs?: number };
}
