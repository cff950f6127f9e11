import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { real, within } from '../real-path.js';
import { listInstances, type PortunixDbConfig } from '../config.js';
import { DbError } from '../errors.js';
import type { EngineId } from '../../engines/ids.js';

/** The marker file an initialised data dir carries: which instance it belongs to. */
export const DATA_DIR_MARKER = '.portunix-db';

async function readMarker(dir: string): Promise<{ engine?: string; instance?: string } | undefined> {
  try {
    const parsed = JSON.parse(await readFile(join(dir, DATA_DIR_MARKER), 'utf8')) as { engine?: unknown; instance?: unknown };
    return { ...(typeof parsed.engine === 'string' ? { engine: parsed.engine } : {}), ...(typeof parsed.instance === 'string' ? { instance: parsed.instance } : {}) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    return {}; // a marker we cannot read still says "someone's data dir"
  }
}

/**
 * Refuses a data dir that is, contains, or lies inside another instance's data dir or instance
 * folder, that is a file, or that carries another instance's marker (also in any folder above it).
 * Runs before install writes anything.
 */
export async function guardDataDir(config: PortunixDbConfig, me: { engine: EngineId; name: string }, dataDir: string, instanceRoot: (engine: EngineId, name: string) => string): Promise<void> {
  const mine = real(dataDir);
  const info = await stat(dataDir).catch(() => undefined);
  if (info && !info.isDirectory()) {
    throw new DbError(`Data directory ${dataDir} exists and is not a directory.`, 'DATA_DIR_CONFLICT', 'Pass a --data-dir that is a directory (or does not exist yet). Nothing was changed.');
  }
  for (const other of listInstances(config)) {
    if (other.engine === me.engine && other.name === me.name) continue;
    const id = `${other.engine}/${other.name}`;
    for (const [what, path] of [
      ['data directory', other.config.data_dir],
      ['instance folder', instanceRoot(other.engine, other.name)],
    ] as const) {
      const theirs = real(path);
      if (within(mine, theirs) || within(theirs, mine)) {
        throw new DbError(
          `Data directory ${dataDir} overlaps the ${what} of ${id} (${path}).`,
          'DATA_DIR_CONFLICT',
          `Choose a --data-dir outside every other instance's folders. Nothing was changed.`,
          { instance: id, path },
        );
      }
    }
  }
  // markers: in the dir itself and in every folder above it (a data dir inside someone else's)
  for (let dir = mine; ; dir = dirname(dir)) {
    const marker = await readMarker(dir);
    if (marker && !(marker.engine === me.engine && marker.instance === me.name && dir === mine)) {
      const owner = marker.engine ? `${marker.engine}/${marker.instance ?? '?'}` : 'another instance';
      throw new DbError(`${dir === mine ? 'Data directory' : `A folder above data directory ${dataDir},`} ${dir} belongs to ${owner} (it has a ${DATA_DIR_MARKER} marker).`, 'DATA_DIR_CONFLICT', 'Choose another --data-dir. Nothing was changed.', { owner });
    }
    if (dirname(dir) === dir) break;
  }
}
