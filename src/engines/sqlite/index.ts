import type { Engine } from '../contract.js';
import { NO_USERS, validateIdentifier } from './identifiers.js';
import { clientCommand, connectionUrl, createDatabase, dropDatabase, embeddedStatus, initialize, listDatabases, NO_CONNECTIONS, NO_SERVER, serverVersion } from './instance.js';
import { constraints, databaseSizes, health, indexes, listTables, performance, schema, tableInfo } from './inspect.js';
import { backup, fingerprint, restore, verifyBackup } from './backup.js';
import { configGet, configList, configSet } from './config.js';
import { vacuum } from './admin.js';
import { defaultSource, install } from './install.js';
import { query } from './query.js';

/**
 * SQLite: an embedded engine. An instance is a directory of database files (`<name>.db`),
 * plus files registered by path; everything runs in-process through better-sqlite3.
 */
export const engine: Engine = {
  info: {
    id: 'sqlite',
    displayName: 'SQLite',
    family: 'sqlite',
    kind: 'embedded',
    versions: [{ version: '3' }],
    defaultVersion: '3',
    sources: ['apt', 'dnf', 'brew', 'winget', 'embedded'],
    defaultSource: (host) => defaultSource(host),
    terms: { database: 'database file', table: 'table' },
  },
  install,
  unsupported: {
    launchSpec: NO_SERVER,
    isReady: NO_SERVER,
    shutdown: NO_SERVER,
    connections: NO_CONNECTIONS,
    listUsers: NO_USERS,
    createUser: NO_USERS,
    deleteUser: NO_USERS,
    grant: NO_USERS,
    revoke: NO_USERS,
    readonlyAccount: 'SQLite has no accounts; db_query opens the file read-only (mode=ro) with PRAGMA query_only, so SQLite itself refuses writes.',
    upstreamConnection: 'DBHub 1.4.0 cannot open a SQLite file read-only (its DSN drops mode=ro, and PRAGMA query_only can be switched off by a query); use db_query, which opens the file with mode=ro.',
    enableStatements: 'SQLite keeps no statement statistics; examine a query with EXPLAIN QUERY PLAN in the sqlite3 shell.',
  },
  initialize,
  serverVersion,
  embeddedStatus,
  connectionUrl,
  clientCommand,
  listDatabases,
  createDatabase,
  dropDatabase,
  databaseSizes,
  listTables,
  schema,
  tableInfo,
  indexes,
  constraints,
  performance,
  health,
  backup,
  restore,
  fingerprint,
  verifyBackup,
  configList,
  configGet,
  configSet,
  query,
  vacuum,
  validateIdentifier,
};
