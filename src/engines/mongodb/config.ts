import { readFile } from 'node:fs/promises';
import type { Document } from 'mongodb';
import { closest } from '../../core/did-you-mean.js';
import { DbError } from '../../core/errors.js';
import type { ConfigChange, ConfigSetting, InstanceContext } from '../contract.js';
import { isUnsupported, lacks, withMongo } from './client.js';
import { serverIdentity } from './instance.js';

/** Parameters portunix-db owns: changing them would break authentication, TLS or supervision. */
export const MANAGED: Record<string, string> = {
  enableLocalhostAuthBypass: 'Authentication is always on for portunix-db instances.',
  authenticationMechanisms: 'portunix-db logs in with SCRAM-SHA-256.',
  tlsMode: 'portunix-db instances require TLS with their own certificate.',
  sslMode: 'portunix-db instances require TLS with their own certificate.',
  clusterAuthMode: 'Replication is not managed by portunix-db.',
  authSchemaVersion: 'The user schema is the server\'s own.',
  featureCompatibilityVersion: 'Use `db.adminCommand({ setFeatureCompatibilityVersion })` yourself after an upgrade.',
};

const NAME = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;

export interface ParameterDetail {
  value: unknown;
  settableAtRuntime?: boolean;
  settableAtStartup?: boolean;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `getParameter {showDetails, allParameters}` reply → settings. Pure, for tests. */
export function parseParameters(reply: Document): ConfigSetting[] {
  return Object.entries(reply)
    .filter(([k]) => !['ok', '$clusterTime', 'operationTime'].includes(k))
    .map(([name, raw]) => {
      const d: ParameterDetail = raw !== null && typeof raw === 'object' && 'value' in (raw as Document) ? (raw as ParameterDetail) : { value: raw };
      const restart = d.settableAtRuntime === false && d.settableAtStartup !== false;
      return { name, value: show(d.value), source: 'getParameter', restartRequired: restart, ...(d.settableAtRuntime === false && d.settableAtStartup === false ? { description: 'read-only' } : {}) };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A command-line value as BSON: true/false, numbers, JSON objects or arrays, else the string. Pure. */
export function parseValue(text: string): unknown {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^-?\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  if (/^-?\d+\.\d+$/.test(text)) return Number(text);
  if (/^[[{]/.test(text)) {
    try {
      const v = JSON.parse(text) as unknown;
      if (JSON.stringify(v).includes('"$')) throw new DbError('A setting value cannot hold "$" operators.', 'USAGE');
      return v;
    } catch (err) {
      if (err instanceof DbError) throw err;
    }
  }
  return text;
}

async function details(ctx: InstanceContext): Promise<Document> {
  return withMongo(ctx, (c) => c.admin({ getParameter: { showDetails: true, allParameters: true } }));
}

export async function configList(ctx: InstanceContext): Promise<ConfigSetting[]> {
  return parseParameters(await details(ctx));
}

async function one(ctx: InstanceContext, name: string): Promise<ConfigSetting> {
  if (!NAME.test(name)) throw new DbError(`"${name.slice(0, 80)}" is not a MongoDB parameter name.`, 'USAGE', 'Parameter names are letters, digits and "_", e.g. cursorTimeoutMillis.');
  const all = parseParameters(await details(ctx));
  const found = all.find((s) => s.name === name);
  if (!found) {
    const guess = closest(name, all.map((s) => s.name));
    throw new DbError(`This server has no parameter "${name}".${guess ? ` Did you mean "${guess}"?` : ''}`, 'NOT_FOUND', '`portunix-db config show mongodb` lists every parameter.');
  }
  return found;
}

export async function configGet(ctx: InstanceContext, name: string): Promise<ConfigSetting> {
  return one(ctx, name);
}

/** Sets or replaces `  name: value` in the `setParameter:` section of mongod.conf. Pure, for tests. */
export function withStartupParameter(conf: string, name: string, value: unknown): string {
  const lines = conf.replace(/\n$/, '').split('\n');
  const line = `  ${name}: ${JSON.stringify(value)}`;
  let section = lines.findIndex((l) => /^setParameter:\s*$/.test(l));
  if (section < 0) {
    lines.push('setParameter:');
    section = lines.length - 1;
  }
  let end = section + 1;
  while (end < lines.length && /^\s+\S/.test(lines[end]!)) end++;
  const existing = lines.slice(section + 1, end).findIndex((l) => l.trim().startsWith(`${name}:`));
  if (existing >= 0) lines[section + 1 + existing] = line;
  else lines.splice(end, 0, line);
  return lines.join('\n') + '\n';
}

export async function configSet(ctx: InstanceContext, name: string, value: string): Promise<ConfigChange> {
  const managed = MANAGED[name];
  if (managed) throw new DbError(`portunix-db manages "${name}" for mongodb/${ctx.name} and does not change it.`, 'FORBIDDEN', managed);
  // eslint-disable-next-line no-control-regex
  if (/[\r\n\x00]/.test(value)) throw new DbError('A setting value cannot contain line breaks.', 'USAGE', 'Pass the value on one line.');
  const id = await serverIdentity(ctx);
  if (id.kind === 'ferretdb') throw lacks(id.kind, id.version, `changing server parameters (no setParameter command and no mongod.conf; its settings are command-line flags)`, '`portunix-db config show mongodb` lists what it reports; run MongoDB itself to tune server parameters.');
  const current = await one(ctx, name);
  const parsed = parseValue(value);
  if (current.description === 'read-only') throw new DbError(`${name} is read-only on this server.`, 'FORBIDDEN');
  if (current.restartRequired) {
    const conf = await readFile(ctx.paths.configFile, 'utf8');
    await ctx.writePrivateFile(ctx.paths.configFile, withStartupParameter(conf, name, parsed), { ownedByServiceUser: true });
    return { name, previous: current.value, value: show(parsed), applied: 'restart-required', persisted: `${ctx.paths.configFile} setParameter section (takes effect after \`portunix-db restart mongodb${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`)` };
  }
  return withMongo(ctx, async (c) => {
    try {
      await c.admin({ setParameter: 1, [name]: parsed });
    } catch (err) {
      if (isUnsupported(err)) throw lacks(id.kind, id.version, 'setParameter', 'Its parameters cannot be changed at run time; run MongoDB itself to tune server parameters.');
      throw new DbError(`The server refused ${name} = ${show(parsed)}: ${(err as Error).message}`, 'INVALID_CONFIG', `\`portunix-db config get mongodb ${name}\` shows the current value.`);
    }
    // live only: mongod forgets setParameter at restart unless it is in mongod.conf too
    const conf = await readFile(ctx.paths.configFile, 'utf8').catch(() => undefined);
    if (conf !== undefined) await ctx.writePrivateFile(ctx.paths.configFile, withStartupParameter(conf, name, parsed), { ownedByServiceUser: true });
    const after = await c.admin({ getParameter: 1, [name]: 1 });
    return { name, previous: current.value, value: show(after[name] ?? parsed), applied: 'live', persisted: conf !== undefined ? `setParameter (live) and ${ctx.paths.configFile}` : 'setParameter (live only)' };
  });
}
