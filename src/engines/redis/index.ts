import type { Engine } from '../contract.js';
import { createDatabase, createUser, deleteUser, dropDatabase, grant, listDatabases, listUsers, revoke, vacuum } from './admin.js';
import { backup, fingerprint, restore, verifyBackup } from './backup.js';
import { configGet, configList, configSet } from './config.js';
import { validateIdentifier } from './identifiers.js';
import { connections, databaseSizes, enableStatements, health, listTables, performance } from './inspect.js';
import { defaultSource, distroVersion, install } from './install.js';
import { clientCommand, connectionUrl, initialize, isReady, launchSpec, serverVersion, shutdown } from './instance.js';
import { query, readonlyAccount } from './query.js';

const TABLES_INSTEAD = 'use db_tables (`portunix-db tables <keyspace> --type redis`) to list key types and prefixes';

export const engine: Engine = {
  info: {
    id: 'redis',
    displayName: 'Redis',
    family: 'redis',
    kind: 'server',
    versions: [
      // upstream: 7.0 maintenance ended 2024-07-31 (past end of life); 7.2 is supported until 2026-02-28
      { version: '7.0', latest: '7.0.15', eol: '2024-07-31' },
      { version: '7.2', eol: '2026-02-28' },
    ],
    defaultVersion: '7.2',
    hostDefaultVersion: distroVersion,
    defaultPort: 6379,
    sources: ['apt', 'dnf', 'brew', 'container'],
    defaultSource: (host) => defaultSource(host),
    terms: { database: 'keyspace', table: 'key type' },
    keyMetrics: { connections: 'connected_clients', cacheHitRatio: 'hit_ratio', operations: ['total_commands_processed'], replicationLagSeconds: 'master_last_io_seconds_ago' },
  },
  install,
  unsupported: {
    embeddedStatus: 'Redis is a server: use `portunix-db status redis`.',
    schema: `Redis has no schema; ${TABLES_INSTEAD}.`,
    tableInfo: `Redis keys have no columns or table structure; ${TABLES_INSTEAD}, and db_size for memory per keyspace.`,
    indexes: `Redis has no indexes (RediSearch is a module portunix-db does not manage); ${TABLES_INSTEAD}.`,
    constraints: `Redis has no constraints or foreign keys; ${TABLES_INSTEAD}.`,
    upstreamConnection: 'No upstream MCP server is wrapped for Redis; db_query runs read commands under the read-only ACL user.',
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
  connections,
  performance,
  health,
  enableStatements,
  backup,
  restore,
  fingerprint,
  verifyBackup,
  configList,
  configGet,
  configSet,
  vacuum,
  readonlyAccount,
  query,
  validateIdentifier,
};
