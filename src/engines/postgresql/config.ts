import type pg from 'pg';
import type { ConfigChange, ConfigSetting, InstanceContext } from '../contract.js';
import { DbError, UsageError } from '../../core/errors.js';
import { closest } from '../../core/did-you-mean.js';
import { withClient } from './client.js';

interface SettingRow {
  name: string;
  setting: string;
  unit: string | null;
  source: string;
  context: string;
  short_desc: string | null;
  vartype: string;
  min_val: string | null;
  max_val: string | null;
  enumvals: string[] | null;
  pending_restart: boolean;
}

const SELECT = `SELECT name, setting, unit, source, context, short_desc, vartype, min_val, max_val, enumvals::text[] AS enumvals, pending_restart FROM pg_settings`;

/** portunix-db owns these: changing them would break how it reaches or secures the server. */
export const MANAGED_SETTINGS: Record<string, string> = {
  port: 'the port is part of the instance registration; re-install the instance with another --port',
  listen_addresses: 'instances listen on 127.0.0.1 only',
  unix_socket_directories: 'the socket directory is chosen by portunix-db',
  data_directory: 'the data directory is part of the instance registration',
  hba_file: 'authentication is managed by portunix-db (scram-sha-256, loopback only)',
  ident_file: 'authentication is managed by portunix-db',
  config_file: 'the configuration file is managed by portunix-db',
};

/** Settings whose value is a list where each element is quoted on its own (GUC_LIST_QUOTE). */
const LIST_QUOTE = new Set(['shared_preload_libraries', 'session_preload_libraries', 'local_preload_libraries', 'search_path', 'temp_tablespaces']);

function toSetting(row: SettingRow): ConfigSetting {
  return {
    name: row.name,
    value: row.setting,
    ...(row.unit ? { unit: row.unit } : {}),
    source: row.source,
    restartRequired: row.context === 'postmaster',
    ...(row.short_desc ? { description: row.short_desc } : {}),
  };
}

/** The value part of ALTER SYSTEM SET, as literals (list settings get one literal per element). Pure, for tests. */
export function settingValueSql(name: string, value: string, literal: (s: string) => string): string {
  if (LIST_QUOTE.has(name)) {
    const parts = value.split(',').map((p) => p.trim().replace(/^"(.*)"$/, '$1')).filter(Boolean);
    return parts.length ? parts.map(literal).join(', ') : literal('');
  }
  return literal(value);
}

function allowedValues(row: SettingRow): string {
  if (row.enumvals?.length) return `one of: ${row.enumvals.join(', ')}`;
  if (row.vartype === 'bool') return 'on or off';
  if (row.min_val !== null && row.max_val !== null) return `a ${row.vartype} between ${row.min_val} and ${row.max_val}${row.unit ? ` (unit ${row.unit}; suffixes like kB, MB, GB, ms, s, min are accepted)` : ''}`;
  return `a ${row.vartype}`;
}

async function findSetting(ctx: InstanceContext, c: pg.Client, name: string): Promise<SettingRow> {
  const r = await c.query<SettingRow>(`${SELECT} WHERE name = lower($1)`, [name]);
  const row = r.rows[0];
  if (row) return row;
  const names = (await c.query<{ name: string }>('SELECT name FROM pg_settings')).rows.map((x) => x.name);
  const guess = closest(name.toLowerCase(), names);
  throw new DbError(`PostgreSQL has no setting "${name}".${guess ? ` Did you mean ${guess}?` : ''}`, 'NOT_FOUND', `List settings with \`portunix-db config show ${ctx.engine}\`.`);
}

export async function configList(ctx: InstanceContext): Promise<ConfigSetting[]> {
  return withClient(ctx, 'postgres', async (c) => (await c.query<SettingRow>(`${SELECT} ORDER BY name`)).rows.map(toSetting));
}

export async function configGet(ctx: InstanceContext, name: string): Promise<ConfigSetting> {
  return withClient(ctx, 'postgres', async (c) => toSetting(await findSetting(ctx, c, name)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** ALTER SYSTEM SET (persisted in postgresql.auto.conf), then pg_reload_conf(). */
export async function configSet(ctx: InstanceContext, name: string, value: string): Promise<ConfigChange> {
  return withClient(ctx, 'postgres', async (c) => {
    const row = await findSetting(ctx, c, name);
    const managed = MANAGED_SETTINGS[row.name];
    if (managed) throw new DbError(`portunix-db manages "${row.name}": ${managed}.`, 'FORBIDDEN', 'Change other settings with `portunix-db config set`.');
    if (row.context === 'internal') throw new DbError(`"${row.name}" is fixed when PostgreSQL is built or initialised and cannot be changed.`, 'FORBIDDEN');
    // the name comes from pg_settings (validated above); it is still checked to be a plain word
    if (!/^[a-z_][a-z0-9_.]*$/.test(row.name)) throw new DbError(`Unexpected setting name "${row.name}".`, 'INTERNAL');
    try {
      await c.query(`ALTER SYSTEM SET ${row.name} = ${settingValueSql(row.name, value, (s) => c.escapeLiteral(s))}`);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      if (e.code === '22023' || e.code === '22P02') {
        throw new UsageError(`Invalid value for ${row.name}: ${e.message ?? ''}`, 'USAGE', `${row.name} takes ${allowedValues(row)}.`);
      }
      throw err;
    }
    await c.query('SELECT pg_reload_conf()');
    const restart = row.context === 'postmaster';
    // the reload is a signal to the postmaster: give it a moment to re-read the files
    let after = row;
    for (let i = 0; i < 20; i++) {
      await sleep(50);
      after = (await c.query<SettingRow>(`${SELECT} WHERE name = $1`, [row.name])).rows[0] ?? row;
      if (restart ? after.pending_restart : after.setting !== row.setting || after.source === 'configuration file') break;
    }
    return {
      name: row.name,
      previous: row.setting,
      value: restart ? value : after.setting,
      applied: restart || after.pending_restart ? 'restart-required' : 'reload',
      persisted: 'ALTER SYSTEM (postgresql.auto.conf)',
    };
  });
}
