import { UsageError } from '../core/errors.js';
import { closest } from '../core/did-you-mean.js';

/** The closed set of engines. Adding one here makes the compiler point at every table that must learn it. */
export const ENGINE_IDS = [
  'postgresql',
  'timescaledb',
  'mysql',
  'mariadb',
  'sqlite',
  'mongodb',
  'redis',
  'elasticsearch',
  'influxdb',
] as const;
export type EngineId = (typeof ENGINE_IDS)[number];

export const SOURCE_IDS = ['portable', 'apt', 'dnf', 'brew', 'winget', 'choco', 'download', 'container', 'embedded', 'archive', 'bin-dir'] as const;
export type SourceId = (typeof SOURCE_IDS)[number];

/** Sources that take binaries the user already has (`--archive FILE`, `--bin-dir DIR`); any engine with `install.localBinaries` has them. */
export const LOCAL_SOURCE_IDS = ['archive', 'bin-dir'] as const satisfies readonly SourceId[];
export type LocalSourceId = (typeof LOCAL_SOURCE_IDS)[number];

const ALIASES: Record<string, EngineId> = {
  postgres: 'postgresql',
  pg: 'postgresql',
  pgsql: 'postgresql',
  timescale: 'timescaledb',
  maria: 'mariadb',
  sqlite3: 'sqlite',
  mongo: 'mongodb',
  es: 'elasticsearch',
  elastic: 'elasticsearch',
  influx: 'influxdb',
};

export function isEngineId(value: string): value is EngineId {
  return (ENGINE_IDS as readonly string[]).includes(value);
}

export function parseEngineId(value: string): EngineId {
  const lower = value.trim().toLowerCase();
  if (isEngineId(lower)) return lower;
  const alias = Object.hasOwn(ALIASES, lower) ? ALIASES[lower] : undefined;
  if (alias) return alias;
  const guess = closest(lower, [...ENGINE_IDS, ...Object.keys(ALIASES)]);
  const suggestion = guess ? ` Did you mean "${ALIASES[guess] ?? guess}"?` : '';
  throw new UsageError(`Unknown engine "${value}".${suggestion} Known engines: ${ENGINE_IDS.join(', ')}.`, 'UNKNOWN_ENGINE');
}

export function parseSourceId(value: string, allowed: readonly SourceId[]): SourceId {
  const lower = value.trim().toLowerCase() as SourceId;
  if (allowed.includes(lower)) return lower;
  const guess = closest(lower, allowed);
  const suggestion = guess ? ` Did you mean "${guess}"?` : '';
  throw new UsageError(`Unknown install source "${value}".${suggestion} Sources for this engine: ${allowed.join(', ')}.`, 'UNKNOWN_SOURCE');
}
