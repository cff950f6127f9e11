import { NotApplicableError } from '../core/errors.js';
import type { Engine, EngineOps, Operation } from './contract.js';

const OPERATION_WORDS: Record<Operation, string> = {
  initialize: 'initialising an instance',
  launchSpec: 'running a server process',
  isReady: 'a server to connect to',
  readyState: 'a server to connect to',
  readyWatch: 'a server to connect to',
  shutdown: 'a server to stop',
  serverVersion: 'a server version',
  embeddedStatus: 'embedded status',
  connectionUrl: 'connection URLs',
  clientCommand: 'client commands',
  listDatabases: 'listing databases',
  createDatabase: 'creating databases',
  dropDatabase: 'dropping databases',
  listUsers: 'users',
  createUser: 'users',
  deleteUser: 'users',
  grant: 'grants',
  revoke: 'grants',
  databaseSizes: 'database sizes',
  listTables: 'tables',
  listTablesPage: 'tables',
  schemaPage: 'schemas',
  schema: 'schemas',
  tableInfo: 'table structure',
  indexes: 'indexes',
  constraints: 'constraints',
  connections: 'connection listing',
  performance: 'performance metrics',
  health: 'health checks',
  enableStatements: 'statement statistics',
  backup: 'backups',
  restore: 'restores',
  fingerprint: 'backup verification',
  verifyBackup: 'backup verification',
  instanceContents: 'listing what a whole-instance restore replaces',
  initializeFromBackup: 'restoring a whole-instance backup as a new instance (--as-instance)',
  configList: 'configuration',
  configGet: 'configuration',
  configSet: 'configuration',
  vacuum: 'maintenance',
  maintenanceTask: 'maintenance tasks (`vacuum --task`); plain `vacuum` runs its maintenance',
  readonlyAccount: 'read-only accounts',
  query: 'queries',
  upstreamConnection: 'upstream MCP servers',
  validateIdentifier: 'identifiers',
};

/** The operation, bound to its engine, or a typed error in the engine's own words. */
export function need<K extends Operation>(engine: Engine, op: K): NonNullable<EngineOps[K]> {
  const fn = engine[op];
  if (typeof fn === 'function') return (fn as (...args: unknown[]) => unknown).bind(engine) as NonNullable<EngineOps[K]>;
  const reason = engine.unsupported[op] ?? `${engine.info.displayName} does not support ${OPERATION_WORDS[op]}.`;
  throw new NotApplicableError(reason);
}

export function has(engine: Engine, op: Operation): boolean {
  return typeof engine[op] === 'function';
}
