import type { Engine, EngineInfo } from '../contract.js';
import { engine as postgresql } from '../postgresql/index.js';
import { install, TIMESCALEDB_SOURCES, TIMESCALEDB_VERSIONS, timescaleDefaultSource } from './install.js';
import { createDatabase, initialize } from './instance.js';

export const info: EngineInfo = {
  id: 'timescaledb',
  displayName: 'TimescaleDB',
  family: 'postgresql',
  kind: 'server',
  versions: TIMESCALEDB_VERSIONS,
  defaultVersion: '17',
  defaultPort: 5432,
  sources: TIMESCALEDB_SOURCES,
  defaultSource: timescaleDefaultSource,
  terms: { database: 'database', table: 'table' },
};

/** PostgreSQL with the TimescaleDB extension: every operation is PostgreSQL's except install, initialize and create. */
export const engine: Engine = {
  ...postgresql,
  info,
  install,
  initialize,
  createDatabase,
  unsupported: {
    ...postgresql.unsupported,
    embeddedStatus: 'TimescaleDB runs inside a PostgreSQL server; use `portunix-db status timescaledb`.',
  },
};
