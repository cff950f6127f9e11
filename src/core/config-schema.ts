/**
 * The config file's schema (zod). Only loaded to validate a config file whose text this code
 * has not validated before (see loadConfig's cache), or by the commands that check settings:
 * zod is some 100 modules, and `status`/`--version` should not pay for it.
 */
import { z } from 'zod';
import { ENGINE_IDS, SOURCE_IDS } from '../engines/ids.js';
import { scheduleProblem, timezoneProblem } from './schedule.js';
import { INSTANCE_NAME } from './config.js';

const scheduleString = z.string().superRefine((v, c) => {
  const problem = v === 'manual' ? undefined : scheduleProblem(v);
  if (problem) c.addIssue({ code: 'custom', message: problem });
});

/** Which backups pruning keeps, per database; a backup any rule keeps stays. Absent: keep everything. */
export const retentionSchema = z
  .object({
    keep_last: z.number().int().min(1).max(100_000).optional(),
    keep_daily: z.number().int().min(0).max(100_000).optional(),
    keep_weekly: z.number().int().min(0).max(100_000).optional(),
    keep_monthly: z.number().int().min(0).max(100_000).optional(),
    /** Older than this many days goes (unless it is the last good, or the last verified good one). */
    max_age_days: z.number().positive().max(36_500).optional(),
    /** The newest backups that fit stay; the older rest goes. */
    max_total_bytes: z.number().int().positive().optional(),
  })
  .strict();
export type Retention = z.infer<typeof retentionSchema>;

/** How scheduled backups run. On `databases.<engine>` (the main instance) they are also the defaults of that engine's other instances. */
export const backupOptionsSchema = z
  .object({
    timezone: z
      .string()
      .superRefine((v, c) => {
        const problem = timezoneProblem(v);
        if (problem) c.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    jitter_seconds: z.number().int().min(0).max(86_400).optional(),
    encrypt: z.boolean().optional(),
    /** Restore the newest backup into a scratch server this often (hourly|daily|weekly or cron). */
    verify_every: scheduleString.optional(),
    retention: retentionSchema.optional(),
  })
  .strict();
export type BackupOptions = z.infer<typeof backupOptionsSchema>;

/**
 * One instance, in the seed's shape (version, port, data_dir, backup_dir, auto_backup,
 * backup_schedule) plus what the tool needs to supervise it.
 */
export const instanceSchema = z
  .object({
    version: z.string().min(1),
    full_version: z.string().optional(),
    port: z.number().int().min(1).max(65535).optional(),
    host: z.string().default('127.0.0.1'),
    data_dir: z.string().min(1),
    backup_dir: z.string().min(1),
    auto_backup: z.boolean().default(false),
    /** hourly | daily | weekly | manual, or a five-field cron expression. */
    backup_schedule: scheduleString.default('daily'),
    backup_options: backupOptionsSchema.optional(),
    source: z.enum(SOURCE_IDS).optional(),
    bin_dir: z.string().optional(),
    lib_dir: z.string().optional(),
    /** Client tools (dump/restore) of the server's version, when bin_dir has none: `install --client-bin-dir`. Searched before bin_dir and PATH. */
    client_bin_dir: z.string().optional(),
    config_file: z.string().optional(),
    log_file: z.string().optional(),
    pid_file: z.string().optional(),
    socket_dir: z.string().optional(),
    run_as: z.string().optional(),
    superuser: z.string().optional(),
    /** Where the admin password was stored at install, so a missing keychain is named, not guessed at. */
    secret_store: z.enum(['keychain', 'encrypted-file']).optional(),
    registered_files: z.array(z.string()).optional(),
    created_at: z.string().optional(),
  })
  .strict();
export type InstanceConfig = z.infer<typeof instanceSchema>;

/** `databases.<engine>` is the `main` instance itself (the seed's shape); others live under `instances`. */
const engineEntrySchema = instanceSchema.extend({ instances: z.record(z.string().regex(INSTANCE_NAME), instanceSchema).optional() }).strict();
const engineEntryOrOnlyNamed = z.union([engineEntrySchema, z.object({ instances: z.record(z.string().regex(INSTANCE_NAME), instanceSchema) }).strict()]);

export const configSchema = z
  .object({
    databases: z.partialRecord(z.enum(ENGINE_IDS), engineEntryOrOnlyNamed).default({}),
    mcp: z
      .object({
        allow_write: z.boolean().optional(),
        roles: z.record(z.string(), z.enum(['reader', 'operator', 'admin'])).optional(),
        /** Upstream MCP servers to wrap, as `mcp serve --with` takes them. */
        with: z.array(z.enum(['dbhub', 'mongodb', 'elasticsearch'])).optional(),
        /** Instances (and databases) the upstreams serve: engine[/instance[/database]]; default every running instance. */
        targets: z.array(z.string().regex(/^[a-z0-9-]+(\/[a-z][a-z0-9_-]*(\/[A-Za-z0-9_$-]+)?)?$/)).optional(),
        /** Folders (besides every instance's backup_dir) where MCP clients may put backups. */
        backup_roots: z.array(z.string().min(1)).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type PortunixDbConfig = z.infer<typeof configSchema>;
