import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type pg from 'pg';
import type { DatabaseSummary, InstanceContext, UserSummary } from '../contract.js';
import { DbError, UsageError } from '../../core/errors.js';
import { closest } from '../../core/did-you-mean.js';
import { SUPERUSER, validatePgIdentifier, withClient } from './client.js';

const MAINTENANCE_DB = 'postgres';
const PROTECTED_DATABASES = new Set(['postgres', 'template0', 'template1']);

function superuserName(ctx: InstanceContext): string {
  return ctx.config.superuser ?? SUPERUSER;
}

function listHint(ctx: InstanceContext, what: 'list' | 'user list'): string {
  return `See what exists with \`portunix-db ${what} --type ${ctx.engine}${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`.`;
}

async function databaseExists(client: pg.Client, name: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return (r.rowCount ?? 0) > 0;
}

async function roleExists(client: pg.Client, name: string): Promise<boolean> {
  const r = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  return (r.rowCount ?? 0) > 0;
}

async function requireDatabase(ctx: InstanceContext, client: pg.Client, name: string): Promise<void> {
  if (!(await databaseExists(client, name))) throw new DbError(`Database "${name}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', listHint(ctx, 'list'));
}

async function requireRole(ctx: InstanceContext, client: pg.Client, name: string): Promise<void> {
  if (!(await roleExists(client, name))) throw new DbError(`User "${name}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `Create it with \`portunix-db user create ${name} --type ${ctx.engine}\`, or ${listHint(ctx, 'user list').toLowerCase()}`);
}

// ---------- databases ----------

export async function listDatabases(ctx: InstanceContext): Promise<DatabaseSummary[]> {
  return withClient(ctx, MAINTENANCE_DB, async (c) => {
    const r = await c.query<{ name: string; owner: string; encoding: string; collation: string; size: string | null }>(
      `SELECT d.datname AS name, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding,
              d.datcollate AS collation,
              CASE WHEN has_database_privilege(d.datname, 'CONNECT') THEN pg_database_size(d.oid) END AS size
         FROM pg_database d
        WHERE NOT d.datistemplate
        ORDER BY d.datname`,
    );
    return r.rows.map((row) => ({ name: row.name, owner: row.owner, encoding: row.encoding, collation: row.collation, ...(row.size !== null ? { sizeBytes: Number(row.size) } : {}) }));
  });
}

const LOCALE_OR_ENCODING = /^[A-Za-z0-9_.@-]{1,64}$/;

export async function createDatabase(ctx: InstanceContext, name: string, options: { owner?: string; charset?: string; collation?: string }): Promise<{ created: boolean; message?: string }> {
  const db = validatePgIdentifier('database', name);
  const owner = options.owner ? validatePgIdentifier('user', options.owner) : undefined;
  for (const [what, value] of [['charset', options.charset], ['collation', options.collation]] as const) {
    if (value !== undefined && !LOCALE_OR_ENCODING.test(value)) {
      throw new UsageError(`Invalid ${what} ${JSON.stringify(value)}.`, 'USAGE', what === 'charset' ? 'Use an encoding name such as UTF8 or LATIN1.' : 'Use a locale name such as C, C.UTF-8 or en_US.UTF-8.');
    }
  }
  return withClient(ctx, MAINTENANCE_DB, async (c) => {
    if (await databaseExists(c, name)) {
      throw new DbError(`Database "${name}" already exists on ${ctx.engine}/${ctx.name}.`, 'ALREADY_EXISTS', `Use it as it is, or drop it first with \`portunix-db drop ${name} --type ${ctx.engine} --force\`.`);
    }
    if (options.owner) await requireRole(ctx, c, options.owner);
    const parts = [`CREATE DATABASE ${db}`];
    if (owner) parts.push(`OWNER ${owner}`);
    if (options.charset || options.collation) parts.push('TEMPLATE template0');
    if (options.charset) parts.push(`ENCODING ${c.escapeLiteral(options.charset)}`);
    if (options.collation) parts.push(`LC_COLLATE ${c.escapeLiteral(options.collation)} LC_CTYPE ${c.escapeLiteral(options.collation)}`);
    await c.query(parts.join(' '));
    return { created: true, message: `Created database "${name}"${options.owner ? ` owned by ${options.owner}` : ''}.` };
  });
}

export async function dropDatabase(ctx: InstanceContext, name: string): Promise<void> {
  const db = validatePgIdentifier('database', name);
  if (PROTECTED_DATABASES.has(name)) {
    throw new DbError(`"${name}" is a system database of PostgreSQL and is not dropped.`, 'FORBIDDEN', 'Drop your own databases only; `portunix-db uninstall postgresql` removes the whole instance.');
  }
  await withClient(ctx, MAINTENANCE_DB, async (c) => {
    await requireDatabase(ctx, c, name);
    const v = await c.query<{ server_version_num: string }>('SHOW server_version_num');
    if (Number(v.rows[0]?.server_version_num ?? 0) >= 130000) {
      await c.query(`DROP DATABASE ${db} WITH (FORCE)`);
    } else {
      await c.query('UPDATE pg_database SET datallowconn = false WHERE datname = $1', [name]);
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
      await c.query(`DROP DATABASE ${db}`);
    }
  });
}

// ---------- users ----------

// RFC 3454 tables used by SASLprep, the same mapping libpq and node-postgres apply client-side
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
// eslint-disable-next-line no-misleading-character-class
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B\u180C\u180D\u200C\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;

export function saslprep(password: string): string {
  return password.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
}

/**
 * A SCRAM-SHA-256 verifier in PostgreSQL's format, computed here so the cleartext password
 * never reaches the server (nor its statement log): SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>.
 */
export function scramVerifier(password: string, salt: Buffer = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(saslprep(password), salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

export async function listUsers(ctx: InstanceContext): Promise<UserSummary[]> {
  return withClient(ctx, MAINTENANCE_DB, async (c) => {
    const r = await c.query<{ name: string; superuser: boolean; can_login: boolean; member_of: string[] | null; db_grants: string[] | null }>(
      `SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolcanlogin AS can_login,
              (SELECT array_agg(g.rolname::text ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid) AS member_of,
              (SELECT array_agg(a.privilege_type || ' on database ' || d.datname ORDER BY d.datname, a.privilege_type)
                 FROM pg_database d, aclexplode(d.datacl) a
                WHERE a.grantee = r.oid AND NOT d.datistemplate) AS db_grants
         FROM pg_roles r
        WHERE r.rolname !~ '^pg_'
        ORDER BY r.rolname`,
    );
    return r.rows.map((row) => ({
      name: row.name,
      superuser: row.superuser,
      canLogin: row.can_login,
      grants: [...(row.db_grants ?? []), ...(row.member_of ?? []).map((g) => `member of ${g}`)],
    }));
  });
}

export async function createUser(ctx: InstanceContext, name: string, password: string): Promise<void> {
  const role = validatePgIdentifier('user', name);
  if (!password) throw new UsageError('An empty password is not allowed.', 'USAGE', 'Pass the password on stdin (--password-stdin) or in PORTUNIX_DB_PASSWORD.');
  await withClient(ctx, MAINTENANCE_DB, async (c) => {
    if (await roleExists(c, name)) {
      throw new DbError(`User "${name}" already exists on ${ctx.engine}/${ctx.name}.`, 'ALREADY_EXISTS', `Use it as it is, or delete it first with \`portunix-db user delete ${name} --type ${ctx.engine}\`.`);
    }
    // the verifier, not the password, goes to the server
    await c.query(`CREATE ROLE ${role} LOGIN PASSWORD ${c.escapeLiteral(scramVerifier(password))}`);
  });
}

export async function deleteUser(ctx: InstanceContext, name: string): Promise<void> {
  const role = validatePgIdentifier('user', name);
  const admin = superuserName(ctx);
  if (name === admin) throw new DbError(`"${name}" is the instance's superuser, which portunix-db uses to manage it.`, 'FORBIDDEN', 'Delete other users only.');
  const databases = await withClient(ctx, MAINTENANCE_DB, async (c) => {
    await requireRole(ctx, c, name);
    const r = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname');
    return r.rows.map((row) => row.datname);
  });
  // objects the user owns are handed to the superuser (data is kept); its privileges go away
  for (const db of databases) {
    await withClient(ctx, db, async (c) => {
      await c.query(`REASSIGN OWNED BY ${role} TO ${validatePgIdentifier('user', admin)}`);
      await c.query(`DROP OWNED BY ${role}`);
    });
  }
  await withClient(ctx, MAINTENANCE_DB, async (c) => {
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1', [name]);
    await c.query(`DROP ROLE ${role}`);
  });
}

// ---------- grants ----------

/**
 * The privilege vocabulary. Database privileges map to PostgreSQL's own; `read` and `write`
 * are conveniences over the tables and sequences of schema public (existing ones, and the
 * ones the superuser creates later, through default privileges).
 */
export const PRIVILEGES = ['connect', 'create', 'temporary', 'read', 'write', 'all'] as const;
export type Privilege = (typeof PRIVILEGES)[number];

const ALIASES: Record<string, Privilege> = {
  temp: 'temporary',
  select: 'read',
  readonly: 'read',
  'read-only': 'read',
  readwrite: 'write',
  'read-write': 'write',
  'all privileges': 'all',
};

/** Lower-cases, resolves aliases, removes duplicates; no privileges means `all`. */
export function normalizePrivileges(list: readonly string[]): Privilege[] {
  const out: Privilege[] = [];
  for (const raw of list.flatMap((p) => p.split(','))) {
    const word = raw.trim().toLowerCase();
    if (!word) continue;
    const p = (PRIVILEGES as readonly string[]).includes(word) ? (word as Privilege) : ALIASES[word];
    if (!p) {
      const guess = closest(word, [...PRIVILEGES]);
      throw new UsageError(`Unknown PostgreSQL privilege "${raw.trim()}".${guess ? ` Did you mean ${guess}?` : ''}`, 'USAGE', `Use any of: ${PRIVILEGES.join(', ')} (read/write cover the tables of schema public).`);
    }
    if (!out.includes(p)) out.push(p);
  }
  return out.length ? out : ['all'];
}

export interface PrivilegeStatements {
  /** Run from any database (database-level privileges). */
  server: string[];
  /** Run while connected to the target database (schema and table privileges). */
  inDatabase: string[];
}

/** The statements for a grant or revoke; identifiers arrive already quoted. Pure, for tests. */
export function privilegeStatements(mode: 'grant' | 'revoke', role: string, db: string, privileges: readonly Privilege[]): PrivilegeStatements {
  const server: string[] = [];
  const inDatabase: string[] = [];
  const verb = mode === 'grant' ? 'GRANT' : 'REVOKE';
  const prep = mode === 'grant' ? 'TO' : 'FROM';
  const onDb = (what: string) => server.push(`${verb} ${what} ON DATABASE ${db} ${prep} ${role}`);
  const inDb = (what: string, on: string) => inDatabase.push(`${verb} ${what} ON ${on} ${prep} ${role}`);
  const defaults = (what: string, on: 'TABLES' | 'SEQUENCES') => inDatabase.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA public ${verb} ${what} ON ${on} ${prep} ${role}`);
  for (const p of privileges) {
    switch (p) {
      case 'connect':
        onDb('CONNECT');
        break;
      case 'create':
        onDb('CREATE');
        break;
      case 'temporary':
        onDb('TEMPORARY');
        break;
      case 'read':
        onDb('CONNECT');
        inDb('USAGE', 'SCHEMA public');
        inDb('SELECT', 'ALL TABLES IN SCHEMA public');
        inDb('SELECT', 'ALL SEQUENCES IN SCHEMA public');
        defaults('SELECT', 'TABLES');
        defaults('SELECT', 'SEQUENCES');
        break;
      case 'write':
        onDb('CONNECT');
        inDb('USAGE', 'SCHEMA public');
        inDb('SELECT, INSERT, UPDATE, DELETE, TRUNCATE', 'ALL TABLES IN SCHEMA public');
        inDb('SELECT, USAGE, UPDATE', 'ALL SEQUENCES IN SCHEMA public');
        defaults('SELECT, INSERT, UPDATE, DELETE, TRUNCATE', 'TABLES');
        defaults('SELECT, USAGE, UPDATE', 'SEQUENCES');
        break;
      case 'all':
        onDb('ALL PRIVILEGES');
        inDb('ALL', 'SCHEMA public');
        inDb('ALL', 'ALL TABLES IN SCHEMA public');
        inDb('ALL', 'ALL SEQUENCES IN SCHEMA public');
        defaults('ALL', 'TABLES');
        defaults('ALL', 'SEQUENCES');
        break;
    }
  }
  return { server: [...new Set(server)], inDatabase: [...new Set(inDatabase)] };
}

async function applyPrivileges(ctx: InstanceContext, mode: 'grant' | 'revoke', user: string, privileges: string[], database?: string): Promise<string[]> {
  const role = validatePgIdentifier('user', user);
  if (!database) {
    throw new UsageError(`PostgreSQL privileges are granted per database; none was given.`, 'USAGE', `Pass --database <db> (privileges: ${PRIVILEGES.join(', ')}).`);
  }
  const db = validatePgIdentifier('database', database);
  const privs = normalizePrivileges(privileges);
  const plan = privilegeStatements(mode, role, db, privs);
  await withClient(ctx, MAINTENANCE_DB, async (c) => {
    await requireRole(ctx, c, user);
    await requireDatabase(ctx, c, database);
    for (const sql of plan.server) await c.query(sql);
  });
  if (plan.inDatabase.length) {
    await withClient(ctx, database, async (c) => {
      await c.query('BEGIN');
      for (const sql of plan.inDatabase) await c.query(sql);
      await c.query('COMMIT');
    });
  }
  return [...plan.server, ...plan.inDatabase];
}

export function grant(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  return applyPrivileges(ctx, 'grant', user, privileges, database);
}

export function revoke(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  return applyPrivileges(ctx, 'revoke', user, privileges, database);
}
