import { audit } from '../audit.js';
import { need } from '../../engines/need.js';
import type { ConfigChange, ConfigSetting, VacuumOutcome } from '../../engines/contract.js';
import { openRunning, type Target } from './instances.js';
import type { Via } from './data.js';

export async function vacuum(options: Target & { database: string; table?: string; full?: boolean; analyze?: boolean; via?: Via }): Promise<VacuumOutcome & { database: string }> {
  const { engine, ctx } = await openRunning(options);
  need(engine, 'validateIdentifier')('database', options.database);
  if (options.table) need(engine, 'validateIdentifier')('table', options.table);
  const outcome = await need(engine, 'vacuum')(ctx, { database: options.database, ...(options.table ? { table: options.table } : {}), full: !!options.full, analyze: !!options.analyze });
  await audit({ action: 'vacuum', engine: ctx.engine, instance: ctx.name, target: options.database, via: options.via ?? 'cli', ok: true, detail: outcome.actions.join('; ') });
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
