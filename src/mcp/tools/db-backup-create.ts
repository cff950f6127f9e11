import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { identifier, target } from '../schemas.js';
import { bytes, pairs } from '../format.js';
import { pick } from './shape.js';

export const dbBackupCreate = defineTool({
  name: 'db_backup_create',
  title: 'Create a backup',
  description: 'Backs up one database to a file with a manifest (row counts, checksums). The file appears in db_backup_status. Only listed when the server runs with --allow-write.',
  operation: 'write',
  auditAction: 'backup',
  input: {
    ...target,
    database: identifier('database'),
    destination: z.string().min(1).max(4096).optional().describe('Directory for the backup file (default: the instance\'s backup_dir)'),
  },
  output: { file: z.string(), manifest: z.record(z.string(), z.unknown()) },
  async run(args, { core, log }) {
    const r = await core.createBackup({ ...args, via: 'mcp', progress: (m: string) => log(`db_backup_create: ${m}`) });
    const manifest = r.manifest as Record<string, unknown>;
    return {
      structured: { file: r.file, manifest },
      text: `Backed up ${args.database} to ${r.file}\n${pairs({ method: pick(manifest, 'method'), format: pick(manifest, 'format'), size: bytes(pick(manifest, 'size_bytes', 'sizeBytes', 'bytes') as number | undefined), sha256: pick(manifest, 'sha256') })}`,
    };
  },
});
