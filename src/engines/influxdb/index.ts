import { NotApplicableError } from '../../core/errors.js';
import { curlCommand } from '../../core/tls.js';
import type { Engine, EngineInfo, EngineOps, InstanceContext, Operation } from '../contract.js';
import { generationOf, offeredOps, type GenerationOp } from './generations.js';
import { validateIdentifier } from './identifiers.js';
import { INFLUXDB_SOURCES, INFLUXDB_VERSIONS, influxDefaultSource, install } from './install.js';

export const info: EngineInfo = {
  id: 'influxdb',
  displayName: 'InfluxDB',
  family: 'influxdb',
  kind: 'server',
  versions: INFLUXDB_VERSIONS,
  defaultVersion: '2',
  defaultPort: 8086,
  sources: INFLUXDB_SOURCES,
  defaultSource: influxDefaultSource,
  terms: { database: 'database', table: 'measurement' },
  keyMetrics: { operations: ['httpd.req', 'http_api_requests_total'] },
};

/** An operation that runs the instance's generation's own implementation, or says why it has none. */
function dispatch(op: GenerationOp): (ctx: InstanceContext, ...args: unknown[]) => unknown {
  return (ctx, ...args) => {
    const g = generationOf(ctx);
    const fn = g.ops[op] as ((c: InstanceContext, ...a: unknown[]) => unknown) | undefined;
    if (!fn) throw new NotApplicableError(g.unsupported[op] ?? `InfluxDB ${ctx.config.version} (${g.label}) does not offer this.`);
    return fn(ctx, ...args);
  };
}

const ops: Partial<EngineOps> = Object.fromEntries(offeredOps().map((op) => [op, dispatch(op)])) as Partial<EngineOps>;

const NO_INDEXES = 'InfluxDB indexes every tag itself; there are no user-defined indexes. Use db_table_info (`portunix-db table-info MEASUREMENT --type influxdb --database DB`) to see which columns are tags.';

export const engine: Engine = {
  info,
  install,
  unsupported: {
    embeddedStatus: 'InfluxDB is a server: use `portunix-db status influxdb`.',
    indexes: NO_INDEXES,
    constraints: 'InfluxDB has no constraints or foreign keys; a point is identified by measurement, tag set and time. Use db_table_info for tags and fields.',
    vacuum: 'InfluxDB has no VACUUM: it compacts its TSM files itself, and retention policies (1.x) or bucket retention (2.x) drop old data. Use db_tables to see retention policies.',
    enableStatements: 'InfluxDB needs nothing enabled for metrics: db_performance reads SHOW STATS / SHOW DIAGNOSTICS (1.x) or /metrics (2.x) directly.',
    upstreamConnection: 'No upstream MCP server is wrapped for InfluxDB; db_query runs InfluxQL (1.x) or Flux (2.x) under the read-only account.',
    configSet: 'InfluxDB reads its settings at start: edit the instance config file (1.x: the influxdb.conf `portunix-db config list influxdb` comes from; 2.x: influxd flags) and run `portunix-db restart influxdb`.',
  } satisfies Partial<Record<Operation, string>>,
  ...ops,
  // both generations answer /ping (204) without credentials: the check that the server and its certificate work
  clientCommand: (_ctx, conn) => curlCommand(`${new URL(conn.url).origin}/ping`, conn.url.startsWith('https:') ? conn.ca : undefined),
  validateIdentifier,
};
