import type { InstanceContext, VacuumOutcome } from '../contract.js';
import { fileBytes, withDatabase } from './instance.js';
import { findTable } from './inspect.js';

export { NO_USERS } from './identifiers.js';

/**
 * SQLite maintenance: `--full` rewrites the whole file with VACUUM (a table cannot be vacuumed
 * alone), `--analyze` refreshes the planner's statistics with ANALYZE, and PRAGMA optimize
 * always runs. Without --full, an incremental auto_vacuum file gives back its free pages.
 */
export async function vacuum(ctx: InstanceContext, options: { database: string; table?: string; full: boolean; analyze: boolean }): Promise<VacuumOutcome> {
  return withDatabase(ctx, options.database, async (db, file) => {
    db.pragma('busy_timeout = 30000');
    const actions: string[] = [];
    const before = { bytes: await fileBytes(file.path), free_pages: Number(db.pragma('freelist_count', { simple: true })) };
    const table = options.table ? findTable(db, options.table, options.database).name : undefined;
    if (options.full) {
      if (table) actions.push(`VACUUM works on the whole file; ${table} was rewritten with the rest of ${options.database}`);
      db.exec('VACUUM');
      actions.push('VACUUM (rewrote the file, returning free pages to the filesystem)');
    } else {
      const autoVacuum = Number(db.pragma('auto_vacuum', { simple: true }));
      if (autoVacuum === 2) {
        db.pragma('incremental_vacuum');
        actions.push('PRAGMA incremental_vacuum (returned free pages)');
      } else if (before.free_pages > 0) {
        actions.push(`${before.free_pages} free page(s) stay in the file for reuse; run with --full to shrink it`);
      }
    }
    if (options.analyze) {
      db.exec(table ? `ANALYZE "${table.replace(/"/g, '""')}"` : 'ANALYZE');
      actions.push(table ? `ANALYZE ${table}` : 'ANALYZE (refreshed planner statistics)');
    }
    db.pragma('optimize');
    actions.push('PRAGMA optimize');
    if (db.pragma('journal_mode', { simple: true }) === 'wal') db.pragma('wal_checkpoint(TRUNCATE)');
    const after = { bytes: await fileBytes(file.path), free_pages: Number(db.pragma('freelist_count', { simple: true })) };
    return { actions, details: { database: options.database, file: file.path, before, after } };
  });
}
