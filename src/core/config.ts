import { createHash } from 'node:crypto';
import { readFile, mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { ENGINE_IDS, type EngineId, type SourceId } from '../engines/ids.js';
import { DbError } from './errors.js';
import { homePaths } from './home.js';
import type { BackupOptions, InstanceConfig, PortunixDbConfig } from './config-schema.js';

export const DEFAULT_INSTANCE = 'main';
export const INSTANCE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;

export type { BackupOptions, InstanceConfig, PortunixDbConfig, Retention } from './config-schema.js';

const schemas = () => import('./config-schema.js');

/**
 * What identifies the code that validates: this module's file and the schema module's (tsc
 * output), or the bundle file holding both. Rebuilt code gets a new identity, so a cached
 * validation never outlives the schema it was made with.
 */
let codeIdentity: Promise<string> | undefined;
function validatorIdentity(): Promise<string> {
  codeIdentity ??= (async () => {
    const self = fileURLToPath(import.meta.url);
    const files = [self, self.replace(/config\.js$/, 'config-schema.js')];
    const stats = await Promise.all(files.map((f) => stat(f).then((s) => `${f}:${s.size}:${s.mtimeMs}`, () => `${f}:-`)));
    return stats.join('|');
  })();
  return codeIdentity;
}

/** The validated config sits beside the file (0600, like it), keyed by a hash of the file's text and of the validating code. */
function validatedCachePath(file: string): string {
  return `${file}.validated`;
}

async function validationKey(text: string): Promise<string> {
  return createHash('sha256').update(await validatorIdentity()).update('\0').update(text).digest('hex');
}

/** A few entries: the tsc build and the bundle (each its own identity) can share a home without evicting each other. */
const CACHED_VALIDATIONS = 4;

interface ValidationCache {
  entries?: { key?: string; config?: PortunixDbConfig }[];
}

async function readValidations(file: string): Promise<{ key?: string; config?: PortunixDbConfig }[]> {
  try {
    const cache = JSON.parse(await readFile(validatedCachePath(file), 'utf8')) as ValidationCache;
    return Array.isArray(cache.entries) ? cache.entries : [];
  } catch {
    return [];
  }
}

async function cachedValidation(file: string, key: string): Promise<PortunixDbConfig | undefined> {
  const hit = (await readValidations(file)).find((e) => e && e.key === key);
  return hit?.config && typeof hit.config === 'object' ? hit.config : undefined;
}

async function rememberValidation(file: string, key: string, config: PortunixDbConfig): Promise<void> {
  const cache = validatedCachePath(file);
  const tmp = `${cache}.${process.pid}.tmp`;
  const entries = [{ key, config }, ...(await readValidations(file)).filter((e) => e && e.key !== key)].slice(0, CACHED_VALIDATIONS);
  // a read-only home or a full disk only costs the next run a validation
  await writeFile(tmp, JSON.stringify({ entries } satisfies ValidationCache), { mode: 0o600 })
    .then(() => rename(tmp, cache))
    .catch(() => undefined);
}

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
  // the same text, validated by the same code, gives the same result: skip zod (and its load)
  const key = await validationKey(text);
  const cached = await cachedValidation(file, key);
  if (cached) return cached;
  const { configSchema } = await schemas();
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
  await rememberValidation(file, key, parsed.data);
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
  const { configSchema, instanceSchema } = await schemas();
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
