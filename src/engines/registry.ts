import type { Engine } from './contract.js';
import type { EngineId } from './ids.js';

/** Engines load on first use; each module imports its driver lazily too. */
const loaders: Record<EngineId, () => Promise<Engine>> = {
  postgresql: async () => (await import('./postgresql/index.js')).engine,
  timescaledb: async () => (await import('./timescaledb/index.js')).engine,
  mysql: async () => (await import('./mysql/index.js')).engine,
  mariadb: async () => (await import('./mariadb/index.js')).engine,
  sqlite: async () => (await import('./sqlite/index.js')).engine,
  mongodb: async () => (await import('./mongodb/index.js')).engine,
  redis: async () => (await import('./redis/index.js')).engine,
  elasticsearch: async () => (await import('./elasticsearch/index.js')).engine,
  influxdb: async () => (await import('./influxdb/index.js')).engine,
};

const cache = new Map<EngineId, Promise<Engine>>();

export function loadEngine(id: EngineId): Promise<Engine> {
  let p = cache.get(id);
  if (!p) {
    p = loaders[id]();
    cache.set(id, p);
  }
  return p;
}
