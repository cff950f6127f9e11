#!/usr/bin/env node
// Bundles the dashboard's front end (ui/dashboard: TypeScript, uPlot and its CSS) with esbuild
// into dist/bundle/dashboard/{app.js,app.css}: served by `portunix-db dashboard`, no CDN.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function bundleDashboard(outdir = join(root, 'dist', 'bundle', 'dashboard')) {
  await build({
    entryPoints: { app: join(root, 'ui', 'dashboard', 'app.ts') },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  return outdir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = await bundleDashboard();
  process.stderr.write(`bundle: dashboard front end in ${out}\n`);
}
