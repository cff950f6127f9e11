import { DbError, NotApplicableError } from '../../core/errors.js';
import type { DatabaseSummary, InstanceContext, UserSummary, VacuumOutcome } from '../contract.js';
import { ADMIN_USER, info, num, parseKeyspace, withRedis, type RedisConn } from './client.js';
import { KEYSPACE_COUNT, validateIdentifier } from './identifiers.js';

// ---------- keyspaces ("databases") ----------

export async function listDatabases(ctx: InstanceContext): Promise<DatabaseSummary[]> {
  return withRedis(ctx, async (c) => parseKeyspace(await info(c, 'keyspace')).map((k) => ({ name: String(k.db), keys: k.keys })));
}

export async function createDatabase(_ctx: InstanceContext, name: string): Promise<{ created: boolean; message?: string }> {
  const n = validateIdentifier('database', name);
  return {
    created: false,
    message: `Redis keyspaces need no creation: keyspace ${n} already exists (a server has ${KEYSPACE_COUNT}, numbered 0-${KEYSPACE_COUNT - 1}) and shows up in \`list\` once it holds keys. Connect to it with redis://…/${n} or SELECT ${n}.`,
  };
}

/** FLUSHDB SYNC on that keyspace (the core asks for --force first). */
export async function dropDatabase(ctx: InstanceContext, name: string): Promise<void> {
  const db = Number(validateIdentifier('database', name));
  await withRedis(ctx, (c) => c.send(['FLUSHDB', 'SYNC']), { database: db });
}

// ---------- ACL users ----------

/** Rules that describe permissions (not passwords or flags) in an ACL LIST line. */
function isGrantRule(rule: string): boolean {
  return /^[+\-~%&]/.test(rule) || ['allkeys', 'allcommands', 'allchannels', 'nocommands', 'resetkeys', 'resetchannels'].includes(rule) || rule.startsWith('(');
}

export function parseAclLine(line: string): UserSummary | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts[0] !== 'user' || !parts[1]) return undefined;
  const rules = parts.slice(2);
  const grants = rules.filter(isGrantRule);
  const allCommands = rules.includes('+@all') || rules.includes('allcommands');
  const allKeys = rules.includes('~*') || rules.includes('allkeys');
  return { name: parts[1], canLogin: rules.includes('on'), superuser: allCommands && allKeys, grants };
}

export async function listUsers(ctx: InstanceContext): Promise<UserSummary[]> {
  return withRedis(ctx, async (c) => {
    const lines = (await c.send(['ACL', 'LIST'])) as string[];
    return lines.map(parseAclLine).filter((u): u is UserSummary => u !== undefined);
  });
}

async function userExists(c: RedisConn, name: string): Promise<boolean> {
  return (await c.send(['ACL', 'GETUSER', name])) !== null;
}

/** ACL SAVE writes users to the instance's ACL file, so they survive a restart. */
async function persistAcl(c: RedisConn): Promise<void> {
  await c.send(['ACL', 'SAVE']);
}

export async function createUser(ctx: InstanceContext, name: string, password: string): Promise<void> {
  validateIdentifier('user', name);
  await withRedis(ctx, async (c) => {
    if (await userExists(c, name)) throw new DbError(`ACL user "${name}" already exists on redis/${ctx.name}.`, 'ALREADY_EXISTS', 'Pick another name, or delete the user first.');
    // a new user starts with no commands and no keys; grant them with `user grant`
    await c.send(['ACL', 'SETUSER', name, 'reset', 'on', `>${password}`]);
    await persistAcl(c);
  });
}

export async function deleteUser(ctx: InstanceContext, name: string): Promise<void> {
  validateIdentifier('user', name);
  if (name === ADMIN_USER) {
    throw new DbError(`"${ADMIN_USER}" is the admin user portunix-db manages redis/${ctx.name} with; it cannot be deleted.`, 'FORBIDDEN', 'Delete the users you created instead (`portunix-db user list --type redis`).');
  }
  await withRedis(ctx, async (c) => {
    const removed = Number(await c.send(['ACL', 'DELUSER', name]));
    if (removed === 0) throw new DbError(`ACL user "${name}" does not exist on redis/${ctx.name}.`, 'NOT_FOUND', 'List users with `portunix-db user list --type redis`.');
    await persistAcl(c);
  });
}

/** Redis 7 ACL command categories (ACL CAT). */
const CATEGORIES = new Set(['keyspace', 'read', 'write', 'set', 'sortedset', 'list', 'hash', 'string', 'bitmap', 'hyperloglog', 'geo', 'stream', 'pubsub', 'admin', 'fast', 'slow', 'blocking', 'dangerous', 'connection', 'transaction', 'scripting']);

/**
 * Turns one grant word into ACL rules. Accepts raw ACL rules (+@read, -@dangerous, +get,
 * ~cache:*, %R~pattern, &channel*, allkeys, allcommands) and bare category words (read -> +@read).
 */
export function grantRules(privilege: string): string[] {
  const p = privilege.trim();
  if (p === 'all') return ['+@all', '~*', '&*'];
  if (['allkeys', 'allcommands', 'allchannels'].includes(p)) return [p];
  if (/^[+-]@[a-z]+$/.test(p)) return [p];
  if (/^[+-][a-z][a-z_-]*(\|[a-z][a-z_-]*)?$/i.test(p)) return [p.toLowerCase()];
  if (/^~[^\s]+$/.test(p) || /^%(R|W|RW)~[^\s]+$/.test(p) || /^&[^\s]+$/.test(p)) return [p];
  if (CATEGORIES.has(p.toLowerCase())) return [`+@${p.toLowerCase()}`];
  throw new DbError(
    `"${privilege}" is not a Redis ACL grant.`,
    'USAGE',
    'Use command categories (+@read, -@dangerous, or just read), commands (+get), key patterns (~app:*, %R~cache:*) or channels (&news*). Passwords are set with `user create`, not grants.',
  );
}

/** The opposite rule, for revoke. Key and channel patterns are removed by rewriting the list. */
function revokeRule(rule: string): string | undefined {
  if (rule.startsWith('+')) return `-${rule.slice(1)}`;
  if (rule.startsWith('-')) return `+${rule.slice(1)}`;
  if (rule === 'allcommands') return 'nocommands';
  if (rule === 'allkeys') return 'resetkeys';
  if (rule === 'allchannels') return 'resetchannels';
  return undefined;
}

function aclField(reply: unknown, field: string): string {
  if (!Array.isArray(reply)) return '';
  const i = reply.findIndex((v) => String(v) === field);
  const v = i >= 0 ? reply[i + 1] : undefined;
  return Array.isArray(v) ? v.map(String).join(' ') : v === undefined || v === null ? '' : String(v);
}

function refuseKeyspace(database: string | undefined): void {
  if (database !== undefined) {
    throw new NotApplicableError(
      'Redis ACLs cannot limit a user to one keyspace (SELECT is a command, not a scope).',
      'Limit the keys instead with a key pattern, e.g. --privileges "~app:*,+@read".',
    );
  }
}

export async function grant(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  refuseKeyspace(database);
  validateIdentifier('user', user);
  const rules = privileges.flatMap(grantRules);
  if (rules.length === 0) throw new DbError('No privileges given.', 'USAGE', 'Pass --privileges, e.g. "+@read,~app:*".');
  return withRedis(ctx, async (c) => {
    if (!(await userExists(c, user))) throw new DbError(`ACL user "${user}" does not exist on redis/${ctx.name}.`, 'NOT_FOUND', `Create it with \`portunix-db user create ${user} --type redis\`.`);
    await c.send(['ACL', 'SETUSER', user, ...rules]);
    await persistAcl(c);
    return [`ACL SETUSER ${user} ${rules.join(' ')}`, 'ACL SAVE'];
  });
}

export async function revoke(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]> {
  refuseKeyspace(database);
  validateIdentifier('user', user);
  const rules = privileges.flatMap(grantRules);
  return withRedis(ctx, async (c) => {
    const current = await c.send(['ACL', 'GETUSER', user]);
    if (current === null) throw new DbError(`ACL user "${user}" does not exist on redis/${ctx.name}.`, 'NOT_FOUND', 'List users with `portunix-db user list --type redis`.');
    const direct = rules.map(revokeRule).filter((r): r is string => r !== undefined);
    const keyDrops = rules.filter((r) => r.startsWith('~') || r.startsWith('%'));
    const chanDrops = rules.filter((r) => r.startsWith('&'));
    const statements: string[] = [];
    const args: string[] = [...direct];
    if (keyDrops.length) {
      const keep = aclField(current, 'keys').split(/\s+/).filter((k) => k && !keyDrops.includes(k));
      args.push('resetkeys', ...keep);
    }
    if (chanDrops.length) {
      const keep = aclField(current, 'channels').split(/\s+/).filter((k) => k && !chanDrops.includes(k));
      args.push('resetchannels', ...keep);
    }
    if (args.length) {
      await c.send(['ACL', 'SETUSER', user, ...args]);
      statements.push(`ACL SETUSER ${user} ${args.join(' ')}`);
    }
    await persistAcl(c);
    statements.push('ACL SAVE');
    return statements;
  });
}

// ---------- maintenance ----------

export async function vacuum(ctx: InstanceContext, options: { database: string; table?: string; full: boolean; analyze: boolean }): Promise<VacuumOutcome> {
  validateIdentifier('database', options.database);
  if (options.table !== undefined) {
    throw new NotApplicableError('Redis has no tables to vacuum; memory is reclaimed for the whole instance.', `Run \`portunix-db vacuum ${options.database} --type redis\` without a table.`);
  }
  return withRedis(ctx, async (c) => {
    const before = await info(c, 'memory');
    const allocator = before['mem_allocator'] ?? 'unknown';
    const actions: string[] = [];
    const details: Record<string, unknown> = { allocator, used_memory: num(before['used_memory']), used_memory_rss_before: num(before['used_memory_rss']), fragmentation_ratio_before: num(before['mem_fragmentation_ratio']) };
    if (allocator.startsWith('jemalloc')) {
      await c.send(['MEMORY', 'PURGE']);
      const after = await info(c, 'memory');
      details['used_memory_rss_after'] = num(after['used_memory_rss']);
      details['fragmentation_ratio_after'] = num(after['mem_fragmentation_ratio']);
      actions.push(`MEMORY PURGE: returned freed ${allocator} pages to the OS (whole instance, not only keyspace ${options.database}).`);
    } else {
      actions.push(`Nothing to do: MEMORY PURGE only works with jemalloc and this server uses ${allocator}. Redis frees deleted keys itself; there is nothing like VACUUM to run.`);
    }
    if (options.full) actions.push('--full has no Redis equivalent beyond MEMORY PURGE; for lasting fragmentation enable `activedefrag yes` (jemalloc builds) with `portunix-db config set redis activedefrag yes`.');
    if (options.analyze) actions.push('--analyze has no Redis equivalent: Redis keeps no planner statistics.');
    return { actions, details };
  });
}
