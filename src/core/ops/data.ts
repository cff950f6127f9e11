import { audit } from '../audit.js';
import { DbError, NotApplicableError } from '../errors.js';
import { page, type Page } from '../paging.js';
import { need } from '../../engines/need.js';
import type { DatabaseSummary, UserSummary } from '../../engines/contract.js';
import { allInstances, openRunning, type Target } from './instances.js';
import { loadEngine } from '../../engines/registry.js';
import { createInstanceContext } from '../instance-context.js';
import { has } from '../../engines/need.js';
import { parseEngineId } from '../../engines/ids.js';

export type Via = 'cli' | 'mcp' | 'agent';

export async function listDatabases(target: Target & { limit?: number; cursor?: string }): Promise<Page<DatabaseSummary>> {
  const { engine, ctx } = await openRunning(target);
  return page(await need(engine, 'listDatabases')(ctx), target);
}

/** `list --type all`: every instance's databases; a stopped instance is reported, not fatal. */
export async function listAllDatabases(type?: string): Promise<{ engine: string; instance: string; databases?: DatabaseSummary[]; error?: string }[]> {
  const engineId = type && type !== 'all' ? parseEngineId(type) : undefined;
  const instances = await allInstances(engineId);
  return Promise.all(
    instances.map(async (inst) => {
      try {
        const { engine, ctx } = await openRunning({ type: inst.engine, instance: inst.name });
        return { engine: inst.engine, instance: inst.name, databases: await need(engine, 'listDatabases')(ctx) };
      } catch (err) {
        return { engine: inst.engine, instance: inst.name, error: (err as Error).message };
      }
    }),
  );
}

export async function createDatabase(target: Target & { name: string; owner?: string; charset?: string; collation?: string; path?: string; settings?: Record<string, string>; via?: Via }): Promise<{ database: string; created: boolean; message: string }> {
  const { engine, ctx } = await openRunning(target);
  need(engine, 'validateIdentifier')('database', target.name);
  if (target.owner) need(engine, 'validateIdentifier')('user', target.owner);
  if (target.settings && Object.keys(target.settings).length && !engine.info.creationSettings) {
    throw new NotApplicableError(`${engine.info.displayName} takes no --setting when creating a ${engine.info.terms.database}.`, 'Leave out --setting; change server settings with `portunix-db config set`.');
  }
  const r = await need(engine, 'createDatabase')(ctx, target.name, { ...(target.owner ? { owner: target.owner } : {}), ...(target.charset ? { charset: target.charset } : {}), ...(target.collation ? { collation: target.collation } : {}), ...(target.path ? { path: target.path } : {}), ...(target.settings ? { settings: target.settings } : {}) });
  await audit({ action: 'create-database', engine: ctx.engine, instance: ctx.name, target: target.name, via: target.via ?? 'cli', ok: true });
  const notes = await refreshReadonly(engine, ctx);
  const message = r.message ?? `Created ${engine.info.terms.database} ${target.name} on ${ctx.engine}/${ctx.name}.`;
  return { database: target.name, created: r.created, message: notes ? `${message} ${notes}` : message };
}

/** `KEY=VALUE` pairs of `--setting`. */
export function parseSettings(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw new DbError(`--setting "${p}" is not KEY=VALUE.`, 'USAGE', 'Example: --setting number_of_shards=2');
    out[p.slice(0, i).trim()] = p.slice(i + 1);
  }
  return out;
}

export async function dropDatabase(target: Target & { name: string; force?: boolean; via?: Via }): Promise<{ database: string; message: string }> {
  if (!target.force) throw new DbError(`Dropping ${target.name} deletes all its data.`, 'CONFIRMATION_REQUIRED', 'Pass --force to confirm.');
  const { engine, ctx } = await openRunning(target);
  need(engine, 'validateIdentifier')('database', target.name);
  await need(engine, 'dropDatabase')(ctx, target.name);
  await audit({ action: 'drop-database', engine: ctx.engine, instance: ctx.name, target: target.name, via: target.via ?? 'cli', ok: true });
  return { database: target.name, message: `Dropped ${engine.info.terms.database} ${target.name} on ${ctx.engine}/${ctx.name}.` };
}

export async function listUsers(target: Target): Promise<UserSummary[]> {
  const { engine, ctx } = await openRunning(target);
  return need(engine, 'listUsers')(ctx);
}

export async function createUser(target: Target & { name: string; password: string }): Promise<{ user: string; message: string }> {
  const { engine, ctx } = await openRunning(target);
  need(engine, 'validateIdentifier')('user', target.name);
  if (target.password.length < 8) throw new DbError('The password is shorter than 8 characters.', 'USAGE', 'Use a longer password.');
  await need(engine, 'createUser')(ctx, target.name, target.password);
  await audit({ action: 'create-user', engine: ctx.engine, instance: ctx.name, target: target.name, via: 'cli', ok: true });
  return { user: target.name, message: `Created user ${target.name} on ${ctx.engine}/${ctx.name}.` };
}

export async function deleteUser(target: Target & { name: string }): Promise<{ user: string; message: string }> {
  const { engine, ctx } = await openRunning(target);
  need(engine, 'validateIdentifier')('user', target.name);
  await need(engine, 'deleteUser')(ctx, target.name);
  await audit({ action: 'delete-user', engine: ctx.engine, instance: ctx.name, target: target.name, via: 'cli', ok: true });
  return { user: target.name, message: `Deleted user ${target.name} on ${ctx.engine}/${ctx.name}.` };
}

export async function changeGrant(target: Target & { mode: 'grant' | 'revoke'; user: string; privileges: string[]; database?: string }): Promise<{ user: string; statements: string[]; message: string }> {
  const { engine, ctx } = await openRunning(target);
  need(engine, 'validateIdentifier')('user', target.user);
  if (target.database) need(engine, 'validateIdentifier')('database', target.database);
  const statements = await need(engine, target.mode)(ctx, target.user, target.privileges, target.database);
  await audit({ action: target.mode, engine: ctx.engine, instance: ctx.name, target: target.user, via: 'cli', ok: true, detail: `${target.privileges.join(',')} on ${target.database ?? '*'}` });
  return { user: target.user, statements, message: `${target.mode === 'grant' ? 'Granted' : 'Revoked'} ${target.privileges.join(', ')} ${target.mode === 'grant' ? 'to' : 'from'} ${target.user}${target.database ? ` on ${target.database}` : ''}.` };
}

export { has, loadEngine, createInstanceContext };

/** A new database is covered by the read-only account at once when the instance has one (grants are per database on some engines). */
async function refreshReadonly(engine: Parameters<typeof has>[0], ctx: ReturnType<typeof createInstanceContext>): Promise<string | undefined> {
  if (!has(engine, 'readonlyAccount')) return undefined;
  const { hasReadonlyAccount, provisionReadonly } = await import('./query.js');
  if (!(await hasReadonlyAccount(ctx))) return undefined;
  try {
    await provisionReadonly(engine, ctx);
    return undefined;
  } catch (err) {
    return `The read-only account was not extended to it (${(err as Error).message}); run \`portunix-db user readonly ${ctx.engine}\`.`;
  }
}
