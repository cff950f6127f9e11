import type { Engine, EngineInfo } from '../contract.js';
import { createDatabase, createUser, deleteUser, dropDatabase, grant, listDatabases, listUsers, revoke, vacuum } from './admin.js';
import { backup, fingerprint, restore, verifyBackup } from './backup.js';
import { configGet, configList, configSet } from './config.js';
import { validateIdentifier } from './identifiers.js';
import { connections, databaseSizes, health, indexes, listTables, performance, schema, tableInfo } from './inspect.js';
import { ELASTICSEARCH_SOURCES, ELASTICSEARCH_VERSIONS, elasticDefaultSource, install } from './install.js';
import { clientCommand, connectionUrl, initialize, isReady, launchSpec, serverVersion, shutdown } from './instance.js';
import { query, readonlyAccount, upstreamConnection } from './query.js';

export const info: EngineInfo = {
  id: 'elasticsearch',
  displayName: 'Elasticsearch',
  family: 'elasticsearch',
  kind: 'server',
  versions: ELASTICSEARCH_VERSIONS,
  defaultVersion: '8',
  defaultPort: 9200,
  sources: ELASTICSEARCH_SOURCES,
  defaultSource: elasticDefaultSource,
  // one mapping of our words, the same in every tool: a database is an index (or a data stream);
  // its "table" is its mapping, and db_tables lists the mapping's fields
  terms: { database: 'index', table: 'mapping' },
  keyMetrics: { connections: 'http_connections_open', operations: ['indexing_ops', 'search_queries', 'get_ops'] },
  // a JVM: start-up takes tens of seconds, more on a small shared machine
  startTimeoutMs: 240_000,
  creationSettings: 'index settings (the "index." prefix is optional); defaults number_of_shards=1, number_of_replicas=0',
};

export const engine: Engine = {
  info,
  install,
  unsupported: {
    embeddedStatus: 'Elasticsearch is a server: use `portunix-db status elasticsearch`.',
    constraints: 'Elasticsearch has no constraints, keys or foreign keys: documents are checked only against the index mapping. Use db_table_info (`portunix-db table-info _mapping --database INDEX --type elasticsearch`) to see field types, and `dynamic: strict` in a mapping to refuse unknown fields.',
    enableStatements: 'Elasticsearch has no statement statistics to enable; slow searches go to the per-index slow log (index.search.slowlog.threshold.* settings, given with --setting when you create the index).',
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
  connections,
  performance,
  health,
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
  upstreamConnection,
  validateIdentifier,
};
