import { DbError } from '../../core/errors.js';
import { closest } from '../../core/did-you-mean.js';
import type { ConfigSetting, InstanceContext } from '../contract.js';
import { endpointOf, httpExchange, mapInfluxError, rows, withInfluxQl, type Series } from './client.js';
import { operatorToken } from './instance.js';

/** SHOW DIAGNOSTICS `config*` sections -> flat settings `<section>.<key>` (the running values). Pure, for tests. */
export function diagnosticsSettings(series: Series[]): ConfigSetting[] {
  const out: ConfigSetting[] = [];
  for (const s of series.filter((x) => x.name === 'config' || x.name?.startsWith('config-'))) {
    const section = s.name === 'config' ? '' : `${s.name!.slice('config-'.length)}.`;
    for (const [k, v] of Object.entries(rows(s)[0] ?? {})) out.push({ name: `${section}${k}`, value: String(v), source: 'influxdb.conf (running value)', restartRequired: true });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** GET /api/v2/config (2.x) -> flat settings. Pure, for tests. */
export function v2Settings(body: string): ConfigSetting[] {
  const parsed = JSON.parse(body) as { config?: Record<string, unknown> };
  return Object.entries(parsed.config ?? {}).map(([name, v]) => ({ name, value: typeof v === 'string' ? v : JSON.stringify(v), source: 'influxd flags/environment (running value)', restartRequired: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
}

function pick(settings: ConfigSetting[], name: string): ConfigSetting {
  const hit = settings.find((s) => s.name === name);
  if (hit) return hit;
  const close = closest(name, settings.map((s) => s.name));
  throw new DbError(`InfluxDB has no setting ${name}.`, 'NOT_FOUND', close ? `Did you mean ${close}?` : 'List settings with `portunix-db config list influxdb`.');
}

export async function configListV1(ctx: InstanceContext): Promise<ConfigSetting[]> {
  return withInfluxQl(ctx, async (c) => diagnosticsSettings(await c.query('SHOW DIAGNOSTICS')));
}

export async function configGetV1(ctx: InstanceContext, name: string): Promise<ConfigSetting> {
  return pick(await configListV1(ctx), name);
}

export async function configListV2(ctx: InstanceContext): Promise<ConfigSetting[]> {
  try {
    const r = await httpExchange(await endpointOf(ctx), 'GET', '/api/v2/config', { headers: { authorization: `Token ${await operatorToken(ctx)}` }, timeoutMs: 10_000 });
    if (r.status !== 200) throw Object.assign(new Error(`GET /api/v2/config answered ${r.status}`), { statusCode: r.status });
    return v2Settings(r.body);
  } catch (err) {
    throw mapInfluxError(err, ctx);
  }
}

export async function configGetV2(ctx: InstanceContext, name: string): Promise<ConfigSetting> {
  return pick(await configListV2(ctx), name);
}
