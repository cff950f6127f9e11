import type { Engine, EngineInfo } from '../contract.js';
import { FLAVOURS, type FlavourId } from './client.js';
import { defaultSource, installOps, LATEST, sourcesFor } from './install.js';
import * as instance from './instance.js';
import * as admin from './admin.js';
import * as inspect from './inspect.js';
import * as backup from './backup.js';
import * as config from './config.js';
import { validateMysqlIdentifier } from './identifiers.js';
import * as readonly from './query.js';

const VERSIONS: Record<FlavourId, EngineInfo['versions']> = {
  mysql: [
    { version: '8.0', latest: LATEST['8.0']!, eol: '2026-04-30' },
    { version: '8.4', latest: LATEST['8.4']!, eol: '2032-04-30' },
  ],
  mariadb: [
    { version: '10.11', latest: LATEST['10.11']!, eol: '2028-02-16' },
    { version: '11.4', latest: LATEST['11.4']!, eol: '2029-05-29' },
  ],
};

/** One module for the family; the flavour says where MySQL and MariaDB differ. */
export function createMysqlFamilyEngine(id: FlavourId): Engine {
  const flavour = FLAVOURS[id];
  const info: EngineInfo = {
    id,
    displayName: flavour.displayName,
    family: 'mysql',
    kind: 'server',
    versions: VERSIONS[id],
    defaultVersion: id === 'mysql' ? '8.4' : '10.11',
    defaultPort: 3306,
    sources: sourcesFor(flavour),
    defaultSource: (host) => defaultSource(flavour, host),
    terms: { database: 'database', table: 'table' },
    keyMetrics: { connections: 'threads_connected', cacheHitRatio: 'cache_hit_ratio', transactions: ['Com_commit', 'Com_rollback'], operations: ['Questions'] },
  };
  return {
    info,
    install: installOps(flavour),
    unsupported: {
      embeddedStatus: `${flavour.displayName} is a server; use \`portunix-db status ${id}\`.`,
      verifyBackup: `${flavour.displayName} backups are verified by restoring into a scratch server (never the live one) and comparing row counts and CHECKSUM TABLE values.`,
    },
    initialize: (ctx) => instance.initialize(ctx, flavour),
    launchSpec: (ctx) => instance.launchSpec(ctx, flavour),
    isReady: instance.isReady,
    shutdown: instance.shutdown,
    serverVersion: instance.serverVersion,
    connectionUrl: instance.connectionUrl,
    clientCommand: (ctx, conn) => instance.clientCommand(ctx, conn, flavour),
    listDatabases: admin.listDatabases,
    createDatabase: admin.createDatabase,
    dropDatabase: admin.dropDatabase,
    listUsers: admin.listUsers,
    createUser: admin.createUser,
    deleteUser: admin.deleteUser,
    grant: admin.grant,
    revoke: admin.revoke,
    vacuum: admin.vacuum,
    databaseSizes: inspect.databaseSizes,
    listTables: inspect.listTables,
    schema: inspect.schema,
    tableInfo: inspect.tableInfo,
    indexes: inspect.indexes,
    constraints: inspect.constraints,
    connections: inspect.connections,
    performance: (ctx, options) => inspect.performance(ctx, options, flavour),
    health: inspect.health,
    enableStatements: (ctx) => config.enableStatements(ctx, flavour),
    backup: (ctx, options) => backup.backup(ctx, options, flavour),
    restore: (ctx, options) => backup.restore(ctx, options, flavour),
    fingerprint: backup.fingerprint,
    configList: (ctx) => config.configList(ctx, flavour),
    configGet: (ctx, name) => config.configGet(ctx, name, flavour),
    configSet: (ctx, name, value) => config.configSet(ctx, name, value, flavour),
    readonlyAccount: (ctx, spec) => readonly.readonlyAccount(ctx, spec, flavour),
    query: (ctx, request) => readonly.query(ctx, request, flavour),
    upstreamConnection: (ctx, options) => readonly.upstreamConnection(ctx, options, flavour),
    validateIdentifier: validateMysqlIdentifier,
  };
}
