import { DbError, NotApplicableError } from '../../core/errors.js';
import type { DatabaseSummary, InstanceContext, UserSummary, VacuumOutcome } from '../contract.js';
import { LONG_OPERATION_MS, num, readState, withEs, type EsConn } from './client.js';
import { seg, validateIdentifier } from './identifiers.js';

interface CatIndex {
  index: string;
  health?: string;
  status?: string;
  'docs.count'?: string;
  'store.size'?: string;
  pri?: string;
  rep?: string;
}
interface DataStream {
  name: string;
  status?: string;
  indices?: { index_name: string }[];
}

export interface EsDatabase extends DatabaseSummary {
  kind: 'index' | 'data stream';
  health?: string;
  docs?: number;
  backingIndices?: string[];
}

/**
 * Our words: a database is an index or a data stream (hidden and system indices, whose names
 * start with ".", are left out; so are the backing indices of data streams, shown under their
 * stream). Pure apart from the two answers, for tests.
 */
export function toDatabases(indices: CatIndex[], streams: DataStream[]): EsDatabase[] {
  const backing = new Map<string, string>();
  for (const s of streams) for (const i of s.indices ?? []) backing.set(i.index_name, s.name);
  const byStream = new Map<string, CatIndex[]>();
  const out: EsDatabase[] = [];
  for (const i of indices) {
    const stream = backing.get(i.index);
    if (stream) {
      byStream.set(stream, [...(byStream.get(stream) ?? []), i]);
      continue;
    }
    if (i.index.startsWith('.')) continue;
    out.push({ name: i.index, kind: 'index', ...(i.health ? { health: i.health } : {}), ...(num(i['docs.count']) !== undefined ? { docs: num(i['docs.count'])! } : {}), ...(num(i['store.size']) !== undefined ? { sizeBytes: num(i['store.size'])! } : {}) });
  }
  for (const s of streams) {
    if (s.name.startsWith('.')) continue;
    const parts = byStream.get(s.name) ?? [];
    out.push({
      name: s.name,
      kind: 'data stream',
      ...(s.status ? { health: s.status.toLowerCase() } : {}),
      docs: parts.reduce((a, p) => a + (num(p['docs.count']) ?? 0), 0),
      sizeBytes: parts.reduce((a, p) => a + (num(p['store.size']) ?? 0), 0),
      backingIndices: (s.indices ?? []).map((i) => i.index_name),
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function fetchDatabases(c: EsConn, name?: string): Promise<EsDatabase[]> {
  const indices = await c.req<CatIndex[]>('GET', '/_cat/indices', { query: { format: 'json', bytes: 'b', expand_wildcards: 'open,closed,hidden', h: 'index,health,status,docs.count,store.size,pri,rep' } });
  const streams = await c.req<{ data_streams: DataStream[] }>('GET', '/_data_stream').catch(() => ({ data_streams: [] as DataStream[] }));
  const all = toDatabases(indices, streams.data_streams ?? []);
  return name === undefined ? all : all.filter((d) => d.name === name);
}

/** The index or data stream, or NOT_FOUND naming what exists. */
export async function resolveDatabase(c: EsConn, name: string): Promise<EsDatabase> {
  validateIdentifier('database', name);
  const found = (await fetchDatabases(c, name))[0];
  if (!found) throw new DbError(`No index or data stream "${name}" on this Elasticsearch instance.`, 'NOT_FOUND', 'List them with `portunix-db list --type elasticsearch`.');
  return found;
}

export async function listDatabases(ctx: InstanceContext): Promise<DatabaseSummary[]> {
  return withEs(ctx, (c) => fetchDatabases(c));
}

/** Index settings given as `--setting KEY=VALUE`; keys take the `index.` prefix when they lack it. */
export function indexSettings(settings: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = { 'index.number_of_shards': '1', 'index.number_of_replicas': '0' };
  for (const [k, v] of Object.entries(settings ?? {})) {
    if (!/^[a-z][a-z0-9_.]{0,127}$/.test(k)) throw new DbError(`"${k}" is not an index setting name.`, 'USAGE', 'Give settings as --setting number_of_shards=2 (the "index." prefix is optional).');
    out[k.startsWith('index.') ? k : `index.${k}`] = v;
  }
  return out;
}

/**
 * Creates an index, single-node defaults: 1 shard, 0 replicas (so it is green); `--setting`
 * overrides any index setting. An existing index or data stream is "already exists", not an error.
 */
export async function createDatabase(ctx: InstanceContext, name: string, options: { owner?: string; charset?: string; collation?: string; path?: string; settings?: Record<string, string> }): Promise<{ created: boolean; message?: string }> {
  if (options.owner || options.charset || options.collation || options.path) {
    throw new NotApplicableError('Elasticsearch indices have no owner, charset, collation or path.', 'Give index settings with --setting KEY=VALUE (e.g. --setting number_of_shards=2), and analyzers in the mapping.');
  }
  const settings = indexSettings(options.settings);
  return withEs(ctx, async (c) => {
    if ((await fetchDatabases(c, name)).length) return { created: false, message: `Index ${name} already exists on elasticsearch/${ctx.name}.` };
    await c.req('PUT', `/${seg(name)}`, { body: { settings } });
    return { created: true, message: `Created index ${name} on elasticsearch/${ctx.name} (${Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(', ')}).` };
  });
}

/** Drops an index, or a data stream with all its backing indices. */
export async function dropDatabase(ctx: InstanceContext, name: string): Promise<void> {
  await withEs(ctx, async (c) => {
    const db = await resolveDatabase(c, name);
    await c.req('DELETE', db.kind === 'data stream' ? `/_data_stream/${seg(name)}` : `/${seg(name)}`);
  });
}

// ---------- users (security API) ----------

export function securityOff(ctx: InstanceContext): string {
  return `Security is off on elasticsearch/${ctx.name} (xpack.security.enabled: false: this distribution is the one without x-pack security setup, and the node listens on 127.0.0.1 only), so Elasticsearch has no users or roles to manage here. An instance of Elastic's default distribution (--source download, apt, dnf) runs with security on and manages users through the security API.`;
}

function requireSecurity(ctx: InstanceContext): void {
  if (!readState(ctx).security) throw new NotApplicableError(securityOff(ctx), 'Use an instance installed from the default distribution for users and roles.');
}

/** Index privileges of the security API that `user grant` accepts. */
export const INDEX_PRIVILEGES = ['all', 'read', 'write', 'index', 'create', 'create_doc', 'delete', 'create_index', 'delete_index', 'manage', 'monitor', 'view_index_metadata', 'maintenance'] as const;
const ALIASES: Record<string, string> = { select: 'read', insert: 'index', update: 'write' };

export function parsePrivileges(privileges: string[]): string[] {
  const out = new Set<string>();
  for (const raw of privileges) {
    const p = ALIASES[raw.toLowerCase()] ?? raw.toLowerCase();
    if (!(INDEX_PRIVILEGES as readonly string[]).includes(p)) throw new DbError(`"${raw}" is not an Elasticsearch index privilege.`, 'USAGE', `Use one of ${INDEX_PRIVILEGES.join(', ')}.`);
    out.add(p);
  }
  return [...out];
}

/** The role portunix-db keeps per user and index pattern: `portunix_<user>_<index or all>`. */
export function roleName(user: string, index: string | undefined): string {
  return `portunix_${user}_${index ?? 'all'}`.replace(/[^A-Za-z0-9_.@-]/g, '_');
}

/** The role body after a grant or revoke (pure, for tests). */
export function nextRole(current: string[], change: string[], mode: 'grant' | 'revoke'): string[] {
  return mode === 'grant' ? [...new Set([...current, ...change])].sort() : current.filter((p) => !change.includes(p)).sort();
}

interface EsUser {
  username?: string;
  roles: string[];
  enabled: boolean;
}

export async function listUsers(ctx: InstanceContext): Promise<UserSummary[]> {
  requireSecurity(ctx);
  return withEs(ctx, async (c) => {
    const users = await c.req<Record<string, EsUser>>('GET', '/_security/user');
    return Object.entries(users).map(([name, u]) => ({ name, superuser: u.roles.includes('superuser'), canLogin: u.enabled, grants: u.roles }));
  });
}

export async function createUser(ctx: InstanceContext, name: string, password: string): Promise<void> {
  requireSecurity(ctx);
  validateIdentifier('user', name);
  // the password travels in the body of an HTTPS request, never in argv or a log
  await withEs(ctx, (c) => c.req('POST', `/_security/user/${encodeURIComponent(name)}`, { body: { password, roles: [], enabled: true }, query: { refresh: 'wait_for' } }));
}

export async function deleteUser(ctx: InstanceContext, name: string): Promise<void> {
  requireSecurity(ctx);
  validateIdentifier('user', name);
  await withEs(ctx, (c) => c.req('DELETE', `/_security/user/${encodeURIComponent(name)}`));
}

async function changeGrant(ctx: InstanceContext, mode: 'grant' | 'revoke', user: string, privileges: string[], database?: string): Promise<string[]> {
  requireSecurity(ctx);
  validateIdentifier('user', user);
  if (database !== undefined) validateIdentifier('database', database);
  const privs = parsePrivileges(privileges);
  const role = roleName(user, database);
  return withEs(ctx, async (c) => {
    const users = await c.req<Record<string, EsUser>>('GET', `/_security/user/${encodeURIComponent(user)}`);
    const u = users[user];
    if (!u) throw new DbError(`No user ${user} on elasticsearch/${ctx.name}.`, 'NOT_FOUND');
    const roles = await c.req<Record<string, { indices?: { privileges: string[] }[] }>>('GET', `/_security/role/${encodeURIComponent(role)}`).catch(() => ({}) as Record<string, { indices?: { privileges: string[] }[] }>);
    const current = roles[role]?.indices?.[0]?.privileges ?? [];
    const next = nextRole(current, privs, mode);
    const done: string[] = [];
    if (next.length) {
      await c.req('PUT', `/_security/role/${encodeURIComponent(role)}`, { body: { indices: [{ names: [database ?? '*'], privileges: next }] } });
      done.push(`PUT _security/role/${role} {indices: [${database ?? '*'}: ${next.join(',')}]}`);
    } else if (roles[role]) {
      await c.req('DELETE', `/_security/role/${encodeURIComponent(role)}`);
      done.push(`DELETE _security/role/${role}`);
    }
    const userRoles = next.length ? [...new Set([...u.roles, role])] : u.roles.filter((r) => r !== role);
    await c.req('PUT', `/_security/user/${encodeURIComponent(user)}`, { body: { roles: userRoles, enabled: u.enabled } });
    done.push(`PUT _security/user/${user} {roles: ${userRoles.join(',')}}`);
    return done;
  });
}

export const grant = (ctx: InstanceContext, user: string, privileges: string[], database?: string) => changeGrant(ctx, 'grant', user, privileges, database);
export const revoke = (ctx: InstanceContext, user: string, privileges: string[], database?: string) => changeGrant(ctx, 'revoke', user, privileges, database);

// ---------- maintenance ----------

/** Force-merge (with --full down to one segment per shard), refresh, and clear the caches of an index. */
export async function vacuum(ctx: InstanceContext, options: { database: string; table?: string; full: boolean; analyze: boolean }): Promise<VacuumOutcome> {
  if (options.table) throw new NotApplicableError('Elasticsearch merges, refreshes and clears caches per index, not per field.', `Run it on the whole index: \`portunix-db vacuum ${options.database} --type elasticsearch\`.`);
  return withEs(ctx, async (c) => {
    const db = await resolveDatabase(c, options.database);
    const path = `/${seg(db.name)}`;
    const before = await segmentCount(c, path);
    const merge = await c.req<{ _shards?: { failed?: number } }>('POST', `${path}/_forcemerge`, { query: options.full ? { max_num_segments: 1 } : {}, timeoutMs: LONG_OPERATION_MS });
    const refresh = await c.req<{ _shards?: { failed?: number } }>('POST', `${path}/_refresh`);
    const cache = await c.req<{ _shards?: { failed?: number } }>('POST', `${path}/_cache/clear`);
    const after = await segmentCount(c, path);
    const failed = (merge._shards?.failed ?? 0) + (refresh._shards?.failed ?? 0) + (cache._shards?.failed ?? 0);
    if (failed) throw new DbError(`${failed} shard operations failed on ${db.name}.`, 'COMMAND_FAILED', `Look at \`portunix-db health elasticsearch\` and the log.`);
    return {
      actions: [`POST ${db.name}/_forcemerge${options.full ? '?max_num_segments=1' : ''}`, `POST ${db.name}/_refresh`, `POST ${db.name}/_cache/clear`],
      details: { segments_before: before, segments_after: after, ...(options.analyze ? { note: 'Elasticsearch keeps no planner statistics to analyze; the refresh makes recent writes searchable.' } : {}) },
    };
  });
}

async function segmentCount(c: EsConn, path: string): Promise<number> {
  const s = await c.req<{ _all?: { primaries?: { segments?: { count?: number } } } }>('GET', `${path}/_stats/segments`);
  return s._all?.primaries?.segments?.count ?? 0;
}
