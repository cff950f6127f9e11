/**
 * PostgreSQL's backups (pg_dump custom format, or the physical snapshot), with what Timescale
 * documents for logical backups of a TimescaleDB database:
 * - the extension version is recorded in the manifest (`extensions.timescaledb`), because a dump
 *   restores only into the same TimescaleDB version;
 * - restore checks that version is installable here before anything is touched, then creates
 *   the extension at that version in the new database and wraps pg_restore in
 *   timescaledb_pre_restore() / timescaledb_post_restore();
 * - fingerprints count chunk rows through their hypertable, not chunk by chunk (compressed
 *   chunks included: reading a hypertable decompresses them).
 */
import type pg from 'pg';
import type { BackupManifestView, InstanceContext } from '../contract.js';
import { DbError } from '../../core/errors.js';
import { pgBackupOps, type PgBackupHooks } from '../postgresql/backup.js';
import { withClient } from '../postgresql/client.js';
import { extensionVersion, ts } from './inspect.js';

/** Whether a dump taken with TimescaleDB `recorded` may be restored where `available` versions are installable. Pure, for tests. */
export function restoreVersionProblem(recorded: string | undefined, available: readonly string[]): string | undefined {
  if (recorded === undefined) return undefined;
  if (!available.length) return `this backup needs TimescaleDB ${recorded}, and this server has no timescaledb extension installed`;
  if (!available.includes(recorded)) return `this backup was taken with TimescaleDB ${recorded}; this server can install only ${available.join(', ')}, and Timescale restores a dump only into the version it was taken with`;
  return undefined;
}

export const timescaleBackupHooks: PgBackupHooks = {
  async skipTables(c: pg.Client) {
    if (!(await extensionVersion(c))) return new Set();
    // chunks (their rows are counted through the hypertable) and the internal hypertables that hold compressed data (read through theirs)
    const r = await c.query<{ t: string }>(
      `SELECT schema_name || '.' || table_name AS t FROM _timescaledb_catalog.chunk
       UNION SELECT schema_name || '.' || table_name FROM _timescaledb_catalog.hypertable WHERE compression_state = 2`,
    );
    return new Set(r.rows.map((x) => x.t));
  },
  async extensions(c: pg.Client) {
    const v = await extensionVersion(c);
    return v ? { timescaledb: v } : undefined;
  },
  async checkRestore(ctx: InstanceContext, manifest: BackupManifestView) {
    const recorded = manifest.extensions?.['timescaledb'];
    if (recorded === undefined) return;
    const available = await withClient(ctx, 'postgres', async (c) => (await c.query<{ version: string }>(`SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb' ORDER BY version`)).rows.map((r) => r.version));
    const problem = restoreVersionProblem(recorded, available);
    if (problem) {
      throw new DbError(`Cannot restore: ${problem}.`, 'RESTORE_FAILED', `Nothing was changed. Install TimescaleDB ${recorded} for this PostgreSQL (the timescaledb-2-postgresql-<major> package of that version), restore, then ALTER EXTENSION timescaledb UPDATE.`);
    }
  },
  async beforeLoad(ctx: InstanceContext, database: string, manifest: BackupManifestView) {
    const recorded = manifest.extensions?.['timescaledb'];
    await withClient(ctx, database, async (c) => {
      await c.query(recorded ? `CREATE EXTENSION IF NOT EXISTS timescaledb VERSION ${c.escapeLiteral(recorded)}` : 'CREATE EXTENSION IF NOT EXISTS timescaledb');
      ctx.progress(`TimescaleDB: timescaledb_pre_restore() on ${database}`);
      await c.query(`SELECT ${await ts(c)}.timescaledb_pre_restore()`);
    });
  },
  async afterLoad(ctx: InstanceContext, database: string) {
    await withClient(ctx, database, async (c) => {
      ctx.progress(`TimescaleDB: timescaledb_post_restore() on ${database}`);
      await c.query(`SELECT ${await ts(c)}.timescaledb_post_restore()`);
    });
  },
};

export const { backup, restore, fingerprint, verifyBackup } = pgBackupOps(timescaleBackupHooks);
