import { DbError } from '../../core/errors.js';
import type { InstanceContext, VacuumOutcome } from '../contract.js';
import { isUnsupported, n, withMongo } from './client.js';
import { validateIdentifier } from './identifiers.js';
import { collections } from './inspect.js';
import { serverIdentity } from './instance.js';
import { serverLabel } from './servers.js';

/**
 * MongoDB's answer to VACUUM, per collection: `compact` (gives free space back to the storage
 * engine / the OS), `validate` (checks documents and indexes; `--full` runs the full check) and
 * `planCacheClear` (forgets cached query plans). `--analyze` has no equivalent: MongoDB keeps no
 * planner statistics.
 */
export async function vacuum(ctx: InstanceContext, options: { database: string; table?: string; full: boolean; analyze: boolean }): Promise<VacuumOutcome> {
  validateIdentifier('database', options.database);
  if (options.table !== undefined) validateIdentifier('table', options.table);
  const id = await serverIdentity(ctx);
  return withMongo(ctx, async (c) => {
    const all = (await collections(c, options.database)).filter((x) => x.type === 'collection');
    const chosen = options.table !== undefined ? all.filter((x) => x.name === options.table) : all;
    if (options.table !== undefined && chosen.length === 0) throw new DbError(`Collection ${options.database}.${options.table} does not exist.`, 'NOT_FOUND', `List collections with \`portunix-db tables ${options.database} --type mongodb\`.`);
    const actions: string[] = [];
    const details: Record<string, unknown> = {};
    const missing = new Set<string>();
    const db = c.db(options.database);
    for (const coll of chosen) {
      const d: Record<string, unknown> = {};
      try {
        const r = await db.command({ compact: coll.name, force: true });
        const freed = n(r['bytesFreed']);
        d['compact'] = freed !== undefined ? { bytesFreed: freed } : 'ok';
        actions.push(`compact ${coll.name}${freed !== undefined ? `: ${freed} bytes freed` : ''}`);
      } catch (err) {
        if (!isUnsupported(err)) throw err;
        missing.add('compact');
      }
      const v = await db.command({ validate: coll.name, full: options.full });
      const valid = v['valid'] !== false;
      d['validate'] = { valid, nrecords: n(v['nrecords']), errors: (v['errors'] as unknown[] | undefined) ?? [] };
      actions.push(`validate${options.full ? ' (full)' : ''} ${coll.name}: ${valid ? 'valid' : `INVALID: ${JSON.stringify(v['errors'] ?? []).slice(0, 300)}`}`);
      try {
        await db.command({ planCacheClear: coll.name });
        d['planCacheClear'] = 'ok';
        actions.push(`planCacheClear ${coll.name}`);
      } catch (err) {
        if (!isUnsupported(err)) throw err;
        missing.add('planCacheClear');
      }
      details[coll.name] = d;
    }
    if (chosen.length === 0) actions.push(`Database ${options.database} has no collections to maintain.`);
    for (const m of missing) actions.push(`${serverLabel(id.kind, id.version)} has no ${m} command; that step was skipped for every collection.`);
    if (options.analyze) actions.push('--analyze has no MongoDB equivalent: MongoDB keeps no planner statistics (planCacheClear makes it choose plans afresh).');
    const invalid = Object.values(details).some((d) => (d as { validate?: { valid: boolean } }).validate?.valid === false);
    if (invalid) throw new DbError(`validate found problems in ${options.database}: ${actions.filter((a) => a.includes('INVALID')).join('; ')}`, 'COMMAND_FAILED', 'Restore the collection from a backup, or re-create its indexes.', { actions, details });
    return { actions, details };
  });
}
