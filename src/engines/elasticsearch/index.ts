import type { Engine, EngineInfo } from '../contract.js';
import { plansOnlyUnsupported } from '../../core/install/vendor-steps.js';
import { ELASTICSEARCH_SOURCES, ELASTICSEARCH_VERSIONS, elasticDefaultSource, install } from './install.js';

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
  // An index is what users create, list and drop; inside it there are no tables, only its field mapping.
  terms: { database: 'index', table: 'mapping' },
};

const STATEMENT =
  'Elasticsearch support in this version covers install plans (apt, dnf, checksum-verified download, container; dry-run tested). ' +
  'Instance lifecycle, administration, inspection and snapshots are not yet implemented for Elasticsearch. ' +
  'Start it yourself with `bin/elasticsearch -E http.host=127.0.0.1 -E http.port=9200` and use its REST API (curl -u elastic https://127.0.0.1:9200/_cat/indices).';

export const engine: Engine = {
  info,
  install,
  unsupported: plansOnlyUnsupported(STATEMENT, {
    listTables: 'Elasticsearch indices hold documents, not tables; an index has one field mapping (GET /<index>/_mapping). Listing is not implemented yet: use `curl -u elastic https://127.0.0.1:9200/_cat/indices`.',
    constraints: 'Elasticsearch has no constraints; field rules live in the index mapping (GET /<index>/_mapping).',
    vacuum: 'Elasticsearch has no VACUUM; the nearest is force-merge (POST /<index>/_forcemerge), which portunix-db does not run yet.',
    backup: 'Elasticsearch backups are snapshots to a registered repository (PUT /_snapshot/...); portunix-db does not create them yet.',
    restore: 'Elasticsearch restores come from snapshots (POST /_snapshot/<repo>/<snapshot>/_restore); portunix-db does not run them yet.',
  }),
};
