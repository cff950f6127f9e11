import { readFileSync } from 'node:fs';
import { DbError } from '../../core/errors.js';
import type { ConfigChange, ConfigSetting, InstanceContext } from '../contract.js';
import { esReason, mapEsError, readState, withEs } from './client.js';
import { DEFAULT_HEAP, DISK_WATERMARKS, findJava, HEAP, heapFile, renderHeap, updateState, ymlFile } from './instance.js';

/** Node settings portunix-db owns: changing them would break supervision, backups or the loopback-only rule. */
export const MANAGED: Record<string, string> = {
  'network.host': 'portunix-db instances listen on 127.0.0.1 only.',
  'http.host': 'portunix-db instances listen on 127.0.0.1 only.',
  'transport.host': 'portunix-db instances listen on 127.0.0.1 only.',
  'network.bind_host': 'portunix-db instances listen on 127.0.0.1 only.',
  'network.publish_host': 'portunix-db instances listen on 127.0.0.1 only.',
  'http.port': 'The port is part of the instance registration; re-install the instance with another --port.',
  'path.data': 'The data directory is part of the instance registration.',
  'path.logs': '`portunix-db logs elasticsearch` reads the instance log.',
  'path.repo': 'Backups register their snapshot repositories under the instance snapshots/ directory.',
  'discovery.type': 'portunix-db runs Elasticsearch as a single node.',
  'cluster.initial_master_nodes': 'portunix-db runs Elasticsearch as a single node.',
  'xpack.security.enabled': 'Security follows the distribution (on for the default one); re-install to change it.',
  'node.name': 'The node is named after the instance.',
  'cluster.name': 'The cluster is named after the instance.',
};

/** Tool-level settings of the instance, next to Elasticsearch's own. */
export const TOOL_SETTINGS: Record<string, string> = {
  heap: `JVM heap (-Xms and -Xmx in config/jvm.options.d/heap.options), default ${DEFAULT_HEAP}; needs a restart.`,
  java_home: 'The JDK that runs the node (ES_JAVA_HOME still wins when set); needs a restart.',
};

const NAME = /^[a-z][a-z0-9_.-]{0,200}$/;

/** Our flat `key: value` lines of elasticsearch.yml (pure, for tests). */
export function parseYml(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z][a-z0-9_.-]*):\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if (v.startsWith('"')) {
      try {
        v = JSON.parse(v) as string;
      } catch {
        /* keep as written */
      }
    }
    out[m[1]!] = v;
  }
  return out;
}

/** Sets or replaces one flat line; the value is written as a JSON string (valid YAML). */
export function setYml(text: string, name: string, value: string): string {
  const line = `${name}: ${JSON.stringify(value)}`;
  const lines = text.split('\n');
  const i = lines.findIndex((l) => l.startsWith(`${name}:`));
  if (i >= 0) lines[i] = line;
  else {
    while (lines.length && lines[lines.length - 1] === '') lines.pop();
    lines.push(line, '');
  }
  return lines.join('\n');
}

function heapNow(ctx: InstanceContext): string {
  try {
    return /-Xmx(\S+)/.exec(readFileSync(heapFile(ctx), 'utf8'))?.[1] ?? DEFAULT_HEAP;
  } catch {
    return DEFAULT_HEAP;
  }
}

function toolSetting(ctx: InstanceContext, name: string): ConfigSetting {
  const state = readState(ctx);
  const value = name === 'heap' ? heapNow(ctx) : state.java_home ?? '(bundled JDK or ES_JAVA_HOME)';
  return { name, value, source: 'portunix-db', restartRequired: true, description: TOOL_SETTINGS[name]! };
}

function stringify(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

type SettingsAnswer = { persistent?: Record<string, unknown>; transient?: Record<string, unknown>; defaults?: Record<string, unknown> };

/** Persistent and transient cluster settings, the node settings of elasticsearch.yml, and the tool's own. */
export async function configList(ctx: InstanceContext): Promise<ConfigSetting[]> {
  const s = await withEs(ctx, (c) => c.req<SettingsAnswer>('GET', '/_cluster/settings', { query: { flat_settings: true } }));
  const out: ConfigSetting[] = [];
  for (const [k, v] of Object.entries(s.persistent ?? {})) out.push({ name: k, value: stringify(v), source: 'cluster settings (persistent)', restartRequired: false });
  for (const [k, v] of Object.entries(s.transient ?? {})) out.push({ name: k, value: stringify(v), source: 'cluster settings (transient)', restartRequired: false });
  const yml = parseYml(readFileSync(ymlFile(ctx), 'utf8'));
  for (const [k, v] of Object.entries(yml)) if (!out.some((o) => o.name === k)) out.push({ name: k, value: v, source: 'elasticsearch.yml', restartRequired: true, ...(MANAGED[k] ? { description: `managed by portunix-db: ${MANAGED[k]}` } : {}) });
  out.push(...Object.keys(TOOL_SETTINGS).map((k) => toolSetting(ctx, k)));
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function configGet(ctx: InstanceContext, name: string): Promise<ConfigSetting> {
  if (TOOL_SETTINGS[name]) return toolSetting(ctx, name);
  if (!NAME.test(name)) throw new DbError(`"${name}" is not an Elasticsearch setting name.`, 'USAGE', 'Setting names look like cluster.routing.allocation.disk.watermark.low.');
  const s = await withEs(ctx, (c) => c.req<SettingsAnswer>('GET', '/_cluster/settings', { query: { flat_settings: true, include_defaults: true } }));
  for (const [part, source] of [['transient', 'cluster settings (transient)'], ['persistent', 'cluster settings (persistent)']] as const) {
    const v = s[part]?.[name];
    if (v !== undefined) return { name, value: stringify(v), source, restartRequired: false };
  }
  const yml = parseYml(readFileSync(ymlFile(ctx), 'utf8'));
  if (yml[name] !== undefined) return { name, value: yml[name], source: 'elasticsearch.yml', restartRequired: true };
  const d = s.defaults?.[name];
  if (d !== undefined) return { name, value: stringify(d), source: 'default' };
  throw new DbError(`Elasticsearch has no setting "${name}".`, 'NOT_FOUND', 'List them with `portunix-db config list elasticsearch`.');
}

/**
 * ES checks low <= high <= flood stage against the cluster-level values and its defaults, never
 * elasticsearch.yml's (where ours are): a low of 95 % is refused as "more than high [90%]" while
 * 98 % is in effect. The other two, where the yml sets them, go into the same request as they are.
 */
async function watermarksFromYml(ctx: InstanceContext, name: string): Promise<Record<string, string>> {
  if (!DISK_WATERMARKS.some(([n]) => n === name)) return {};
  const out: Record<string, string> = {};
  for (const [other] of DISK_WATERMARKS) {
    if (other === name) continue;
    const now = await configGet(ctx, other).catch(() => undefined);
    if (now?.source === 'elasticsearch.yml') out[other] = now.value;
  }
  return out;
}

/**
 * Dynamic cluster settings are set live and persisted (PUT _cluster/settings, persistent); a
 * static node setting goes into elasticsearch.yml and needs a restart (Elasticsearch says which
 * is which: "not dynamically updateable"); `heap` and `java_home` are the tool's own.
 */
export async function configSet(ctx: InstanceContext, name: string, value: string): Promise<ConfigChange> {
  if (name === 'heap') {
    if (!HEAP.test(value)) throw new DbError(`Heap "${value}" is not a size.`, 'USAGE', 'Give it like 512m or 2g (at most half the machine memory).');
    const previous = heapNow(ctx);
    await ctx.writePrivateFile(heapFile(ctx), renderHeap(value), { ownedByServiceUser: true });
    return { name, previous, value, applied: 'restart-required', persisted: heapFile(ctx) };
  }
  if (name === 'java_home') {
    const state = readState(ctx);
    findJava(state.es_home, value, {});
    await updateState(ctx, { java_home: value });
    return { name, ...(state.java_home ? { previous: state.java_home } : {}), value, applied: 'restart-required', persisted: 'elasticsearch-instance.json' };
  }
  if (!NAME.test(name)) throw new DbError(`"${name}" is not an Elasticsearch setting name.`, 'USAGE', 'Setting names look like cluster.routing.allocation.disk.watermark.low.');
  if (MANAGED[name]) throw new DbError(`${name} is managed by portunix-db: ${MANAGED[name]}`, 'FORBIDDEN');
  if (/[\n\r]/.test(value)) throw new DbError('A setting value cannot hold a line break.', 'USAGE');
  const previous = await configGet(ctx, name).then((s) => s.value, () => undefined);
  const alongside = await watermarksFromYml(ctx, name);
  try {
    await withEs(ctx, (c) => c.req('PUT', '/_cluster/settings', { body: { persistent: { ...alongside, [name]: value } } }), { raw: true });
    return { name, ...(previous !== undefined ? { previous } : {}), value, applied: 'live', persisted: 'cluster settings (persistent, in the cluster state)' };
  } catch (err) {
    const { reason } = esReason(err);
    if (reason && /not dynamically updateable/.test(reason)) {
      const text = readFileSync(ymlFile(ctx), 'utf8');
      await ctx.writePrivateFile(ymlFile(ctx), setYml(text, name, value), { ownedByServiceUser: true });
      return { name, ...(previous !== undefined ? { previous } : {}), value, applied: 'restart-required', persisted: `${ymlFile(ctx)} (a static node setting: restart with \`portunix-db restart elasticsearch\`)` };
    }
    if (reason && /not recognized|unknown setting/i.test(reason)) throw new DbError(`Elasticsearch does not know the setting "${name}": ${reason}`, 'NOT_FOUND', 'List settings with `portunix-db config list elasticsearch`.');
    if (reason) throw new DbError(`Elasticsearch refused ${name}=${value}: ${reason}`, 'USAGE');
    throw mapEsError(err, ctx);
  }
}
