import type { Engine, EngineInfo } from '../contract.js';
import { engine as postgresql } from '../postgresql/index.js';
import { PG_COMPRESSION } from '../postgresql/backup.js';
import { install, TIMESCALEDB_SOURCES, TIMESCALEDB_VERSIONS, timescaleDefaultSource } from './install.js';
import { createDatabase, initialize } from './instance.js';
import { listTables, listTablesPage, tableInfo, performance } from './inspect.js';
import { maintenanceTask } from './maintenance.js';
import { backup, restore, fingerprint, verifyBackup } from './backup.js';
import { configSet } from './config.js';

export const info: EngineInfo = {
  id: 'timescaledb',
  displayName: 'TimescaleDB',
  family: 'postgresql',
  kind: 'server',
  versions: TIMESCALEDB_VERSIONS,
  defaultVersion: '17',
  defaultPort: 5432,
  sources: TIMESCALEDB_SOURCES,
  defaultSource: timescaleDefaultSource,
  terms: { database: 'database', table: 'table' },
  keyMetrics: { connections: 'connections', cacheHitRatio: 'cache_hit_ratio', transactions: ['transactions'], replicationLagSeconds: 'replication_lag_seconds' },
  // the same pg_dump as PostgreSQL's
  backupCompression: PG_COMPRESSION,
};

/**
 * PostgreSQL with the TimescaleDB extension: PostgreSQL's operations, with TimescaleDB's own
 * install, initialize and create, hypertable-aware inspection, its maintenance tasks, backups
 * wrapped in timescaledb_pre_restore()/post_restore(), and a shared_preload_libraries that
 * always keeps timescaledb.
 */
export const engine: Engine = {
  ...postgresql,
  info,
  install,
  initialize,
  createDatabase,
  listTables,
  listTablesPage,
  tableInfo,
  performance,
  maintenanceTask,
  backup,
  restore,
  fingerprint,
  verifyBackup,
  configSet,
  unsupported: {
    ...postgresql.unsupported,
    embeddedStatus: 'TimescaleDB runs inside a PostgreSQL server; use `portunix-db status timescaledb`.',
  },
};
