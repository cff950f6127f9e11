import { realpathSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { DbError } from './errors.js';

/** The path with symlinks resolved as far as it exists (the rest appended), so a link cannot hide where it points. */
export function real(path: string): string {
  const abs = resolve(path);
  let head = abs;
  const tail: string[] = [];
  for (;;) {
    try {
      return join(realpathSync(head), ...tail.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return abs;
      tail.push(head.slice(parent.length + (parent.endsWith(sep) ? 0 : 1)));
      head = parent;
    }
  }
}

/** `child` is `parent` or lies below it (both already resolved). */
export function within(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !rel.startsWith(sep));
}

/**
 * A client-given path, resolved (relative ones against `base`) with symlinks followed, that must
 * lie inside one of `roots`. Used for every path an MCP client names.
 */
export function confine(path: string, base: string, roots: string[], what: string): string {
  const resolved = real(resolve(base, path));
  const realRoots = roots.map(real);
  if (!realRoots.some((r) => within(resolved, r))) {
    throw new DbError(`${what} ${path} resolves to ${resolved}, outside the allowed folders.`, 'FORBIDDEN', `Use a folder inside: ${[...new Set(realRoots)].join(', ')} (add one with mcp.backup_roots in the config).`);
  }
  return resolved;
}
