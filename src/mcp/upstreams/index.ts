/** The upstream MCP servers `mcp serve --with` can wrap. Adding one = one file + one line here. */
import type { UpstreamId } from '../../engines/contract.js';
import type { UpstreamDef } from '../upstream.js';
import { UsageError } from '../../core/errors.js';
import { dbhub } from './dbhub.js';
import { mongodb } from './mongodb.js';
import { elasticsearch } from './elasticsearch.js';

export const UPSTREAMS: Record<UpstreamId, UpstreamDef> = { dbhub, mongodb, elasticsearch };

export function parseUpstreams(list: readonly string[]): UpstreamDef[] {
  const out: UpstreamDef[] = [];
  for (const raw of list.flatMap((s) => s.split(','))) {
    const id = raw.trim().toLowerCase();
    if (!id) continue;
    const def = (UPSTREAMS as Record<string, UpstreamDef>)[id];
    if (!def) throw new UsageError(`Unknown upstream MCP server "${raw}".`, 'USAGE', `Use any of: ${Object.keys(UPSTREAMS).join(', ')}.`);
    if (!out.includes(def)) out.push(def);
  }
  return out;
}
