import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceContext } from '../contract.js';
import { need } from '../need.js';
import { DbError } from '../../core/errors.js';
import { engine as postgresql } from '../postgresql/index.js';
import { PORTUNIX_CONF } from '../postgresql/instance.js';
import { withClient } from '../postgresql/client.js';

/**
 * What timescaledb-tune would do for loading: preload the extension library and turn off
 * telemetry. Pure, for tests: takes portunix.conf and returns it with the settings applied.
 */
export function enableTimescalePreload(conf: string): string {
  const lines = conf.split('\n');
  let found = false;
  const out = lines.map((line) => {
    const m = /^\s*shared_preload_libraries\s*=\s*'([^']*)'/.exec(line);
    if (!m) return line;
    found = true;
    const libs = m[1]!.split(',').map((s) => s.trim()).filter(Boolean);
    if (!libs.includes('timescaledb')) libs.unshift('timescaledb');
    return `shared_preload_libraries = '${libs.join(',')}'`;
  });
  if (!found) out.splice(out.length - (out[out.length - 1] === '' ? 1 : 0), 0, "shared_preload_libraries = 'timescaledb'");
  let text = out.join('\n');
  if (!/^\s*timescaledb\.telemetry_level\s*=/m.test(text)) text = text.replace(/\n?$/, "\ntimescaledb.telemetry_level = 'off'\n");
  return text;
}

/** PostgreSQL's initdb, then the TimescaleDB settings in the portunix.conf that PostgreSQL's initialize wrote. */
export async function initialize(ctx: InstanceContext): Promise<void> {
  await need(postgresql, 'initialize')(ctx);
  const file = join(ctx.paths.dataDir, PORTUNIX_CONF);
  const conf = await readFile(file, 'utf8').catch(() => {
    throw new DbError(`PostgreSQL's initialisation did not write ${file}.`, 'INTERNAL');
  });
  // writeFile on an existing file keeps its owner (the service user) and mode
  await writeFile(file, enableTimescalePreload(conf));
  ctx.progress("TimescaleDB: shared_preload_libraries = 'timescaledb' (telemetry off)");
}

/** CREATE DATABASE, then CREATE EXTENSION timescaledb inside it. */
export async function createDatabase(ctx: InstanceContext, name: string, options: { owner?: string; charset?: string; collation?: string }): Promise<{ created: boolean; message?: string }> {
  const result = await need(postgresql, 'createDatabase')(ctx, name, options);
  await withClient(ctx, name, (c) => c.query('CREATE EXTENSION IF NOT EXISTS timescaledb'));
  return { ...result, message: `${result.message ?? `Created database "${name}".`} TimescaleDB extension enabled.` };
}
