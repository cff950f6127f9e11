import { readFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { ENGINE_IDS, SOURCE_IDS, type EngineId, type SourceId } from '../engines/ids.js';
import { DbError } from './errors.js';
import { homePaths } from './home.js';
import { scheduleProblem, timezoneProblem } from './schedule.js';

export const DEFAULT_INSTANCE = 'main';
const INSTANCE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

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

export interface InstanceRef {
  engine: EngineId;
  name: string;
}

export interface ResolvedInstance extends InstanceRef {
  config: InstanceConfig;
}

export function validateInstanceName(name: string): string {
  if (!INSTANCE_NAME.test(name)) {
    throw new DbError(`Invalid instance name "${name}".`, 'USAGE', 'Use 1-32 characters: lower-case letters, digits, "-" or "_", starting with a letter.');
  }
  return name;
}

export async function loadConfig(file = homePaths.config()): Promise<PortunixDbConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { databases: {} };
    throw err;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DbError(`Config file ${file} is not valid JSON: ${(err as Error).message}`, 'INVALID_CONFIG', 'Fix the JSON syntax, or move the file away to start fresh.');
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.map(String).join('.') || '(root)';
    throw new DbError(`Config file ${file} is invalid at "${key}": ${issue.message}`, 'INVALID_CONFIG', `Correct "${key}" in ${file}.`, {
      file,
      key,
      issues: parsed.error.issues.map((i) => ({ key: i.path.map(String).join('.'), message: i.message })),
    });
  }
  return parsed.data;
}

export interface InvalidInstance {
  /** "databases.redis.instances.r9" */
  key: string;
  engine?: string;
  instance?: string;
  message: string;
}

/**
 * For `status` and `uninstall`: a config that fails validation still yields its valid
 * instances; each bad one is named instead of failing the whole command.
 */
export async function loadConfigLenient(file = homePaths.config()): Promise<{ config: PortunixDbConfig; invalid: InvalidInstance[] }> {
  try {
    return { config: await loadConfig(file), invalid: [] };
  } catch (err) {
    if (!(err instanceof DbError) || err.code !== 'INVALID_CONFIG' || !err.details) throw err;
  }
  const raw = JSON.parse(await readFile(file, 'utf8')) as { databases?: Record<string, unknown> };
  const invalid: InvalidInstance[] = [];
  const databases: Record<string, unknown> = {};
  const describe = (e: z.ZodError) => e.issues.map((i) => `${i.path.map(String).join('.') || '(entry)'}: ${i.message}`).join('; ');
  for (const [engine, entry] of Object.entries(raw.databases ?? {})) {
    if (!(ENGINE_IDS as readonly string[]).includes(engine) || !entry || typeof entry !== 'object') {
      invalid.push({ key: `databases.${engine}`, engine, message: 'not a known engine entry' });
      continue;
    }
    const { instances, ...main } = entry as Record<string, unknown> & { instances?: Record<string, unknown> };
    const kept: Record<string, unknown> = {};
    if ('data_dir' in main || 'version' in main) {
      const r = instanceSchema.safeParse(main);
      if (r.success) Object.assign(kept, r.data);
      else invalid.push({ key: `databases.${engine}`, engine, instance: DEFAULT_INSTANCE, message: describe(r.error) });
    }
    const named: Record<string, unknown> = {};
    for (const [name, cfg] of Object.entries(instances ?? {})) {
      const r = instanceSchema.safeParse(cfg);
      if (r.success && INSTANCE_NAME.test(name)) named[name] = r.data;
      else invalid.push({ key: `databases.${engine}.instances.${name}`, engine, instance: name, message: r.success ? 'invalid instance name' : describe(r.error) });
    }
    if (Object.keys(named).length) kept['instances'] = named;
    if (Object.keys(kept).length) databases[engine] = kept;
  }
  const parsed = configSchema.safeParse({ ...raw, databases });
  if (!parsed.success) {
    // the damage is outside the instances (e.g. the mcp section): keep the instances alone
    const only = configSchema.safeParse({ databases });
    if (!only.success) throw new DbError(`Config file ${file} is invalid.`, 'INVALID_CONFIG', `Correct it by hand: ${describe(only.error)}`);
    invalid.push({ key: '(outside databases)', message: describe(parsed.error) });
    return { config: only.data, invalid };
  }
  return { config: parsed.data, invalid };
}

/** Removes one instance from the file as it is (bad entries elsewhere stay untouched), under the config lock. */
export async function removeInstanceFromFile(ref: InstanceRef, file = homePaths.config()): Promise<void> {
  const { withFileLock } = await import('./file-lock.js');
  await withFileLock(file + '.lock', async () => {
    const raw = JSON.parse(await readFile(file, 'utf8')) as { databases?: Record<string, Record<string, unknown> & { instances?: Record<string, unknown> }> };
    const entry = raw.databases?.[ref.engine];
    if (!entry) return;
    if (ref.name === DEFAULT_INSTANCE) {
      const instances = entry.instances;
      raw.databases![ref.engine] = instances && Object.keys(instances).length ? { instances } : (undefined as never);
      if (!instances || !Object.keys(instances).length) delete raw.databases![ref.engine];
    } else if (entry.instances) {
      delete entry.instances[ref.name];
      if (!Object.keys(entry.instances).length) delete entry.instances;
      if (!Object.keys(entry).length) delete raw.databases![ref.engine];
    }
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(raw, null, 2) + '\n', { mode: 0o600 });
    await rename(tmp, file);
  });
}

/** Atomic write: a reader never sees half a config. */
export async function saveConfig(config: PortunixDbConfig, file = homePaths.config()): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

export function listInstances(config: PortunixDbConfig, engine?: EngineId): ResolvedInstance[] {
  const out: ResolvedInstance[] = [];
  for (const id of ENGINE_IDS) {
    if (engine && id !== engine) continue;
    const entry = config.databases[id];
    if (!entry) continue;
    const { instances, ...main } = entry as InstanceConfig & { instances?: Record<string, InstanceConfig> };
    if ('data_dir' in main && main.data_dir) out.push({ engine: id, name: DEFAULT_INSTANCE, config: main as InstanceConfig });
    for (const [name, cfg] of Object.entries(instances ?? {})) out.push({ engine: id, name, config: cfg });
  }
  return out;
}

export function findInstance(config: PortunixDbConfig, ref: InstanceRef): ResolvedInstance | undefined {
  return listInstances(config, ref.engine).find((i) => i.name === ref.name);
}

export function putInstance(config: PortunixDbConfig, ref: InstanceRef, instance: InstanceConfig): PortunixDbConfig {
  const entry = { ...(config.databases[ref.engine] ?? {}) } as Record<string, unknown> & { instances?: Record<string, InstanceConfig> };
  if (ref.name === DEFAULT_INSTANCE) {
    const instances = entry.instances;
    for (const k of Object.keys(entry)) delete entry[k];
    Object.assign(entry, instance);
    if (instances && Object.keys(instances).length > 0) entry.instances = instances;
  } else {
    entry.instances = { ...(entry.instances ?? {}), [ref.name]: instance };
  }
  return { ...config, databases: { ...config.databases, [ref.engine]: entry as never } };
}

export function removeInstance(config: PortunixDbConfig, ref: InstanceRef): PortunixDbConfig {
  const entry = config.databases[ref.engine] as (Record<string, unknown> & { instances?: Record<string, InstanceConfig> }) | undefined;
  if (!entry) return config;
  const databases = { ...config.databases };
  if (ref.name === DEFAULT_INSTANCE) {
    if (entry.instances && Object.keys(entry.instances).length > 0) databases[ref.engine] = { instances: entry.instances } as never;
    else delete databases[ref.engine];
  } else {
    const instances = { ...(entry.instances ?? {}) };
    delete instances[ref.name];
    const rest = { ...entry };
    delete rest.instances;
    const hasMain = typeof rest['data_dir'] === 'string';
    if (Object.keys(instances).length > 0) databases[ref.engine] = { ...rest, instances } as never;
    else if (hasMain) databases[ref.engine] = rest as never;
    else delete databases[ref.engine];
  }
  return { ...config, databases };
}

/** Read-modify-write of the config under a simple lock so two CLI runs do not lose each other's edits. */
export async function updateConfig(mutate: (c: PortunixDbConfig) => PortunixDbConfig | Promise<PortunixDbConfig>): Promise<PortunixDbConfig> {
  const { withFileLock } = await import('./file-lock.js');
  return withFileLock(homePaths.config() + '.lock', async () => {
    const next = await mutate(await loadConfig());
    await saveConfig(next);
    return next;
  });
}

export type { EngineId, SourceId };

/** The instance's backup options over its engine's (the `databases.<engine>` entry), retention merged key by key. */
export function effectiveOptions(config: PortunixDbConfig, engine: EngineId, inst: InstanceConfig): BackupOptions {
  const entry = config.databases[engine];
  const base = (entry && 'backup_options' in entry ? entry.backup_options : undefined) ?? {};
  const own = inst.backup_options ?? {};
  const retention = base.retention || own.retention ? { ...base.retention, ...own.retention } : undefined;
  return { ...base, ...own, ...(retention ? { retention } : {}) };
}
