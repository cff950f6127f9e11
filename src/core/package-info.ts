/**
 * The tool's own version. The esbuild bundle carries it as a constant; the tsc build reads the
 * package.json of the package it runs from (found by walking up, so both layouts work).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached) return cached;
  const bundled = process.env.PORTUNIX_DB_BUNDLED_VERSION; // replaced by a literal in the bundle
  if (bundled) return (cached = bundled);
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'portunix-db' && pkg.version) return (cached = pkg.version);
      } catch {
        /* keep looking */
      }
    }
    dir = dirname(dir);
  }
  return (cached = '0.0.0');
}
