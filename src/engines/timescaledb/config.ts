import type { ConfigChange, InstanceContext } from '../contract.js';
import { configSet as pgConfigSet } from '../postgresql/config.js';
import { mergeLibraryLists, parseLibraryList } from '../postgresql/inspect.js';

/**
 * PostgreSQL's config set, except that shared_preload_libraries always keeps timescaledb:
 * the list given is merged with it, never replaces it (without it the extension stops loading).
 */
export async function configSet(ctx: InstanceContext, name: string, value: string): Promise<ConfigChange> {
  if (name.toLowerCase() !== 'shared_preload_libraries' || parseLibraryList(value).includes('timescaledb')) return pgConfigSet(ctx, name, value);
  return pgConfigSet(ctx, name, mergeLibraryLists('timescaledb', value).join(','));
}
