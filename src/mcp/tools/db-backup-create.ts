import { z } from 'zod';
import { defineTool, reporter } from '../tool-base.js';
import { target , databaseParam } from '../schemas.js';
import { bytes, pairs } from '../../core/text-format.js';

export const dbBackupCreate = defineTool({
  name: 'db_backup_create',
  title: 'Create a backup',
  description: 'Back up a database to a file with a checksummed manifest.',
  operation: 'write',
  input: {
    ...target,
    database: databaseParam,
    destination: z.string().min(1).max(4096).optional().describe('Default: backup_dir'),
    jobs: z.number().int().min(1).max(64).optional().describe('Parallel workers (PostgreSQL)'),
    compress: z.string().max(8).optional().describe('PostgreSQL: gzip[:1-9], lz4, zstd (pg_dump 16+), none'),
  },
  output: {
    file: z.string(),
    manifest: z.object({
      engine: z.string(),
      instance: z.string(),
      database: z.string(),
      method: z.string(),
      format: z.string(),
      scope: z.enum(['database', 'instance']),
      server_version: z.string(),
      size_bytes: z.number(),
      sha256: z.string(),
      started_at: z.string(),
      finished_at: z.string(),
      status: z.string(),
      tables: z.number().describe('Tables fingerprinted in the manifest'),
      notes: z.array(z.string()).optional(),
    }),
  },
  async run(args, ctx) {
    const { core } = ctx;
    const r = await core.createBackup({ ...args, via: 'mcp', progress: reporter(ctx, 'db_backup_create') });
    const m = r.manifest;
    const manifest = {
      engine: m.engine,
      instance: m.instance,
      database: m.database,
      method: m.method,
      format: m.format,
      scope: m.scope,
      server_version: m.server_version,
      size_bytes: m.size_bytes,
      sha256: m.sha256,
      started_at: m.started_at,
      finished_at: m.finished_at,
      status: m.status,
      tables: m.tables.length,
      ...(m.notes?.length ? { notes: m.notes } : {}),
    };
    return {
      structured: { file: r.file, manifest },
      text: `Backed up ${m.engine}/${m.instance} ${m.database} to ${r.file}\n${pairs({ method: m.method, size: bytes(m.size_bytes), tables: m.tables.length, sha256: m.sha256.slice(0, 16) + '…' })}${m.notes?.length ? `\nnotes: ${m.notes.join(' ')}` : ''}`,
    };
  },
});
