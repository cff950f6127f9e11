import { z } from 'zod';
import { page } from '../../core/paging.js';
import { healthLine } from '../../core/ops/backup-schedule.js';
import { defineTool } from '../tool-base.js';
import { engineParam, instanceParam, pageOutput, paging , databaseParam } from '../schemas.js';
import { bytes, pageFooter, table } from '../../core/text-format.js';

const result = z.object({ at: z.string(), ok: z.boolean(), error: z.string().optional() });

const entry = z.object({
  engine: z.string(),
  instance: z.string(),
  database: z.string(),
  last_backup: z.object({ file: z.string(), finished_at: z.string(), method: z.string(), size_bytes: z.number() }).optional().describe('Last complete backup (file and manifest present and matching)'),
  last_attempt: result.optional().describe('Result of the last backup attempt, good or failed'),
  last_verify: result.optional(),
});

const age = z.object({ at: z.string(), ok: z.boolean(), age_seconds: z.number(), error: z.string().optional() });
const health = z.object({
  engine: z.string(),
  instance: z.string(),
  schedule: z.string(),
  overdue: z.boolean(),
  reason: z.string(),
  last_good_backup: z.object({ database: z.string(), finished_at: z.string(), age_seconds: z.number() }).optional(),
  last_verify: age.optional(),
  verify_failed: z.boolean(),
  retained: z.object({ count: z.number(), size_bytes: z.number() }),
});

export const dbBackupStatus = defineTool({
  name: 'db_backup_status',
  title: 'Backup status',
  description: 'Last backup, attempt and verify per database; every instance without `type`.',
  operation: 'read',
  input: { type: engineParam.optional(), instance: instanceParam, database: databaseParam.optional(), ...paging },
  output: { items: z.array(entry), ...pageOutput, scheduled: z.array(health).describe('Per scheduled instance: overdue, last verify, size kept') },
  async run(args, { core }) {
    const all = await core.backupStatus({ ...(args.type ? { type: args.type } : {}), ...(args.instance ? { instance: args.instance } : {}), ...(args.database ? { database: args.database } : {}) });
    const scheduled = await core.backupHealth({ ...(args.type ? { type: args.type } : {}), ...(args.instance ? { instance: args.instance } : {}) });
    const p = page(all, args);
    const marks = scheduled.map(healthLine);
    return {
      structured: { ...p, scheduled },
      text:
        (p.total === 0
          ? 'No backups yet. Create one with db_backup_create (server started with --allow-write) or `portunix-db backup <database> --type <engine>`.'
          : `${table(
              ['INSTANCE', 'DATABASE', 'LAST_BACKUP', 'SIZE', 'LAST_ATTEMPT', 'FILE'],
              p.items.map((e) => [
                `${e.engine}/${e.instance}`,
                e.database,
                e.last_backup?.finished_at,
                bytes(e.last_backup?.size_bytes),
                e.last_attempt ? `${e.last_attempt.ok ? 'ok' : `FAILED: ${e.last_attempt.error ?? ''}`} ${e.last_attempt.at}` : undefined,
                e.last_backup?.file,
              ]),
            )}\n${pageFooter(p, 'databases')}`) + (marks.length ? `\n${marks.join('\n')}` : ''),
    };
  },
});
