import { DEFAULT_INSTANCE, findInstance, listInstances, loadConfig, loadConfigLenient, validateInstanceName, type ResolvedInstance } from '../config.js';
import { homePaths } from '../home.js';
import { DbError } from '../errors.js';
import { createInstanceContext, silentProgress } from '../instance-context.js';
import { parseEngineId, type EngineId } from '../../engines/ids.js';
import { loadEngine } from '../../engines/registry.js';
import { has } from '../../engines/need.js';
import { readPidRecord, isOurProcess } from '../process/supervisor.js';
import { cleanupOrphans } from '../process/scratch.js';
import { cleanupStagingDatabases } from '../process/staging.js';
import type { Engine, InstanceContext, Progress } from '../../engines/contract.js';

export interface OpenInstance {
  engine: Engine;
  ctx: InstanceContext;
  instance: ResolvedInstance;
}

/** Options every operation takes: which instance, and where progress goes. */
export interface Target {
  type: string;
  instance?: string;
  progress?: Progress;
}

export async function openInstance(target: Target): Promise<OpenInstance> {
  const engineId = parseEngineId(target.type);
  // scratch servers and dirs left by a killed command are stopped and removed by the next one
  for (const line of await cleanupOrphans().catch(() => [])) (target.progress ?? silentProgress)(line);
  const name = validateInstanceName(target.instance ?? DEFAULT_INSTANCE);
  const { config, invalid } = await loadConfigLenient();
  const instance = findInstance(config, { engine: engineId, name });
  const bad = invalid.find((i) => i.engine === engineId && i.instance === name);
  if (!instance && bad) throw new DbError(`The config entry of ${engineId}/${name} (${bad.key}) is invalid: ${bad.message}.`, 'INVALID_CONFIG', `Correct "${bad.key}" in ${homePaths.config()}.`);
  if (!instance) {
    const others = listInstances(config, engineId).map((i) => i.name);
    throw new DbError(
      `No ${engineId} instance named "${name}" is installed.`,
      'NOT_INSTALLED',
      others.length ? `Installed ${engineId} instances: ${others.join(', ')}. Pass --instance NAME.` : `Install it with \`portunix-db install ${engineId}${name === DEFAULT_INSTANCE ? '' : ` --instance ${name}`}\`.`,
    );
  }
  const engine = await loadEngine(engineId);
  // a restore killed half-way left its staging database on this instance: drop it (never one whose owner still runs)
  const staged = await cleanupStagingDatabases('cli', { engine: engineId, instance: name }).catch(() => undefined);
  for (const line of staged?.cleaned ?? []) (target.progress ?? silentProgress)(line);
  return { engine, instance, ctx: createInstanceContext(engineId, name, instance.config, target.progress ?? silentProgress) };
}

/** Opens the instance and makes sure its server runs, with a message that says how to start it. */
export async function openRunning(target: Target): Promise<OpenInstance> {
  const open = await openInstance(target);
  if (has(open.engine, 'launchSpec')) {
    const record = await readPidRecord(open.ctx.paths.pidFile);
    const alive = record ? await isOurProcess(record) : false;
    if (!alive) {
      const how = `portunix-db start ${open.ctx.engine}${open.ctx.name === DEFAULT_INSTANCE ? '' : ` --instance ${open.ctx.name}`}`;
      throw new DbError(`Instance ${open.ctx.engine}/${open.ctx.name} is ${record ? 'crashed' : 'stopped'}; start it with \`${how}\`.`, 'NOT_RUNNING', `Run \`${how}\`.`);
    }
  }
  return open;
}

export async function allInstances(engine?: EngineId): Promise<ResolvedInstance[]> {
  return listInstances(await loadConfig(), engine);
}
