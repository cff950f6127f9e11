import { DbError, UsageError } from '../../core/errors.js';
import { closest } from '../../core/did-you-mean.js';
import type { ConfigChange, ConfigSetting, InstanceContext } from '../contract.js';
import { listFiles, withDatabase, type Db } from './instance.js';

/**
 * SQLite has no server configuration: what persists lives in each database file's header.
 * Keys are `<database>.<pragma>` (e.g. `app.journal_mode`); a bare `<pragma>` is allowed
 * when the instance holds exactly one database.
 */
interface PragmaSpec {
  description: string;
  read(db: Db): string;
  /** Validated, canonical value; throws USAGE with the allowed values. */
  parse?(value: string): string;
  apply?(db: Db, value: string): void;
}

const int32 = (name: string) => (value: string) => {
  if (!/^-?\d+$/.test(value.trim()) || Number(value) < -2147483648 || Number(value) > 2147483647) throw new UsageError(`${name} must be a 32-bit integer, not ${JSON.stringify(value)}.`, 'USAGE', 'Give a whole number between -2147483648 and 2147483647.');
  return String(Number(value));
};

const AUTO_VACUUM = ['none', 'full', 'incremental'];

export const PRAGMAS: Record<string, PragmaSpec> = {
  journal_mode: {
    description: 'wal (readers never block the writer; persists in the file) or delete (rollback journal, SQLite\'s default).',
    read: (db) => String(db.pragma('journal_mode', { simple: true })),
    parse: (value) => {
      const v = value.trim().toLowerCase();
      if (v === 'wal' || v === 'delete') return v;
      if (['truncate', 'persist', 'memory', 'off'].includes(v)) throw new UsageError(`journal_mode=${v} does not persist in the file: each program chooses it when it opens the database.`, 'USAGE', 'Set wal or delete here; set other modes in the program that opens the file.');
      throw new UsageError(`Unknown journal_mode ${JSON.stringify(value)}.`, 'USAGE', 'Use wal or delete.');
    },
    apply: (db, v) => {
      const got = String(db.pragma(`journal_mode = ${v === 'wal' ? 'WAL' : 'DELETE'}`, { simple: true }));
      if (got !== v) throw new DbError(`SQLite kept journal_mode=${got}.`, 'QUERY_FAILED', 'Another program may hold the file open; close it and retry.');
    },
  },
  page_size: {
    description: 'Bytes per page (512-65536, a power of two). Changing it rewrites the file with VACUUM.',
    read: (db) => String(db.pragma('page_size', { simple: true })),
    parse: (value) => {
      const n = Number(value);
      if (!/^\d+$/.test(value.trim()) || n < 512 || n > 65536 || (n & (n - 1)) !== 0) throw new UsageError(`page_size must be a power of two from 512 to 65536, not ${JSON.stringify(value)}.`, 'USAGE', 'For example 4096 (the default) or 8192.');
      return String(n);
    },
    apply: (db, v) => {
      // a WAL database cannot change its page size: leave WAL for the VACUUM, then return
      const wal = String(db.pragma('journal_mode', { simple: true })) === 'wal';
      if (wal) db.pragma('journal_mode = DELETE');
      db.pragma(`page_size = ${v}`);
      db.exec('VACUUM');
      if (wal) db.pragma('journal_mode = WAL');
    },
  },
  auto_vacuum: {
    description: 'none, full (shrink the file at every commit) or incremental (shrink on `vacuum`). Changing it rewrites the file with VACUUM.',
    read: (db) => AUTO_VACUUM[Number(db.pragma('auto_vacuum', { simple: true }))] ?? 'unknown',
    parse: (value) => {
      const v = value.trim().toLowerCase();
      const idx = /^[0-2]$/.test(v) ? Number(v) : AUTO_VACUUM.indexOf(v);
      if (idx < 0) throw new UsageError(`auto_vacuum must be none, full or incremental, not ${JSON.stringify(value)}.`, 'USAGE', 'Use none, full or incremental.');
      return AUTO_VACUUM[idx]!;
    },
    apply: (db, v) => {
      db.pragma(`auto_vacuum = ${AUTO_VACUUM.indexOf(v)}`);
      db.exec('VACUUM');
    },
  },
  user_version: {
    description: 'A 32-bit integer for the application (often the schema version).',
    read: (db) => String(db.pragma('user_version', { simple: true })),
    parse: int32('user_version'),
    apply: (db, v) => db.pragma(`user_version = ${v}`),
  },
  application_id: {
    description: 'A 32-bit integer identifying the file format of the application.',
    read: (db) => String(db.pragma('application_id', { simple: true })),
    parse: int32('application_id'),
    apply: (db, v) => db.pragma(`application_id = ${v}`),
  },
  encoding: {
    description: 'Text encoding, fixed when the file is created (create --charset).',
    read: (db) => String(db.pragma('encoding', { simple: true })),
  },
};

async function parseKey(ctx: InstanceContext, key: string): Promise<{ database: string; pragma: string; spec: PragmaSpec }> {
  const dot = key.lastIndexOf('.');
  let database: string;
  let pragma: string;
  if (dot >= 0) {
    database = key.slice(0, dot);
    pragma = key.slice(dot + 1);
  } else {
    const files = await listFiles(ctx);
    if (files.length !== 1) {
      throw new UsageError(
        `Say which database "${key}" is for: SQLite settings live in each database file.`,
        'USAGE',
        files.length ? `Use <database>.${key}, e.g. ${files[0]!.name}.${key} (databases: ${files.map((f) => f.name).join(', ')}).` : 'Create a database first with `portunix-db create NAME --type sqlite`.',
      );
    }
    database = files[0]!.name;
    pragma = key;
  }
  const spec = PRAGMAS[pragma.toLowerCase()];
  if (!spec) {
    const guess = closest(pragma.toLowerCase(), Object.keys(PRAGMAS));
    throw new DbError(`Unknown SQLite setting "${pragma}".`, 'NOT_FOUND', `${guess ? `Did you mean ${guess}? ` : ''}Settings that persist in the file: ${Object.keys(PRAGMAS).join(', ')} (as <database>.<setting>).`);
  }
  return { database, pragma: pragma.toLowerCase(), spec };
}

function setting(database: string, pragma: string, spec: PragmaSpec, db: Db, path: string): ConfigSetting {
  return { name: `${database}.${pragma}`, value: spec.read(db), source: `database file header (${path})`, restartRequired: false, description: spec.description };
}

export async function configList(ctx: InstanceContext): Promise<ConfigSetting[]> {
  const out: ConfigSetting[] = [];
  for (const f of await listFiles(ctx)) {
    await withDatabase(ctx, f.name, (db, file) => {
      for (const [p, spec] of Object.entries(PRAGMAS)) out.push(setting(f.name, p, spec, db, file.path));
    }, { readonly: true }).catch(() => undefined); // a missing or unreadable file shows in `status`
  }
  return out;
}

export async function configGet(ctx: InstanceContext, name: string): Promise<ConfigSetting> {
  const { database, pragma, spec } = await parseKey(ctx, name);
  return withDatabase(ctx, database, (db, file) => setting(database, pragma, spec, db, file.path), { readonly: true });
}

export async function configSet(ctx: InstanceContext, name: string, value: string): Promise<ConfigChange> {
  const { database, pragma, spec } = await parseKey(ctx, name);
  if (!spec.parse || !spec.apply) throw new UsageError(`${pragma} cannot be changed after the file is created.`, 'USAGE', pragma === 'encoding' ? 'Create a new database with --charset, then copy the data.' : 'Pick a setting that can be changed.');
  const canonical = spec.parse(value);
  return withDatabase(ctx, database, (db, file) => {
    db.pragma('busy_timeout = 10000');
    const previous = spec.read(db);
    if (previous !== canonical) spec.apply!(db, canonical);
    const now = spec.read(db);
    if (now !== canonical) throw new DbError(`SQLite kept ${pragma}=${now}.`, 'QUERY_FAILED', 'Another program may hold the file open; close it and retry.');
    return { name: `${database}.${pragma}`, previous, value: now, applied: 'live', persisted: `database file header (${file.path})` };
  });
}
