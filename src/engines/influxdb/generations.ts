/**
 * One engine, two API generations. Which one a version speaks is data (`apiOf` over the
 * version table in install.ts); each generation is a table of the operations it implements and
 * of what it lacks, in its own words. index.ts dispatches through this table only.
 */
import type { EngineOps, InstanceContext, Operation } from '../contract.js';
import { createDatabaseV1, createDatabaseV2, createUserV1, createUserV2, deleteUserV1, deleteUserV2, dropDatabaseV1, dropDatabaseV2, grantV1, grantV2, listDatabasesV1, listDatabasesV2, listUsersV1, listUsersV2, revokeV1, revokeV2 } from './admin.js';
import { backupV1, backupV2, fingerprintV1, fingerprintV2, restoreV1, restoreV2 } from './backup.js';
import { configGetV1, configGetV2, configListV1, configListV2 } from './config.js';
import { connectionsV1, databaseSizesV1, healthV1, healthV2, listTablesV1, listTablesV2, performanceV1, performanceV2, schemaV1, tableInfoV1, tableInfoV2 } from './inspect.js';
import { apiOf, type InfluxApi } from './install.js';
import { queryV1, queryV2, readonlyAccountV1, readonlyAccountV2 } from './query.js';
import { connectionUrlV1, connectionUrlV2, initializeV1, initializeV2, isReadyV1, isReadyV2, launchSpecV1, launchSpecV2, serverVersionV1, serverVersionV2 } from './instance.js';

/** The operations that differ by generation (validateIdentifier is one for both). */
export type GenerationOp = Exclude<Operation, 'validateIdentifier'>;

export interface Generation {
  api: InfluxApi;
  /** How the tool talks to it, for messages and docs. */
  label: string;
  ops: Partial<Pick<EngineOps, GenerationOp>>;
  /** Why an operation is absent in this generation, and what to use instead. */
  unsupported: Partial<Record<GenerationOp, string>>;
}

export const GENERATIONS: Record<InfluxApi, Generation> = {
  influxql: {
    api: 'influxql',
    label: 'InfluxDB 1.x: InfluxQL over the HTTP API, influxd backup/restore -portable',
    ops: {
      initialize: initializeV1,
      launchSpec: launchSpecV1,
      isReady: isReadyV1,
      serverVersion: serverVersionV1,
      connectionUrl: connectionUrlV1,
      listDatabases: listDatabasesV1,
      createDatabase: createDatabaseV1,
      dropDatabase: dropDatabaseV1,
      listUsers: listUsersV1,
      createUser: createUserV1,
      deleteUser: deleteUserV1,
      grant: grantV1,
      revoke: revokeV1,
      databaseSizes: databaseSizesV1,
      listTables: listTablesV1,
      schema: schemaV1,
      tableInfo: tableInfoV1,
      connections: connectionsV1,
      performance: performanceV1,
      health: healthV1,
      backup: backupV1,
      restore: restoreV1,
      fingerprint: fingerprintV1,
      configList: configListV1,
      configGet: configGetV1,
      readonlyAccount: readonlyAccountV1,
      query: queryV1,
    },
    unsupported: {},
  },
  v2: {
    api: 'v2',
    label: 'InfluxDB 2.x: /api/v2 with @influxdata/influxdb-client(-apis), Flux, influx backup/restore',
    ops: {
      initialize: initializeV2,
      launchSpec: launchSpecV2,
      isReady: isReadyV2,
      serverVersion: serverVersionV2,
      connectionUrl: connectionUrlV2,
      listDatabases: listDatabasesV2,
      createDatabase: createDatabaseV2,
      dropDatabase: dropDatabaseV2,
      listUsers: listUsersV2,
      createUser: createUserV2,
      deleteUser: deleteUserV2,
      grant: grantV2,
      revoke: revokeV2,
      listTables: listTablesV2,
      tableInfo: tableInfoV2,
      performance: performanceV2,
      health: healthV2,
      backup: backupV2,
      restore: restoreV2,
      fingerprint: fingerprintV2,
      configList: configListV2,
      configGet: configGetV2,
      readonlyAccount: readonlyAccountV2,
      query: queryV2,
    },
    unsupported: {
      databaseSizes: 'InfluxDB 2.x reports storage per shard in /metrics (storage_shard_disk_size), not per bucket by name; use db_performance (`portunix-db metrics influxdb`).',
      schema: 'InfluxDB 2.x buckets have no retention-policy level; use db_tables (`portunix-db tables BUCKET --type influxdb`) for measurements and db_table_info for their tags and fields.',
      connections: 'InfluxDB 2.x has no API that lists sessions or running queries; use db_performance for query counters from /metrics.',
    },
  },
};

export function generationOf(ctx: Pick<InstanceContext, 'config'>): Generation {
  return GENERATIONS[apiOf(ctx.config.version)];
}

/** Every operation some generation implements (what the engine offers at all). */
export function offeredOps(): GenerationOp[] {
  const all = new Set<GenerationOp>();
  for (const g of Object.values(GENERATIONS)) for (const op of Object.keys(g.ops) as GenerationOp[]) all.add(op);
  return [...all];
}
