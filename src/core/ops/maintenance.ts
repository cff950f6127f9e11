import { audit } from '../audit.js';
import { UsageError } from '../errors.js';
import { need } from '../../engines/need.js';
import type { ConfigChange, ConfigSetting, VacuumOutcome } from '../../engines/contract.js';
import { openRunning, type Target } from './instances.js';
import type { Via } from './data.js';

/**
 * Maintenance: the engine's vacuum, or with `task` one of its named maintenance tasks
 * (TimescaleDB: compress, run-job). Both are audited.
 */
export async function vacuum(options: Target & { database: string; table?: string; full?: boolean; analyze?: boolean; task?: string; job?: number; via?: Via }): Promise<VacuumOutcome & { database: string }> {
  if (options.job !== undefined && !options.task) throw new UsageError('--job goes with --task run-job.', 'USAGE', 'Example: `portunix-db vacuum metrics --type timescaledb --task run-job --job 1000`.');
  if (options.job !== undefined && (!Number.isSafeInteger(options.job) || options.job < 1)) throw new UsageError(`Job id "${options.job}" is not a positive integer.`, 'USAGE', 'Job ids are listed by `portunix-db metrics` (details.jobs).');
  const { engine, ctx } = await openRunning(options);
  need(engine, 'validateIdentifier')('database', options.database);
  if (options.table) need(engine, 'validateIdentifier')('table', options.table);
  const table = options.table ? { table: options.table } : {};
  const where = `${ctx.engine}/${ctx.name} ${options.database}${options.table ? `.${options.table}` : ''}`;
  ctx.progress(options.task ? `running maintenance task ${options.task} on ${where}` : `running ${options.full ? 'full ' : ''}maintenance on ${where}`);
  const outcome = options.task
    ? await need(engine, 'maintenanceTask')(ctx, { database: options.database, task: options.task, ...table, ...(options.job !== undefined ? { job: options.job } : {}) })
    : await need(engine, 'vacuum')(ctx, { database: options.database, ...table, full: !!options.full, analyze: !!options.analyze });
  ctx.progress(`maintenance done on ${where}: ${outcome.actions.length} action(s)`);
  await audit({ action: options.task ? `vacuum --task ${options.task}` : 'vacuum', engine: ctx.engine, instance: ctx.name, target: options.database, via: options.via ?? 'cli', ok: true, detail: outcome.actions.join('; ') });
  return { database: options.database, ...outcome };
}

export async function configShow(options: Target): Promise<ConfigSetting[]> {
  const { engine, ctx } = await openRunning(options);
  return need(engine, 'configList')(ctx);
}

export async function configGet(options: Target & { key: string }): Promise<ConfigSetting> {
  const { engine, ctx } = await openRunning(options);
  return need(engine, 'configGet')(ctx, options.key);
}

export async function configSet(options: Target & { key: string; value: string }): Promise<ConfigChange & { message: string }> {
  const { engine, ctx } = await openRunning(options);
  const change = await need(engine, 'configSet')(ctx, options.key, options.value);
  await audit({ action: 'config-set', engine: ctx.engine, instance: ctx.name, target: options.key, via: 'cli', ok: true, detail: `${change.previous ?? '?'} -> ${change.value}` });
  const how =
    change.applied === 'restart-required'
      ? `Saved in ${change.persisted}; a restart is needed: \`portunix-db restart ${ctx.engine}${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`.`
      : change.applied === 'reload'
        ? `Saved in ${change.persisted} and reloaded; in effect now.`
        : `In effect now and saved in ${change.persisted}.`;
  return { ...change, message: `${change.name} = ${change.value}. ${how}` };
}
