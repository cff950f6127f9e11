/**
 * The core operations the MCP tools call, as one injectable object. The server uses the
 * real core (loaded lazily, so `mcp tools` stays fast); unit tests pass a fake.
 * No behaviour lives here: each entry forwards to exactly one core operation.
 */
import type * as Lifecycle from '../core/ops/lifecycle.js';
import type * as Data from '../core/ops/data.js';
import type * as Inspect from '../core/ops/inspect.js';
import type * as Backup from '../core/ops/backup.js';
import type * as Schedule from '../core/ops/backup-schedule.js';
import type * as Maintenance from '../core/ops/maintenance.js';
import type * as Query from '../core/ops/query.js';
import type * as Monitor from '../core/monitor/query.js';

export interface CoreOps {
  status: typeof Lifecycle.status;
  listDatabases: typeof Data.listDatabases;
  sizes: typeof Inspect.sizes;
  tables: typeof Inspect.tables;
  schema: typeof Inspect.schema;
  tableInfo: typeof Inspect.tableInfo;
  indexes: typeof Inspect.indexes;
  constraints: typeof Inspect.constraints;
  connections: typeof Inspect.connections;
  performance: typeof Inspect.performance;
  enableStatements: typeof Inspect.enableStatements;
  backupStatus: typeof Backup.backupStatus;
  backupHealth: typeof Schedule.backupHealth;
  createBackup: typeof Backup.createBackup;
  restoreBackup: typeof Backup.restoreBackup;
  describeRestore: typeof Backup.describeRestore;
  vacuum: typeof Maintenance.vacuum;
  query: typeof Query.runQuery;
  trend: typeof Monitor.trend;
  monitorAlerts: typeof Monitor.monitorAlerts;
}

const lifecycle = () => import('../core/ops/lifecycle.js');
const data = () => import('../core/ops/data.js');
const inspect = () => import('../core/ops/inspect.js');
const backup = () => import('../core/ops/backup.js');
const maintenance = () => import('../core/ops/maintenance.js');
const query = () => import('../core/ops/query.js');
const monitor = () => import('../core/monitor/query.js');

export const realCore: CoreOps = {
  status: async (a) => (await lifecycle()).status(a),
  listDatabases: async (a) => (await data()).listDatabases(a),
  sizes: async (a) => (await inspect()).sizes(a),
  tables: async (a) => (await inspect()).tables(a),
  schema: async (a) => (await inspect()).schema(a),
  tableInfo: async (a) => (await inspect()).tableInfo(a),
  indexes: async (a) => (await inspect()).indexes(a),
  constraints: async (a) => (await inspect()).constraints(a),
  connections: async (a) => (await inspect()).connections(a),
  performance: async (a) => (await inspect()).performance(a),
  enableStatements: async (a) => (await inspect()).enableStatements(a),
  backupStatus: async (a) => (await backup()).backupStatus(a),
  backupHealth: async (a) => (await import('../core/ops/backup-schedule.js')).backupHealth(a),
  createBackup: async (a) => (await backup()).createBackup(a),
  restoreBackup: async (a) => (await backup()).restoreBackup(a),
  describeRestore: async (a) => (await backup()).describeRestore(a),
  vacuum: async (a) => (await maintenance()).vacuum(a),
  query: async (a) => (await query()).runQuery(a),
  trend: async (a) => (await monitor()).trend(a),
  monitorAlerts: async () => (await monitor()).monitorAlerts(),
};
