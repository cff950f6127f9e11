import { readFile } from 'node:fs/promises';
import { closest } from '../../core/did-you-mean.js';
import { DbError } from '../../core/errors.js';
import type { ConfigChange, ConfigSetting, InstanceContext } from '../contract.js';
import { pairs, withRedis } from './client.js';
import { confValue } from './instance.js';

/** Settings Redis only reads at start-up (CONFIG SET refuses them). */
export const RESTART_REQUIRED = new Set([
  'io-threads',
  'io-threads-do-reads',
  'always-show-logo',
  'set-proc-title',
  'proc-title-template',
  'syslog-enabled',
  'syslog-ident',
  'syslog-facility',
  'tcp-backlog',
  'disable-thp',
  'enable-protected-configs',
  'enable-debug-command',
  'enable-module-command',
  'appendfilename',
  'appenddirname',
  'cluster-enabled',
  'cluster-config-file',
  'cluster-port',
  'unixsocket',
  'unixsocketperm',
]);

/** Settings portunix-db owns: changing them would break supervision, backups or security. */
export const MANAGED: Record<string, string> = {
  port: 'The port is part of the instance registration; re-install the instance with another --port.',
  bind: 'portunix-db instances listen on 127.0.0.1 only.',
  'protected-mode': 'portunix-db instances keep protected-mode on.',
  dir: 'The data directory is part of the instance registration (backups and restores use it).',
  dbfilename: 'Backups and restores use dump.rdb in the data directory.',
  logfile: '`portunix-db logs redis` reads the instance log file.',
  pidfile: 'The process is supervised by portunix-db.',
  daemonize: 'The server must stay in the foreground for portunix-db to supervise it.',
  supervised: 'The process is supervised by portunix-db.',
  databases: 'Keyspace names are validated against the 16 keyspaces the instance was created with.',
  aclfile: 'Users live in the instance ACL file; manage them with `portunix-db user`.',
  requirepass: 'The admin password is the ACL default user; manage users with `portunix-db user`.',
  masterauth: 'Replication is not managed by portunix-db.',
  masteruser: 'Replication is not managed by portunix-db.',
  'tls-port': 'The TLS port is the instance port (part of its registration); re-install the instance with another --port.',
  'tls-cert-file': 'The instance certificate is made at initialisation; the tool and the URL pin it.',
  'tls-key-file': 'The instance certificate is made at initialisation; the tool and the URL pin it.',
  'tls-ca-cert-file': 'The instance certificate is its own CA.',
  'tls-auth-clients': 'Clients authenticate with ACL passwords, not client certificates (portunix-db has none).',
};

/** Secrets CONFIG GET would show: never listed or printed. */
const SECRET_SETTINGS = ['requirepass', 'masterauth', 'tls-key-file-pass', 'tls-client-key-file-pass'];

const NAME = /^[a-z][a-z0-9-]{0,63}$/;

function describe(name: string, value: string): ConfigSetting {
  return { name, value, source: 'CONFIG GET', restartRequired: RESTART_REQUIRED.has(name) };
}

export async function configList(ctx: InstanceContext): Promise<ConfigSetting[]> {
  return withRedis(ctx, async (c) =>
    pairs(await c.send(['CONFIG', 'GET', '*']))
      .filter(([n]) => !SECRET_SETTINGS.includes(n))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([n, v]) => describe(n, v)),
  );
}

async function getOne(ctx: InstanceContext, name: string): Promise<{ value: string }> {
  if (!NAME.test(name)) throw new DbError(`"${name}" is not a Redis setting name.`, 'USAGE', 'Setting names are lower-case words joined by "-", e.g. maxmemory-policy.');
  return withRedis(ctx, async (c) => {
    const found = pairs(await c.send(['CONFIG', 'GET', name])).find(([n]) => n === name);
    if (!found) {
      const names = pairs(await c.send(['CONFIG', 'GET', '*'])).map(([n]) => n);
      const guess = closest(name, names);
      throw new DbError(`Redis has no setting "${name}".${guess ? ` Did you mean "${guess}"?` : ''}`, 'NOT_FOUND', '`portunix-db config show redis` lists every setting.');
    }
    return { value: found[1] };
  });
}

export async function configGet(ctx: InstanceContext, name: string): Promise<ConfigSetting> {
  if (SECRET_SETTINGS.includes(name)) throw new DbError(`${name} is a secret and is not shown.`, 'FORBIDDEN', '`portunix-db url redis --show-password` shows the admin password.');
  const { value } = await getOne(ctx, name);
  return describe(name, value);
}

/** Sets or replaces `name value` in redis.conf, for settings that take effect at the next start. */
async function writeDirective(ctx: InstanceContext, name: string, value: string): Promise<void> {
  const text = await readFile(ctx.paths.configFile, 'utf8');
  const line = `${name} ${confValue(value)}`;
  const re = new RegExp(`^\\s*${name.replace(/-/g, '\\-')}\\s.*$`, 'm');
  const next = re.test(text) ? text.replace(re, line) : `${text.replace(/\n?$/, '\n')}${line}\n`;
  await ctx.writePrivateFile(ctx.paths.configFile, next, { ownedByServiceUser: true });
}

export async function configSet(ctx: InstanceContext, name: string, value: string): Promise<ConfigChange> {
  const managed = MANAGED[name];
  if (managed) throw new DbError(`portunix-db manages "${name}" for redis/${ctx.name} and does not change it.`, 'FORBIDDEN', managed);
  // eslint-disable-next-line no-control-regex
  if (/[\r\n\x00]/.test(value)) throw new DbError('A setting value cannot contain line breaks.', 'USAGE', 'Pass the value on one line.');
  const { value: previous } = await getOne(ctx, name);
  if (RESTART_REQUIRED.has(name)) {
    await writeDirective(ctx, name, value);
    return { name, previous, value, applied: 'restart-required', persisted: `${ctx.paths.configFile} (takes effect after \`portunix-db restart redis${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`)` };
  }
  return withRedis(ctx, async (c) => {
    try {
      await c.send(['CONFIG', 'SET', name, value]);
    } catch (err) {
      const msg = (err as Error).message;
      if (/immutable|protected config/i.test(msg)) {
        await writeDirective(ctx, name, value);
        return { name, previous, value, applied: 'restart-required' as const, persisted: `${ctx.paths.configFile} (takes effect after a restart)` };
      }
      throw new DbError(`Redis refused ${name} = "${value}": ${msg.replace(/^ERR\s*/, '')}`, 'INVALID_CONFIG', `\`portunix-db config get redis ${name}\` shows the current value.`);
    }
    await c.send(['CONFIG', 'REWRITE']);
    const now = pairs(await c.send(['CONFIG', 'GET', name])).find(([n]) => n === name)?.[1] ?? value;
    return { name, previous, value: now, applied: 'live' as const, persisted: `${ctx.paths.configFile} (CONFIG REWRITE)` };
  });
}
