import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier } from '../schemas.js';
import { isRecord } from './shape.js';

export const dbRestore = defineTool({
  name: 'db_restore',
  title: 'Restore a backup',
  description:
    'Restores a backup file (from db_backup_status) into its database, or into `target`. Replaces existing data, so it needs `confirm: true`; ask the user first. Only listed when the server runs with --allow-write.',
  operation: 'destructive',
  auditAction: 'restore',
  input: {
    file: z.string().min(1).max(4096).describe('Backup file path, as shown by db_backup_status'),
    target: identifier('target database').optional().describe('Restore into this database instead of the original'),
  },
  output: { file: z.string(), outcome: z.record(z.string(), z.unknown()), actions: z.array(z.string()).optional() },
  async run(args, { core }) {
    const r = await core.restoreBackup({ file: args.file, ...(args.target ? { target: args.target } : {}), force: true, via: 'mcp' });
    const outcome = isRecord(r) ? r : { result: r };
    const actions = Array.isArray(outcome['actions']) ? (outcome['actions'] as unknown[]).map(String) : undefined;
    return {
      structured: { file: args.file, outcome, ...(actions ? { actions } : {}) },
      text: `Restored ${args.file}${typeof outcome['target'] === 'string' ? ` into ${outcome['target']}` : ''}${actions?.length ? `:\n- ${actions.join('\n- ')}` : ''}`,
    };
  },
});
