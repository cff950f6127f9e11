/**
 * The command a user can type to run this very program again. `portunix-db` when that name on
 * PATH is this program (npm link, a Portunix plugin's launcher on PATH); otherwise the explicit
 * `node <script>`, so printed next steps work even when `npm link` could not put it on PATH.
 */
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { findProgram } from '../core/tls.js';

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export function selfCommand(env: NodeJS.ProcessEnv = process.env, script = process.argv[1] ?? ''): string {
  if (env['PORTUNIX_DB_SELF']) return env['PORTUNIX_DB_SELF'];
  const onPath = findProgram('portunix-db', env['PATH'] ?? '');
  if (onPath) {
    const target = real(onPath);
    // the npm bin link points at the script; a launcher lives in <pkg>/launchers beside <pkg>/dist
    if (target === real(script) || real(join(dirname(target), '..', 'dist', 'bundle', 'portunix-db.mjs')) === real(script)) return 'portunix-db';
  }
  const quoted = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return `${quoted(process.execPath)} ${quoted(real(script))}`;
}
