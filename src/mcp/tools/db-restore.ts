import { z } from 'zod';
import { defineTool, reporter } from '../tool-base.js';
import { identifier, instanceParam } from '../schemas.js';

export const dbRestore = defineTool({
  name: 'db_restore',
  title: 'Restore a backup',
  description: 'Restore a verified backup file into its database or `target`, replacing data.',
  operation: 'destructive',
  input: {
    file: z.string().min(1).max(4096),
    target: identifier('target database').optional().describe('Database to restore into'),
    instance: instanceParam.describe('Default: the backup\'s'),
    as_instance: z.string().min(1).max(64).optional().describe('Snapshot: restore as this new instance'),
    port: z.number().int().min(1).max(65535).optional().describe('With as_instance: its port'),
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

function restoreArgs(args: { file: string; target?: string | undefined; instance?: string | undefined; as_instance?: string | undefined; port?: number | undefined; jobs?: number | undefined }) {
  const { as_instance, ...rest } = args;
  return { ...rest, ...(as_instance !== undefined ? { asInstance: as_instance } : {}) } as { file: string; target?: string; instance?: string; asInstance?: string; port?: number; jobs?: number };
}
