import type { Engine, EngineInfo } from '../contract.js';
import { plansOnlyUnsupported } from '../../core/install/vendor-steps.js';
import { install, MONGODB_SOURCES, MONGODB_VERSIONS, mongoDefaultSource } from './install.js';

export const info: EngineInfo = {
  id: 'mongodb',
  displayName: 'MongoDB',
  family: 'mongodb',
  kind: 'server',
  versions: MONGODB_VERSIONS,
  defaultVersion: '7.0',
  defaultPort: 27017,
  sources: MONGODB_SOURCES,
  defaultSource: mongoDefaultSource,
  terms: { database: 'database', table: 'collection' },
};

const STATEMENT =
  'MongoDB support in this version covers install plans (apt, dnf, brew, winget, checksum-verified download, container; dry-run tested). ' +
  'Instance lifecycle, administration, inspection and backups are not yet implemented for MongoDB. ' +
  'Start the server yourself with `mongod --dbpath <dir> --bind_ip 127.0.0.1 --port 27017`, and use mongosh, mongodump and mongorestore for administration.';

export const engine: Engine = {
  info,
  install,
  unsupported: plansOnlyUnsupported(STATEMENT, {
    listTables: 'MongoDB support covers install plans only; collections cannot be listed yet. Use `mongosh --eval "db.getCollectionNames()"`.',
    backup: 'MongoDB support covers install plans only; backups are not implemented. Use `mongodump --uri mongodb://127.0.0.1:27017 --archive=<file> --gzip`.',
    restore: 'MongoDB support covers install plans only; restores are not implemented. Use `mongorestore --archive=<file> --gzip`.',
    vacuum: 'MongoDB has no VACUUM; it reclaims space with the `compact` command (`db.runCommand({ compact: "<collection>" })`), which portunix-db does not run yet.',
    constraints: 'MongoDB has no table constraints; document validation rules live in each collection\'s validator (`db.getCollectionInfos()`).',
  }),
};
