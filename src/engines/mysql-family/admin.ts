import type { DatabaseSummary, InstanceContext, UserSummary, VacuumOutcome } from '../contract.js';
import { DbError } from '../../core/errors.js';
import { num, query, withConnection } from './client.js';
import { accountName, quoteIdent, validateCharsetName, validateMysqlIdentifier, validatePrivileges } from './identifiers.js';

/** Schemas the server owns; never listed as user databases, never dropped. */
export const SYSTEM_DATABASES = ['mysql', 'information_schema', 'performance_schema', 'sys'];

export async function listDatabases(ctx: InstanceContext): Promise<DatabaseSummary[]> {
  return withConnection(ctx, undefined, async (c) => {
    const rows = await query<{ name: string; charset: string; collation: string; size: unknown }>(
      c,
      `SELECT s.SCHEMA_NAME AS name, s.DEFAULT_CHARACTER_SET_NAME AS charset, s.DEFAULT_COLLATION_NAME AS collation,
              (SELECT COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0) FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME) AS size
         FROM information_schema.SCHEMATA s
        WHERE s.SCHEMA_NAME NOT IN (?)
        ORDER BY s.SCHEMA_NAME`,
      [SYSTEM_DATABASES],
    );
    return rows.map((r) => ({ name: r.name, encoding: r.charset, collation: r.collation, sizeBytes: num(r.size) ?? 0 }));
  });
}

export async function createDatabase(ctx: InstanceContext, name: string, options: { owner?: string; charset?: string; collation?: string }): Promise<{ created: boolean; message?: string }> {
  const db = validateMysqlIdentifier('database', name);
  if (SYSTEM_DATABASES.includes(name.toLowerCase())) throw new DbError(`"${name}" is a system database.`, 'USAGE', 'Pick another name.');
  const charset = validateCharsetName('charset', options.charset ?? 'utf8mb4');
  const collation = options.collation ? validateCharsetName('collation', options.collation) : undefined;
  return withConnection(ctx, undefined, async (c) => {
    const exists = await query(c, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
    if (exists.length) throw new DbError(`Database ${name} already exists on ${ctx.engine}/${ctx.name}.`, 'ALREADY_EXISTS', 'Pick another name, or drop it first with `portunix-db drop ' + name + ' --type ' + ctx.engine + ' --force`.');
    await c.query(`CREATE DATABASE ${db} CHARACTER SET ${charset}${collation ? ` COLLATE ${collation}` : ''}`);
    let message: string | undefined;
    if (options.owner) {
      await c.query(`GRANT ALL PRIVILEGES ON ${db}.* TO ${validateMysqlIdentifier('user', options.owner)}`);
      message = `Created database ${name} (${charset}${collation ? `, ${collation}` : ''}) and granted all privileges on it to ${options.owner}.`;
    }
    return { created: true, ...(message ? { message } : {}) };
  });
}

export async function dropDatabase(ctx: InstanceContext, name: string): Promise<void> {
  const db = validateMysqlIdentifier('database', name);
  if (SYSTEM_DATABASES.includes(name.toLowerCase())) throw new DbError(`"${name}" is a system database and cannot be dropped.`, 'FORBIDDEN');
  await withConnection(ctx, undefined, async (c) => {
    const exists = await query(c, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name]);
    if (!exists.length) throw new DbError(`Database ${name} does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
    await c.query(`DROP DATABASE ${db}`);
  });
}

export async function listUsers(ctx: InstanceContext): Promise<UserSummary[]> {
  return withConnection(ctx, undefined, async (c) => {
    const rows = await query<{ User: string; Host: string; super: string; locked: string | null }>(
      c,
      `SELECT User, Host, Super_priv AS super FROM mysql.user WHERE User <> '' AND User NOT IN ('mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema') ORDER BY User, Host`,
    );
    const out: UserSummary[] = [];
    for (const r of rows) {
      let grants: string[] = [];
      try {
        const g = await query<Record<string, string>>(c, `SHOW GRANTS FOR ${accountName(r.User, r.Host)}`);
        grants = g.map((row) => Object.values(row)[0] ?? '').map((s) => s.replace(/IDENTIFIED BY PASSWORD '[^']*'/g, 'IDENTIFIED BY PASSWORD ***'));
      } catch {
        /* accounts with odd names: list without grants */
      }
      out.push({ name: r.Host === '%' ? r.User : `${r.User}@${r.Host}`, superuser: r.super === 'Y', canLogin: true, grants });
    }
    return out;
  });
}

export async function createUser(ctx: InstanceContext, name: string, password: string): Promise<void> {
  const account = validateMysqlIdentifier('user', name);
  await withConnection(ctx, undefined, async (c) => {
    const exists = await query(c, `SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'`, [name]);
    if (exists.length) throw new DbError(`User ${name} already exists on ${ctx.engine}/${ctx.name}.`, 'ALREADY_EXISTS', `Delete it first with \`portunix-db user delete ${name} --type ${ctx.engine}\`, or pick another name.`);
    // the password goes as a bound parameter, never pasted into the statement text
    await c.query(`CREATE USER ${account} IDENTIFIED BY ?`, [password]);
  });
}

export async function deleteUser(ctx: InstanceContext, name: string): Promise<void> {
  const account = validateMysqlIdentifier('user', name);
  if (name === 'root') throw new DbError('The root account is the one portunix-db manages the instance with.', 'FORBIDDEN', 'Delete another user.');
  await withConnection(ctx, undefined, async (c) => {
    const exists = await query(c, `SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'`, [name]);
    if (!exists.length) throw new DbError(`User ${name} does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List users with \`portunix-db user list --type ${ctx.engine}\`.`);
    await c.query(`DROP USER ${account}`);
  });
}

function grantTarget(database: string | undefined): string {
  return database ? `${validateMysqlIdentifier('database', database)}.*` : '*.*';
}

export async function grant(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  const account = validateMysqlIdentifier('user', user);
  const privs = validatePrivileges(privileges, database);
  const stmt = `GRANT ${privs.join(', ')} ON ${grantTarget(database)} TO ${account}`;
  await withConnection(ctx, undefined, async (c) => {
    await requireUser(c, ctx, user);
    if (database) await requireDatabase(c, ctx, database);
    await c.query(stmt);
  });
  return [stmt];
}

export async function revoke(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  const account = validateMysqlIdentifier('user', user);
  const privs = validatePrivileges(privileges, database);
  const stmt = `REVOKE ${privs.join(', ')} ON ${grantTarget(database)} FROM ${account}`;
  await withConnection(ctx, undefined, async (c) => {
    await requireUser(c, ctx, user);
    await c.query(stmt);
  });
  return [stmt];
}

async function requireUser(c: Parameters<typeof query>[0], ctx: InstanceContext, user: string): Promise<void> {
  const rows = await query(c, `SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'`, [user]);
  if (!rows.length) throw new DbError(`User ${user} does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `Create it with \`portunix-db user create ${user} --type ${ctx.engine}\`.`);
}

async function requireDatabase(c: Parameters<typeof query>[0], ctx: InstanceContext, database: string): Promise<void> {
  const rows = await query(c, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
  if (!rows.length) throw new DbError(`Database ${database} does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `Create it with \`portunix-db create ${database} --type ${ctx.engine}\`.`);
}

/** ANALYZE TABLE refreshes statistics; OPTIMIZE TABLE (`full`) rebuilds tables and reclaims space. */
export async function vacuum(ctx: InstanceContext, options: { database: string; table?: string; full: boolean; analyze: boolean }): Promise<VacuumOutcome> {
  const db = validateMysqlIdentifier('database', options.database);
  if (options.table) validateMysqlIdentifier('table', options.table);
  return withConnection(ctx, options.database, async (c) => {
    const tables = options.table
      ? [options.table]
      : (await query<{ n: string }>(c, `SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`, [options.database])).map((r) => r.n);
    if (options.table && !(await query(c, `SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, [options.database, options.table])).length) {
      throw new DbError(`Table ${options.table} does not exist in ${options.database}.`, 'NOT_FOUND', `List tables with \`portunix-db tables ${options.database} --type ${ctx.engine}\`.`);
    }
    const actions: string[] = [];
    const details: Record<string, unknown> = {};
    if (tables.length === 0) return { actions: [`${options.database} has no tables; nothing to do.`] };
    const list = tables.map((t) => `${db}.${quoteIdent(t)}`).join(', ');
    const run = async (verb: 'ANALYZE' | 'OPTIMIZE') => {
      const rows = await query<{ Table: string; Op: string; Msg_type: string; Msg_text: string }>(c, `${verb} TABLE ${list}`);
      details[verb.toLowerCase()] = rows.map((r) => ({ table: r.Table, type: r.Msg_type, message: r.Msg_text }));
      const errors = rows.filter((r) => r.Msg_type === 'error');
      if (errors.length) throw new DbError(`${verb} TABLE reported errors: ${errors.map((e) => `${e.Table}: ${e.Msg_text}`).join('; ')}`, 'QUERY_FAILED');
      actions.push(`${verb} TABLE on ${tables.length} table(s) in ${options.database}`);
    };
    if (options.full) {
      // InnoDB maps OPTIMIZE to a rebuild plus ANALYZE ("Table does not support optimize, doing recreate + analyze instead")
      await run('OPTIMIZE');
    }
    if (options.analyze || !options.full) await run('ANALYZE');
    return { actions, details };
  });
}
