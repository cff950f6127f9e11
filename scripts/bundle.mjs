#!/usr/bin/env node
// Bundles the CLI (and the MCP server it contains) into dist/bundle/portunix-db.mjs with esbuild,
// so the Portunix plugin runs from its package without node_modules for the pure-JS libraries.
// Native addons (better-sqlite3, @napi-rs/keyring) stay real dependencies and are loaded
// lazily; database drivers are split into chunks that load only when their engine is used.
import { build } from 'esbuild';
import { rmSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleDashboard } from './bundle-dashboard.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

/** Native addons and the optional native helpers some drivers probe for. */
export const external = [
  ...Object.keys(pkg.dependencies ?? {}),
  'pg-native',
  'kerberos', '@mongodb-js/zstd', '@aws-sdk/credential-providers', 'gcp-metadata', 'snappy', 'socks', 'aws4', 'mongodb-client-encryption',
];

const result = await build({
  // the SQLite query worker runs in a child process of its own (killed at the time limit), so it
  // is an entry of its own that src/engines/sqlite/query.ts finds beside the bundle
  entryPoints: { 'portunix-db': join(root, 'src', 'cli', 'main.ts'), 'sqlite-query-worker': join(root, 'src', 'engines', 'sqlite', 'query-worker.ts') },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'chunks/[name]-[hash]',
  external,
  // CommonJS libraries inside an ESM bundle call require() for Node built-ins
  banner: { js: "import { createRequire as __pdbCreateRequire } from 'node:module'; const require = __pdbCreateRequire(import.meta.url);" },
  define: { 'process.env.PORTUNIX_DB_BUNDLED_VERSION': JSON.stringify(pkg.version) },
  legalComments: 'linked',
  minifySyntax: true,
  metafile: true,
  logLevel: 'warning',
});
if (process.env.BUNDLE_META) (await import("node:fs")).writeFileSync(process.env.BUNDLE_META, JSON.stringify(result.metafile));
const outputs = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.mjs'));
const total = outputs.reduce((n, [, o]) => n + o.bytes, 0);
const entry = outputs.find(([f]) => f.endsWith('portunix-db.mjs'));
process.stderr.write(`bundle: dist/bundle/portunix-db.mjs (${((entry?.[1].bytes ?? 0) / 1024).toFixed(0)} kB) + ${outputs.length - 1} lazy chunks, ${(total / 1024 / 1024).toFixed(1)} MB in all\n`);
await bundleDashboard(join(outdir, 'dashboard'));
