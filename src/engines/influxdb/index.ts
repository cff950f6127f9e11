import type { Engine, EngineInfo } from '../contract.js';
import { plansOnlyUnsupported } from '../../core/install/vendor-steps.js';
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
  terms: { database: 'bucket', table: 'measurement' },
};

const STATEMENT =
  'InfluxDB support in this version covers install plans (apt, dnf, brew, checksum-verified download, container; dry-run tested). ' +
  'Instance lifecycle, administration, inspection and backups are not yet implemented for InfluxDB. ' +
  'Start it yourself with `influxd --http-bind-address 127.0.0.1:8086`, run `influx setup`, and use the influx CLI (influx bucket list, influx backup).';

export const engine: Engine = {
  info,
  install,
  unsupported: plansOnlyUnsupported(STATEMENT, {
    listTables: 'InfluxDB buckets hold measurements, not tables; listing them is not implemented yet. Use `influx query \'import "influxdata/influxdb/schema" schema.measurements(bucket: "<bucket>")\'`.',
    constraints: 'InfluxDB has no constraints or foreign keys.',
    indexes: 'InfluxDB indexes tags automatically; there are no user-defined indexes to list.',
    vacuum: 'InfluxDB has no VACUUM; it compacts storage itself, and retention is set per bucket (`influx bucket update --retention`).',
    backup: 'InfluxDB backups are not implemented by portunix-db yet. Use `influx backup <dir> -t <operator token>`.',
    restore: 'InfluxDB restores are not implemented by portunix-db yet. Use `influx restore <dir>`.',
  }),
};
