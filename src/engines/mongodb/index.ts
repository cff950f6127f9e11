import type { Engine, EngineInfo } from '../contract.js';
import { createDatabase, createUser, deleteUser, dropDatabase, grant, listDatabases, listUsers, revoke } from './admin.js';
import { backup, fingerprint, restore } from './backup.js';
import { configGet, configList, configSet } from './config.js';
import { validateIdentifier } from './identifiers.js';
import { connections, constraints, databaseSizes, enableStatements, health, indexes, listTables, performance, schema, tableInfo } from './inspect.js';
import { install, MONGODB_SOURCES, MONGODB_VERSIONS, mongoDefaultSource } from './install.js';
import { clientCommand, connectionUrl, initialize, isReady, launchSpec, serverVersion, shutdown } from './instance.js';
import { vacuum } from './maintenance.js';
import { query, readonlyAccount, upstreamConnection } from './query.js';

export const info: EngineInfo = {
  id: 'mongodb',
  displayName: 'MongoDB',
  family: 'mongodb',
  kind: 'server',
  versions: MONGODB_VERSIONS,
  defaultVersion: '7.0',
  defaultPort: 27017,
  sources: MONGODB_SOURCES,
  defaultSource: mongoDefaultSource,
  terms: { database: 'database', table: 'collection' },
  keyMetrics: { connections: 'connections_current', operations: ['ops_insert', 'ops_query', 'ops_update', 'ops_delete', 'ops_getmore', 'ops_command', 'cmd_total'] },
};

export const engine: Engine = {
  info,
  install,
  unsupported: {
    embeddedStatus: 'MongoDB is a server: use `portunix-db status mongodb`.',
  },
  initialize,
  launchSpec,
  isReady,
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
  databaseSizes,
  listTables,
  schema,
  tableInfo,
  indexes,
  constraints,
  connections,
  performance,
  health,
  enableStatements,
  backup,
  restore,
  fingerprint,
  configList,
  configGet,
  configSet,
  vacuum,
  readonlyAccount,
  query,
  upstreamConnection,
  validateIdentifier,
};
