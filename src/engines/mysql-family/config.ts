import { readFile } from 'node:fs/promises';
import type { Connection } from 'mysql2/promise';
import type { ConfigChange, ConfigSetting, InstanceContext } from '../contract.js';
import { DbError } from '../../core/errors.js';
import { closest } from '../../core/did-you-mean.js';
import { query, withConnection, type Flavour } from './client.js';
import { parseExtraSettings, writeOptionFile } from './instance.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

async function readExtras(ctx: InstanceContext): Promise<Record<string, string>> {
  try {
    return parseExtraSettings(await readFile(ctx.paths.configFile, 'utf8'));
  } catch {
    return {};
  }
}

/** MariaDB lists which variables are read-only; MySQL does not (we learn it from SET's error). */
async function readOnlyMap(c: Connection, flavour: Flavour): Promise<Map<string, boolean>> {
  if (flavour.id !== 'mariadb') return new Map();
  const rows = await query<{ n: string; ro: string }>(c, 'SELECT LOWER(VARIABLE_NAME) AS n, READ_ONLY AS ro FROM information_schema.SYSTEM_VARIABLES');
  return new Map(rows.map((r) => [r.n, r.ro === 'YES']));
}

async function mysqlSources(c: Connection, flavour: Flavour): Promise<Map<string, string>> {
  if (flavour.id !== 'mysql') return new Map();
  try {
    const rows = await query<{ n: string; s: string }>(c, 'SELECT VARIABLE_NAME AS n, VARIABLE_SOURCE AS s FROM performance_schema.variables_info');
    return new Map(rows.map((r) => [r.n.toLowerCase(), r.s]));
  } catch {
    return new Map();
  }
}

export async function configList(ctx: InstanceContext, flavour: Flavour): Promise<ConfigSetting[]> {
  const extras = await readExtras(ctx);
  return withConnection(ctx, undefined, async (c) => {
    const rows = await query<{ Variable_name: string; Value: string }>(c, 'SHOW GLOBAL VARIABLES');
    const ro = await readOnlyMap(c, flavour);
    const sources = await mysqlSources(c, flavour);
    return rows.map((r) => {
      const name = r.Variable_name.toLowerCase();
      const s: ConfigSetting = { name, value: r.Value ?? '' };
      const src = name in extras ? `option file (${ctx.paths.configFile})` : sources.get(name)?.toLowerCase();
      if (src) s.source = src;
      if (ro.has(name)) s.restartRequired = ro.get(name)!;
      return s;
    });
  });
}

function validateName(name: string): string {
  if (!NAME.test(name)) throw new DbError(`Invalid setting name ${JSON.stringify(name)}.`, 'USAGE', 'Setting names are words such as max_connections or innodb_buffer_pool_size.');
  return name.toLowerCase().replace(/-/g, '_');
}

async function requireVariable(c: Connection, ctx: InstanceContext, name: string): Promise<string> {
  const rows = await query<{ Variable_name: string; Value: string }>(c, 'SHOW GLOBAL VARIABLES WHERE Variable_name = ?', [name]);
  const row = rows[0];
  if (!row) {
    const all = (await query<{ Variable_name: string }>(c, 'SHOW GLOBAL VARIABLES')).map((r) => r.Variable_name);
    const guess = closest(name, all);
    throw new DbError(`${ctx.engine} has no setting "${name}".${guess ? ` Did you mean "${guess}"?` : ''}`, 'NOT_FOUND', `List settings with \`portunix-db config show ${ctx.engine}\`.`);
  }
  return row.Value ?? '';
}

export async function configGet(ctx: InstanceContext, name: string, flavour: Flavour): Promise<ConfigSetting> {
  const key = validateName(name);
  const extras = await readExtras(ctx);
  return withConnection(ctx, undefined, async (c) => {
    const value = await requireVariable(c, ctx, key);
    const ro = await readOnlyMap(c, flavour);
    const sources = await mysqlSources(c, flavour);
    const s: ConfigSetting = { name: key, value };
    const src = key in extras ? `option file (${ctx.paths.configFile})` : sources.get(key)?.toLowerCase();
    if (src) s.source = src;
    if (ro.has(key)) s.restartRequired = ro.get(key)!;
    if (key in extras && extras[key] !== value) s.description = `The option file sets ${extras[key]}; it takes effect at the next restart.`;
    return s;
  });
}

/** Values for SET: integers as numbers, 256M-style sizes as bytes, ON/OFF and words as strings. */
export function sqlValue(value: string): string | number {
  const v = value.trim();
  if (/^-?\d+$/.test(v)) return Number(v);
  const m = /^(\d+)([KMG])$/i.exec(v);
  if (m) return Number(m[1]) * 1024 ** (' KMG'.indexOf(m[2]!.toUpperCase()));
  return v;
}

function optionFileValue(value: string): string {
  if (/[\n\r#\\"']/.test(value)) throw new DbError(`The value ${JSON.stringify(value)} cannot be written to an option file.`, 'USAGE', 'Use a plain value without quotes, "#" or line breaks.');
  return value.trim();
}

function isReadOnlyError(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; message?: string };
  return e.code === 'ER_INCORRECT_GLOBAL_LOCAL_VAR' || e.errno === 1238 || /read only variable/i.test(e.message ?? '');
}

/**
 * MySQL: SET PERSIST (live, stored in mysqld-auto.cnf), or SET PERSIST_ONLY for read-only
 * variables (restart required). MariaDB: SET GLOBAL for dynamic variables, and always the
 * instance's option file so the value survives a restart.
 */
export async function configSet(ctx: InstanceContext, name: string, value: string, flavour: Flavour): Promise<ConfigChange> {
  const key = validateName(name);
  const v = sqlValue(value);
  if (flavour.id === 'mysql') {
    return withConnection(ctx, undefined, async (c) => {
      const previous = await requireVariable(c, ctx, key);
      try {
        await c.query(`SET PERSIST ${key} = ?`, [v]);
        return { name: key, previous, value: await requireVariable(c, ctx, key), applied: 'live', persisted: 'SET PERSIST (mysqld-auto.cnf in the data directory)' };
      } catch (err) {
        if (!isReadOnlyError(err)) throw err;
        await c.query(`SET PERSIST_ONLY ${key} = ?`, [v]);
        return { name: key, previous, value: String(value), applied: 'restart-required', persisted: 'SET PERSIST_ONLY (mysqld-auto.cnf in the data directory); restart the instance to apply it' };
      }
    });
  }
  const fileValue = optionFileValue(value);
  const change = await withConnection(ctx, undefined, async (c) => {
    const previous = await requireVariable(c, ctx, key);
    const ro = (await readOnlyMap(c, flavour)).get(key) ?? false;
    if (ro) return { name: key, previous, value: fileValue, applied: 'restart-required' as const };
    await c.query(`SET GLOBAL ${key} = ?`, [v]);
    return { name: key, previous, value: await requireVariable(c, ctx, key), applied: 'live' as const };
  });
  const extras = await readExtras(ctx);
  extras[key] = fileValue;
  await writeOptionFile(ctx, flavour, extras);
  return { ...change, persisted: `option file ${ctx.paths.configFile}${change.applied === 'restart-required' ? '; restart the instance to apply it' : ''}` };
}

export async function enableStatements(ctx: InstanceContext, flavour: Flavour): Promise<{ changed: boolean; restartRequired: boolean; message: string }> {
  const on = await withConnection(ctx, undefined, async (c) => Number((await query<{ p: unknown }>(c, 'SELECT @@performance_schema AS p'))[0]?.p) === 1);
  const how = `portunix-db restart ${ctx.engine}${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}`;
  if (on) {
    await withConnection(ctx, undefined, async (c) => {
      // the digest consumer is on by default; make sure it is
      await c.query("UPDATE performance_schema.setup_consumers SET ENABLED = 'YES' WHERE NAME IN ('statements_digest', 'events_statements_current')").catch(() => undefined);
    });
    return { changed: false, restartRequired: false, message: 'performance_schema is already on; statement statistics are collected.' };
  }
  if (flavour.id === 'mysql') {
    await withConnection(ctx, undefined, (c) => c.query('SET PERSIST_ONLY performance_schema = ON'));
  } else {
    const extras = await readExtras(ctx);
    extras['performance_schema'] = 'ON';
    await writeOptionFile(ctx, flavour, extras);
  }
  return { changed: true, restartRequired: true, message: `performance_schema is switched on in the configuration; it takes effect after a restart: \`${how}\`.` };
}
