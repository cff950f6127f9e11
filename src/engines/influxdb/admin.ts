import { DbError, NotApplicableError } from '../../core/errors.js';
import { generatePassword, getSecretStore, secretKey } from '../../core/secrets.js';
import type { DatabaseSummary, InstanceContext, UserSummary } from '../contract.js';
import { ADMIN_USER, rows, withInfluxQl, withV2, type V2Session } from './client.js';
import { quoteIdent, quoteString, validateIdentifier } from './identifiers.js';
import { operatorToken } from './instance.js';

// ---------- privileges (both generations) ----------

export type Privilege = 'read' | 'write' | 'all';
const PRIVILEGES: Record<string, Privilege> = { read: 'read', write: 'write', all: 'all', 'all privileges': 'all', readwrite: 'all' };

/** "read", "WRITE", "all" -> the privilege; anything else is a usage error naming the choices. Pure, for tests. */
export function parsePrivileges(privileges: string[]): Privilege[] {
  const out = new Set<Privilege>();
  for (const p of privileges.flatMap((x) => x.split(',')).map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    const v = PRIVILEGES[p];
    if (!v) throw new DbError(`Unknown InfluxDB privilege "${p}".`, 'USAGE', 'InfluxDB privileges are read, write and all (on one database), or all without --database (admin).');
    out.add(v);
  }
  if (!out.size) throw new DbError('No privilege given.', 'USAGE', 'Pass --privileges read, write or all.');
  return [...out];
}

/** InfluxQL GRANT/REVOKE statements for privileges on a database (or admin). Pure, for tests. */
export function grantStatements(kind: 'GRANT' | 'REVOKE', user: string, privileges: Privilege[], database?: string): string[] {
  const u = validateIdentifier('user', user);
  const dir = kind === 'GRANT' ? 'TO' : 'FROM';
  if (database === undefined) {
    if (privileges.some((p) => p !== 'all')) {
      throw new DbError('READ and WRITE are granted on one database.', 'USAGE', 'Pass --database NAME, or --privileges all without --database to make the user an admin.');
    }
    return [`${kind} ALL PRIVILEGES ${dir} ${u}`];
  }
  const db = validateIdentifier('database', database);
  const words: Record<Privilege, string> = { read: 'READ', write: 'WRITE', all: 'ALL' };
  return privileges.map((p) => `${kind} ${words[p]} ON ${db} ${dir} ${u}`);
}

/**
 * InfluxDB 1.x keeps one privilege per user and database (READ, WRITE or ALL): a grant adds to
 * it, a revoke takes from it, and the result is set with one statement. Pure, for tests.
 */
export function combinedPrivilege(current: string | undefined, change: Privilege[], mode: 'grant' | 'revoke'): 'READ' | 'WRITE' | 'ALL' | undefined {
  const has = new Set<'read' | 'write'>();
  if (current === 'READ' || current === 'ALL PRIVILEGES' || current === 'ALL') has.add('read');
  if (current === 'WRITE' || current === 'ALL PRIVILEGES' || current === 'ALL') has.add('write');
  const touched = new Set<'read' | 'write'>(change.flatMap((p) => (p === 'all' ? ['read', 'write'] as const : [p])));
  for (const t of touched) (mode === 'grant' ? has.add(t) : has.delete(t));
  return has.has('read') && has.has('write') ? 'ALL' : has.has('read') ? 'READ' : has.has('write') ? 'WRITE' : undefined;
}

// ---------- 1.x ----------

export async function listDatabasesV1(ctx: InstanceContext): Promise<DatabaseSummary[]> {
  return withInfluxQl(ctx, async (c) =>
    rows((await c.query('SHOW DATABASES'))[0])
      .map((r) => ({ name: String(r['name']) }))
      .filter((d) => d.name !== '_internal')
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  );
}

export async function createDatabaseV1(ctx: InstanceContext, name: string): Promise<{ created: boolean; message?: string }> {
  const q = validateIdentifier('database', name);
  if ((await listDatabasesV1(ctx)).some((d) => d.name === name)) return { created: false, message: `database ${name} already exists` };
  await withInfluxQl(ctx, (c) => c.query(`CREATE DATABASE ${q}`, { write: true }));
  return { created: true, message: `created database ${name} (retention policy autogen: infinite duration)` };
}

export async function dropDatabaseV1(ctx: InstanceContext, name: string): Promise<void> {
  const q = validateIdentifier('database', name);
  if (!(await listDatabasesV1(ctx)).some((d) => d.name === name)) throw new DbError(`Database ${name} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND', 'List databases with `portunix-db list --type influxdb`.');
  await withInfluxQl(ctx, (c) => c.query(`DROP DATABASE ${q}`, { write: true }));
}

export async function listUsersV1(ctx: InstanceContext): Promise<UserSummary[]> {
  return withInfluxQl(ctx, async (c) => {
    const users = rows((await c.query('SHOW USERS'))[0]);
    const out: UserSummary[] = [];
    for (const u of users) {
      const name = String(u['user']);
      const admin = u['admin'] === true;
      const grants = admin
        ? ['ALL PRIVILEGES (admin)']
        : rows((await c.query(`SHOW GRANTS FOR ${quoteIdent(name)}`))[0])
            .filter((g) => g['privilege'] !== 'NO PRIVILEGES')
            .map((g) => `${String(g['privilege'])} ON ${String(g['database'])}`);
      out.push({ name, superuser: admin, canLogin: true, grants });
    }
    return out;
  });
}

export async function createUserV1(ctx: InstanceContext, name: string, password: string): Promise<void> {
  const u = validateIdentifier('user', name);
  if (!password) throw new DbError('A password is required.', 'USAGE');
  await withInfluxQl(ctx, (c) => c.query(`CREATE USER ${u} WITH PASSWORD ${quoteString(password)}`, { write: true }));
}

function refuseAdmin(name: string, what: string): void {
  if (name === ADMIN_USER) throw new DbError(`${ADMIN_USER} is the user portunix-db manages the instance as; it cannot ${what}.`, 'USAGE', 'Create another user for applications.');
}

export async function deleteUserV1(ctx: InstanceContext, name: string): Promise<void> {
  const u = validateIdentifier('user', name);
  refuseAdmin(name, 'be deleted');
  await withInfluxQl(ctx, (c) => c.query(`DROP USER ${u}`, { write: true }));
}

async function changeV1(ctx: InstanceContext, mode: 'grant' | 'revoke', user: string, privileges: string[], database?: string): Promise<string[]> {
  const parsed = parsePrivileges(privileges);
  if (database === undefined) {
    const statements = grantStatements(mode === 'grant' ? 'GRANT' : 'REVOKE', user, parsed);
    await withInfluxQl(ctx, async (c) => {
      for (const s of statements) await c.query(s, { write: true });
    });
    return statements;
  }
  const u = validateIdentifier('user', user);
  const db = validateIdentifier('database', database);
  if (!(await listDatabasesV1(ctx)).some((d) => d.name === database)) throw new DbError(`Database ${database} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND');
  return withInfluxQl(ctx, async (c) => {
    const current = rows((await c.query(`SHOW GRANTS FOR ${u}`))[0]).find((g) => g['database'] === database)?.['privilege'];
    const next = combinedPrivilege(current === undefined ? undefined : String(current), parsed, mode);
    const statement = next ? `GRANT ${next} ON ${db} TO ${u}` : `REVOKE ALL ON ${db} FROM ${u}`;
    await c.query(statement, { write: true });
    return [statement];
  });
}

export async function grantV1(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  return changeV1(ctx, 'grant', user, privileges, database);
}

export async function revokeV1(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  refuseAdmin(user, 'lose its privileges');
  return changeV1(ctx, 'revoke', user, privileges, database);
}

// ---------- 2.x: buckets as databases, authorizations as grants ----------

export function v2<T>(ctx: InstanceContext, fn: (s: V2Session) => Promise<T>): Promise<T> {
  return operatorToken(ctx).then((token) => withV2(ctx, token, fn));
}

interface BucketLike {
  id?: string;
  name: string;
  type?: string;
  retentionRules?: { everySeconds?: number }[];
}

/** User buckets as databases (system buckets `_monitoring`, `_tasks` left out). Pure, for tests. */
export function bucketsAsDatabases(buckets: BucketLike[]): DatabaseSummary[] {
  return buckets.filter((b) => b.type !== 'system' && !b.name.startsWith('_')).map((b) => ({ name: b.name }));
}

async function bucketByName(s: V2Session, ctx: InstanceContext, name: string): Promise<BucketLike & { id: string }> {
  const r = await new s.apis.BucketsAPI(s.influx).getBuckets({ orgID: s.orgID, name });
  const b = r.buckets?.find((x) => x.name === name);
  if (!b?.id) throw new DbError(`Bucket ${name} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND', 'List buckets with `portunix-db list --type influxdb`.');
  return b as BucketLike & { id: string };
}

export async function listDatabasesV2(ctx: InstanceContext): Promise<DatabaseSummary[]> {
  return v2(ctx, async (s) => bucketsAsDatabases(((await new s.apis.BucketsAPI(s.influx).getBuckets({ orgID: s.orgID, limit: 100 })).buckets ?? []) as BucketLike[]));
}

export async function createDatabaseV2(ctx: InstanceContext, name: string): Promise<{ created: boolean; message?: string }> {
  validateIdentifier('database', name);
  return v2(ctx, async (s) => {
    const found = await new s.apis.BucketsAPI(s.influx).getBuckets({ orgID: s.orgID, name }).catch(() => undefined);
    if (found?.buckets?.some((b) => b.name === name)) return { created: false, message: `bucket ${name} already exists` };
    await new s.apis.BucketsAPI(s.influx).postBuckets({ body: { orgID: s.orgID, name, retentionRules: [] } });
    return { created: true, message: `created bucket ${name} (infinite retention)` };
  });
}

export async function dropDatabaseV2(ctx: InstanceContext, name: string): Promise<void> {
  validateIdentifier('database', name);
  await v2(ctx, async (s) => new s.apis.BucketsAPI(s.influx).deleteBucketsID({ bucketID: (await bucketByName(s, ctx, name)).id }));
}

interface AuthLike {
  id?: string;
  description?: string;
  status?: string;
  userID?: string;
  user?: string;
  permissions?: { action: string; resource: { type: string; id?: string; name?: string } }[];
}

/** Authorizations of each user as grant strings ("read buckets/metrics"). Pure, for tests. */
export function grantsOf(userID: string | undefined, userName: string, auths: AuthLike[]): string[] {
  return auths
    .filter((a) => (userID !== undefined && a.userID === userID) || a.user === userName)
    .flatMap((a) => (a.permissions ?? []).map((p) => `${p.action} ${p.resource.type}${p.resource.name ? `/${p.resource.name}` : p.resource.id ? `/${p.resource.id}` : ''}${a.status === 'inactive' ? ' (inactive)' : ''} [authorization ${a.id ?? '?'}]`));
}

export async function listUsersV2(ctx: InstanceContext): Promise<UserSummary[]> {
  return v2(ctx, async (s) => {
    const users = (await new s.apis.UsersAPI(s.influx).getUsers({})).users ?? [];
    const auths = ((await new s.apis.AuthorizationsAPI(s.influx).getAuthorizations({})).authorizations ?? []) as AuthLike[];
    return users.map((u) => ({ name: u.name, superuser: u.name === ADMIN_USER, canLogin: u.status !== 'inactive', grants: grantsOf(u.id, u.name, auths) }));
  });
}

async function userByName(s: V2Session, ctx: InstanceContext, name: string): Promise<{ id: string; name: string }> {
  const u = ((await new s.apis.UsersAPI(s.influx).getUsers({ name })).users ?? []).find((x) => x.name === name);
  if (!u?.id) throw new DbError(`User ${name} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND', 'List users with `portunix-db user list --type influxdb`.');
  return { id: u.id, name: u.name };
}

export async function createUserV2(ctx: InstanceContext, name: string, password: string): Promise<void> {
  validateIdentifier('user', name);
  await v2(ctx, async (s) => {
    const u = await new s.apis.UsersAPI(s.influx).postUsers({ body: { name } });
    if (u.id) await new s.apis.UsersAPI(s.influx).postUsersIDPassword({ userID: u.id, body: { password } });
  });
}

export async function deleteUserV2(ctx: InstanceContext, name: string): Promise<void> {
  validateIdentifier('user', name);
  refuseAdmin(name, 'be deleted');
  await v2(ctx, async (s) => new s.apis.UsersAPI(s.influx).deleteUsersID({ userID: (await userByName(s, ctx, name)).id }));
}

/** The permissions of an authorization for privileges on one bucket. Pure, for tests. */
export function bucketPermissions(privileges: Privilege[], orgID: string, bucketID: string): { action: 'read' | 'write'; resource: { type: 'buckets'; id: string; orgID: string } }[] {
  const actions = new Set<'read' | 'write'>();
  for (const p of privileges) {
    if (p === 'read' || p === 'all') actions.add('read');
    if (p === 'write' || p === 'all') actions.add('write');
  }
  return [...actions].map((action) => ({ action, resource: { type: 'buckets', id: bucketID, orgID } }));
}

/**
 * A grant is a new authorization (token) for the user on one bucket. Its token is kept in the
 * secret store (key `token/<user>/<authorization id>`), never printed.
 */
export async function grantV2(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  validateIdentifier('user', user);
  const parsed = parsePrivileges(privileges);
  if (database === undefined) throw new NotApplicableError('InfluxDB 2.x grants are authorizations on a bucket: pass --database BUCKET. An all-access token is made with `influx auth create --all-access`.');
  return v2(ctx, async (s) => {
    const u = await userByName(s, ctx, user);
    const b = await bucketByName(s, ctx, database);
    const auth = await new s.apis.AuthorizationsAPI(s.influx).postAuthorizations({ body: { orgID: s.orgID, userID: u.id, description: `portunix-db ${user} ${parsed.join('+')} ${database}`, permissions: bucketPermissions(parsed, s.orgID, b.id) } });
    if (auth.token && auth.id) await getSecretStore().set(secretKey(ctx.engine, ctx.name, `token/${user}/${auth.id}`), auth.token);
    return [`authorization ${auth.id ?? '?'}: ${bucketPermissions(parsed, s.orgID, b.id).map((p) => `${p.action} buckets/${database}`).join(', ')} for ${user} (token kept in the secret store)`];
  });
}

export async function revokeV2(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  validateIdentifier('user', user);
  refuseAdmin(user, 'lose its privileges');
  const parsed = parsePrivileges(privileges);
  if (database === undefined) throw new NotApplicableError('InfluxDB 2.x authorizations are per bucket: pass --database BUCKET.');
  return v2(ctx, async (s) => {
    const u = await userByName(s, ctx, user);
    const b = await bucketByName(s, ctx, database);
    const wanted = new Set(bucketPermissions(parsed, s.orgID, b.id).map((p) => p.action));
    const auths = ((await new s.apis.AuthorizationsAPI(s.influx).getAuthorizations({ userID: u.id })).authorizations ?? []) as AuthLike[];
    const done: string[] = [];
    for (const a of auths) {
      const perms = a.permissions ?? [];
      if (a.id && perms.length && perms.every((p) => p.resource.type === 'buckets' && p.resource.id === b.id && wanted.has(p.action as 'read' | 'write'))) {
        await new s.apis.AuthorizationsAPI(s.influx).deleteAuthorizationsID({ authID: a.id });
        await getSecretStore().delete(secretKey(ctx.engine, ctx.name, `token/${user}/${a.id}`)).catch(() => undefined);
        done.push(`deleted authorization ${a.id} (${perms.map((p) => p.action).join('+')} buckets/${database})`);
      }
    }
    if (!done.length) throw new DbError(`${user} has no authorization limited to ${[...wanted].join('+')} on bucket ${database}.`, 'NOT_FOUND', 'List them with `portunix-db user list --type influxdb`.');
    return done;
  });
}

