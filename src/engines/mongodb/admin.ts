import { closest } from '../../core/did-you-mean.js';
import { DbError, UsageError } from '../../core/errors.js';
import type { DatabaseSummary, InstanceContext, UserSummary } from '../contract.js';
import { ADMIN_USER, AUTH_DB, isUnsupported, lacks, n, withMongo, type MongoConn } from './client.js';
import { SYSTEM_DATABASES, userDatabase, validateIdentifier } from './identifiers.js';
import { serverIdentity } from './instance.js';

/** The collection `create database` makes: MongoDB keeps a database only while it holds a collection. */
export const FIRST_COLLECTION = 'portunix_created';

// ---------- databases ----------

export interface ListDatabasesReply {
  databases?: { name: string; sizeOnDisk?: unknown; empty?: boolean }[];
  totalSize?: unknown;
}

/** `listDatabases` reply → summaries, without the server's own databases. Pure, for tests. */
export function parseListDatabases(reply: ListDatabasesReply): DatabaseSummary[] {
  return (reply.databases ?? [])
    .filter((d) => !SYSTEM_DATABASES.has(d.name))
    .map((d) => ({ name: d.name, ...(n(d.sizeOnDisk) !== undefined ? { sizeBytes: n(d.sizeOnDisk)! } : {}) }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function databaseNames(c: MongoConn): Promise<string[]> {
  const reply = (await c.admin({ listDatabases: 1, nameOnly: true })) as ListDatabasesReply;
  return (reply.databases ?? []).map((d) => d.name);
}

export async function listDatabases(ctx: InstanceContext): Promise<DatabaseSummary[]> {
  return withMongo(ctx, async (c) => parseListDatabases((await c.admin({ listDatabases: 1 })) as ListDatabasesReply));
}

/** An explicit `create` of a first collection (a MongoDB database exists once it holds one). */
export async function createDatabase(ctx: InstanceContext, name: string): Promise<{ created: boolean; message?: string }> {
  userDatabase(name, 'create');
  return withMongo(ctx, async (c) => {
    if ((await databaseNames(c)).includes(name)) return { created: false, message: `Database ${name} already exists on mongodb/${ctx.name}.` };
    await c.db(name).command({ create: FIRST_COLLECTION });
    return { created: true, message: `Created database ${name} with its first collection "${FIRST_COLLECTION}" (MongoDB keeps a database only while it holds a collection; drop that one once you have your own).` };
  });
}

export async function dropDatabase(ctx: InstanceContext, name: string): Promise<void> {
  userDatabase(name, 'drop');
  await withMongo(ctx, async (c) => {
    await c.db(name).command({ dropDatabase: 1 });
  });
}

// ---------- users ----------

export interface UsersInfoReply {
  users?: { user: string; db: string; roles?: { role: string; db: string }[]; mechanisms?: string[] }[];
}

/** `usersInfo` reply → summaries; grants read "role@db". Pure, for tests. */
export function parseUsersInfo(reply: UsersInfoReply): UserSummary[] {
  return (reply.users ?? [])
    .map((u) => {
      const grants = (u.roles ?? []).map((r) => `${r.role}@${r.db}`);
      const superuser = (u.roles ?? []).some((r) => r.role === 'root' && r.db === AUTH_DB);
      return { name: u.db === AUTH_DB ? u.user : `${u.user}@${u.db}`, canLogin: true, superuser, grants };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

export async function listUsers(ctx: InstanceContext): Promise<UserSummary[]> {
  return withMongo(ctx, async (c) => {
    const users = parseUsersInfo((await c.admin({ usersInfo: 1 })) as UsersInfoReply);
    const id = await serverIdentity(ctx);
    // FerretDB 1.x users have no roles: every user it authenticates may do everything
    return id.kind === 'ferretdb' ? users.map((u) => ({ ...u, superuser: true, grants: ['(FerretDB 1.x: no roles, full access)'] })) : users;
  });
}

async function userExists(c: MongoConn, name: string): Promise<boolean> {
  const r = (await c.admin({ usersInfo: { user: name, db: AUTH_DB } })) as UsersInfoReply;
  return (r.users ?? []).length > 0;
}

/** Users live in `admin` (log in with authSource=admin); they start with no roles: grant them. */
export async function createUser(ctx: InstanceContext, name: string, password: string): Promise<void> {
  validateIdentifier('user', name);
  await withMongo(ctx, async (c) => {
    if (await userExists(c, name)) throw new DbError(`User "${name}" already exists on mongodb/${ctx.name}.`, 'ALREADY_EXISTS', 'Pick another name, or delete the user first.');
    await c.admin({ createUser: name, pwd: password, roles: [], mechanisms: ['SCRAM-SHA-256'] });
  });
}

export async function deleteUser(ctx: InstanceContext, name: string): Promise<void> {
  validateIdentifier('user', name);
  if (name === ADMIN_USER) throw new DbError(`"${ADMIN_USER}" is the user portunix-db manages mongodb/${ctx.name} with; it cannot be deleted.`, 'FORBIDDEN', 'Delete the users you created instead (`portunix-db user list --type mongodb`).');
  await withMongo(ctx, async (c) => {
    if (!(await userExists(c, name))) throw new DbError(`User "${name}" does not exist on mongodb/${ctx.name}.`, 'NOT_FOUND', 'List users with `portunix-db user list --type mongodb`.');
    await c.admin({ dropUser: name });
  });
}

// ---------- privileges → built-in roles ----------

const WORDS: Record<string, string[]> = {
  connect: ['read'],
  read: ['read'],
  select: ['read'],
  readonly: ['read'],
  write: ['readWrite'],
  readwrite: ['readWrite'],
  admin: ['dbAdmin', 'userAdmin'],
  all: ['readWrite', 'dbAdmin', 'userAdmin'],
};
/** Built-in database roles that may also be named directly. */
const BUILT_IN = ['read', 'readWrite', 'dbAdmin', 'userAdmin', 'dbOwner'];
/** The same, for every database (grants without --database). */
const ANY_DATABASE: Record<string, string> = { read: 'readAnyDatabase', readWrite: 'readWriteAnyDatabase', dbAdmin: 'dbAdminAnyDatabase', userAdmin: 'userAdminAnyDatabase' };

/**
 * Our privilege words as MongoDB built-in roles: connect/read → read, write → readWrite,
 * admin → dbAdmin + userAdmin, all → all three. Without a database the *AnyDatabase roles (on
 * admin) are used. Pure, for tests.
 */
export function rolesFor(privileges: string[], database?: string): { role: string; db: string }[] {
  const out: { role: string; db: string }[] = [];
  const words = privileges.map((p) => p.trim()).filter(Boolean);
  if (words.length === 0) throw new UsageError('No privileges given.', 'USAGE', 'Pass --privileges, e.g. read, write or admin.');
  for (const raw of words) {
    const direct = BUILT_IN.find((r) => r === raw);
    const roles = direct ? [direct] : WORDS[raw.toLowerCase()];
    if (!roles) {
      const guess = closest(raw, [...Object.keys(WORDS), ...BUILT_IN]);
      throw new UsageError(`Unknown MongoDB privilege "${raw}".${guess ? ` Did you mean ${guess}?` : ''}`, 'USAGE', `Use connect, read, write, admin or all (or a built-in role: ${BUILT_IN.join(', ')}).`);
    }
    for (const role of roles) {
      const entry = database !== undefined ? { role, db: userDatabase(database, 'grant roles on') } : { role: ANY_DATABASE[role] ?? role, db: AUTH_DB };
      if (database === undefined && !ANY_DATABASE[role]) throw new UsageError(`"${role}" is a per-database role.`, 'USAGE', 'Pass --database.');
      if (!out.some((o) => o.role === entry.role && o.db === entry.db)) out.push(entry);
    }
  }
  return out;
}

async function changeRoles(ctx: InstanceContext, mode: 'grant' | 'revoke', user: string, privileges: string[], database?: string): Promise<string[]> {
  validateIdentifier('user', user);
  const roles = rolesFor(privileges, database);
  const command = mode === 'grant' ? 'grantRolesToUser' : 'revokeRolesFromUser';
  return withMongo(ctx, async (c) => {
    if (!(await userExists(c, user))) throw new DbError(`User "${user}" does not exist on mongodb/${ctx.name}.`, 'NOT_FOUND', `Create it with \`portunix-db user create ${user} --type mongodb\`.`);
    try {
      await c.admin({ [command]: user, roles });
    } catch (err) {
      if (!isUnsupported(err)) throw err;
      const id = await serverIdentity(ctx);
      throw lacks(id.kind, id.version, `roles (${command})`, 'Its users all have full access. Role-based access needs MongoDB itself (install mongodb with --source apt/dnf/download/container).');
    }
    return [`db.adminCommand(${JSON.stringify({ [command]: user, roles })})`];
  });
}

export function grant(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  return changeRoles(ctx, 'grant', user, privileges, database);
}

export function revoke(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  return changeRoles(ctx, 'revoke', user, privileges, database);
}
