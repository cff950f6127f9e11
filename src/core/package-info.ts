/**
 * The tool's own version. The esbuild bundle carries it as a constant; the tsc build reads the
 * package.json of the package it runs from (found by walking up, so both layouts work).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: { root?: string; version: string } | undefined;

function findPackage(): { root?: string; version: string } {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'portunix-db' && pkg.version) return (cached = { root: dir, version: pkg.version });
      } catch {
        /* keep looking */
      }
    }
    dir = dirname(dir);
  }
  return (cached = { version: '0.0.0' });
}

export function packageVersion(): string {
  const bundled = process.env.PORTUNIX_DB_BUNDLED_VERSION; // replaced by a literal in the bundle
  return bundled || findPackage().version;
}

/** Where a documentation page is: the installed package's docs/ (it ships with the plugin), and online. */
export function docPage(page: string): string {
  const root = findPackage().root;
  const local = root && existsSync(join(root, 'docs', page)) ? join(root, 'docs', page) : undefined;
  return local ?? `docs/${page} in the portunix-db package`;
}
