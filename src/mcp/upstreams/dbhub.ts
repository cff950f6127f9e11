/**
 * DBHub (@bytebase/dbhub): execute_sql and search_objects for PostgreSQL, MySQL and MariaDB.
 * One child serves every instance through a multi-source TOML file (mode 0600, in a 0700 folder,
 * removed when the server stops). DBHub's own keyword filter (`readonly = true`) is left off on
 * purpose: the read-only account makes the database refuse writes, which a filter cannot promise.
 */
import { join } from 'node:path';
import type { UpstreamDef, UpstreamSource } from '../upstream.js';
import { writeSecretFile } from '../upstream.js';

/** TOML basic strings take JSON's escapes. */
function str(value: string): string {
  return JSON.stringify(value);
}

export function sourceId(s: Pick<UpstreamSource, 'engine' | 'instance'>): string {
  return `${s.engine}_${s.instance}`.replace(/[^A-Za-z0-9_]/g, '_');
}

/** The TOML DBHub reads. Pure, for tests. */
export function dbhubToml(sources: UpstreamSource[], limits: { maxRows: number; timeoutMs: number }): string {
  const lines: string[] = [];
  for (const s of sources) {
    lines.push('[[sources]]', `id = ${str(sourceId(s))}`, `dsn = ${str(s.settings['dsn'] ?? '')}`);
    if (s.settings['sslmode']) lines.push(`sslmode = ${str(s.settings['sslmode'])}`);
    if (s.settings['sslrootcert']) lines.push(`sslrootcert = ${str(s.settings['sslrootcert'])}`);
    lines.push('connection_timeout = 10', `query_timeout = ${Math.max(1, Math.round(limits.timeoutMs / 1000))}`, '');
    lines.push('[[tools]]', 'name = "execute_sql"', `source = ${str(sourceId(s))}`, `max_rows = ${limits.maxRows}`, '');
    lines.push('[[tools]]', 'name = "search_objects"', `source = ${str(sourceId(s))}`, '');
  }
  return lines.join('\n');
}

export const dbhub: UpstreamDef = {
  id: 'dbhub',
  title: 'DBHub',
  package: '@bytebase/dbhub',
  version: '1.4.0',
  prefix: 'sql',
  perSource: false,
  async configure(sources, dir, limits) {
    const file = join(dir, 'dbhub.toml');
    await writeSecretFile(file, dbhubToml(sources, limits));
    return { args: ['--transport', 'stdio', '--config', file], env: { NODE_NO_WARNINGS: '1' } };
  },
  queryOf(tool, args) {
    return tool.startsWith('execute_sql') && typeof args['sql'] === 'string' ? args['sql'] : `${tool} ${JSON.stringify(args)}`;
  },
};
