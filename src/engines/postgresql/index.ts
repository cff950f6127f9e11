import type { Engine } from '../contract.js';
import { install, PG_SOURCES, PG_VERSIONS, pgDefaultSource } from './install.js';
import { initialize, launchSpec, isReady, readyState, readyWatch, shutdown, serverVersion, connectionUrl, clientCommand } from './instance.js';
import { listDatabases, createDatabase, dropDatabase, listUsers, createUser, deleteUser, grant, revoke } from './admin.js';
import * as inspect from './inspect.js';
import * as config from './config.js';
import { vacuum } from './maintenance.js';
import { validateIdentifier } from './identifiers.js';
import { backup, restore, fingerprint, verifyBackup, instanceContents, initializeFromBackup, PG_COMPRESSION } from './backup.js';
import { readonlyAccount, query, upstreamConnection } from './query.js';

export const engine: Engine = {
  info: {
    id: 'postgresql',
    displayName: 'PostgreSQL',
    family: 'postgresql',
    kind: 'server',
    versions: PG_VERSIONS,
    defaultVersion: '16',
    defaultPort: 5432,
    sources: PG_SOURCES,
    defaultSource: pgDefaultSource,
    terms: { database: 'database', table: 'table' },
    keyMetrics: { connections: 'connections', cacheHitRatio: 'cache_hit_ratio', transactions: ['transactions'], replicationLagSeconds: 'replication_lag_seconds' },
    parallelBackup: 'pg_dump/pg_restore workers on a directory-format dump (one file per table)',
    backupCompression: PG_COMPRESSION,
  },
  install,
  initialize,
  launchSpec,
  isReady,
  readyState,
  readyWatch,
  shutdown,
  serverVersion,
  connectionUrl,
  clientCommand,
  listDatabases,
  createDatabase,
  dropDatabase,
  listUsers,
  createUser,
  deleteUser,
  grant,
  revoke,
  databaseSizes: inspect.databaseSizes,
  listTables: inspect.listTables,
  listTablesPage: inspect.listTablesPage,
  schema: inspect.schema,
  schemaPage: inspect.schemaPage,
  tableInfo: inspect.tableInfo,
  indexes: inspect.indexes,
  constraints: inspect.constraints,
  connections: inspect.connections,
  performance: inspect.performance,
  health: inspect.health,
  enableStatements: inspect.enableStatements,
  configList: config.configList,
  configGet: config.configGet,
  configSet: config.configSet,
  vacuum,
  backup,
  restore,
  fingerprint,
  verifyBackup,
  instanceContents,
  initializeFromBackup,
  readonlyAccount,
  query,
  upstreamConnection,
  validateIdentifier,
  unsupported: {
    embeddedStatus: 'PostgreSQL is a server; use `portunix-db status postgresql`.',
  },
};
