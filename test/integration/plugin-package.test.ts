/**
 * The Portunix plugin runs from its package (issue 15): `npm pack` the repository, unpack the
 * tarball into an empty plugin directory the way Portunix installs a plugin (the package's
 * files, no node_modules), and run its launcher from there. The esbuild bundle needs nothing from
 * node_modules except the native addons; the plugin's install step (`npm install --omit=dev`)
 * adds those, after which SQLite works too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';

const ROOT = join(dirname(new URL(import.meta.url).pathname), '..', '..', '..');
const work = mkdtempSync(join(tmpdir(), 'pdb-plugin-'));
const pluginDir = join(work, 'plugins', 'db');
const home = freshHome('plugin');
const launcher = [join(pluginDir, 'launchers', 'portunix-db')];
const run = (args: string[], expect = 0) => cliOk(args, { home, command: launcher, cwd: work }, expect);

/** npm's own environment, with the node headers beside node so a native build needs no download. */
function npmEnv(): NodeJS.ProcessEnv {
  const prefix = dirname(dirname(process.execPath));
  return { ...process.env, ...(existsSync(join(prefix, 'include', 'node', 'node.h')) && !process.env.npm_config_nodedir ? { npm_config_nodedir: prefix } : {}) };
}

/** Copies the dev tree's compiled addon into the plugin when both have the same version; else builds it. */
function reuseBuiltAddon(name: string, file: string): void {
  const version = (dir: string) => (JSON.parse(readFileSync(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  const built = join(ROOT, 'node_modules', name, file);
  if (existsSync(built) && version(ROOT) === version(pluginDir)) {
    mkdirSync(dirname(join(pluginDir, 'node_modules', name, file)), { recursive: true });
    copyFileSync(built, join(pluginDir, 'node_modules', name, file));
    return;
  }
  const r = spawnSync('npm', ['rebuild', name], { cwd: pluginDir, env: npmEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, `npm rebuild ${name} failed:\n${r.stdout}\n${r.stderr}`);
}

before(() => {
  assert.ok(existsSync(join(ROOT, 'dist', 'bundle', 'portunix-db.mjs')), 'run `npm run build` first: the bundle is missing');
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  const tarball = join(work, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
  mkdirSync(pluginDir, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', pluginDir, '--strip-components=1']);
});

after(() => rmSync(work, { recursive: true, force: true }));

test('the package holds the bundle, launchers, manifest and docs, and no sources or node_modules', () => {
  const top = readdirSync(pluginDir).sort();
  for (const f of ['catalog', 'dist', 'launchers', 'package.json', 'plugin.json', 'README.md', 'docs']) assert.ok(top.includes(f), `${f} in the package`);
  assert.ok(!top.includes('node_modules') && !top.includes('src') && !top.includes('test'), `package top level: ${top.join(', ')}`);
  assert.deepEqual(readdirSync(join(pluginDir, 'dist')), ['bundle']);
});

test('without any node_modules: --version, status and mcp tools run from the plugin directory', async () => {
  const version = await run(['--version']);
  assert.match(version.stdout.trim(), /^\d+\.\d+\.\d+/);
  assert.notEqual(version.stdout.trim(), '0.0.0');
  const status = await run(['status', '--json']);
  assert.ok(Array.isArray(status.json?.instances ?? status.json), status.stdout);
  const tools = await run(['mcp', 'tools', '--json']);
  const names = (tools.json.tools as { name: string }[]).map((t) => t.name);
  assert.ok(names.includes('db_status') && names.includes('db_tables'), names.join(','));
  assert.doesNotMatch(status.stderr + tools.stderr, /ERR_MODULE_NOT_FOUND/);
});

test('without the native addons, SQLite says which addon is missing and how to install it', async () => {
  const r = await runCli(['install', 'sqlite', '--source', 'embedded', '--json'], { home: freshHome('plugin-noaddon'), command: launcher, cwd: work });
  assert.notEqual(r.code, 0);
  assert.equal(r.json?.error?.code, 'NOT_INSTALLED', r.stdout + r.stderr);
  assert.match(r.json.error.message, /better-sqlite3/);
  assert.match(r.json.error.hint, /npm install --omit=dev/);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at /, 'no stack trace');
});

test('after the plugin install step, SQLite installs and answers from the plugin directory', { timeout: 900_000 }, async () => {
  // the plugin's install step: the package's own (native) dependencies, nothing else
  // Compiling better-sqlite3 takes minutes on a busy CI machine and is the very same compile
  // `npm ci` just did, so by default the scripts are skipped and the identical addon (same
  // version, same Node ABI) is reused; PDB_PLUGIN_FULL_INSTALL=1 runs the install scripts too.
  const full = process.env.PDB_PLUGIN_FULL_INSTALL === '1';
  const args = ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', '--no-package-lock', ...(full ? [] : ['--ignore-scripts'])];
  const r = spawnSync('npm', args, { cwd: pluginDir, env: npmEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, `npm install in the plugin dir failed:\n${r.stdout}\n${r.stderr}`);
  if (!full) reuseBuiltAddon('better-sqlite3', join('build', 'Release', 'better_sqlite3.node'));
  const installed = readdirSync(join(pluginDir, 'node_modules')).filter((n) => !n.startsWith('.'));
  assert.ok(!installed.includes('commander') && !installed.includes('pg') && !installed.includes('@modelcontextprotocol'), `only native addons and their helpers: ${installed.join(', ')}`);
  await run(['install', 'sqlite', '--source', 'embedded', '--json']);
  await run(['create', 'shop', '--type', 'sqlite', '--json']);
  const tables = await run(['tables', 'shop', '--type', 'sqlite', '--json']);
  assert.ok(tables.json, tables.stdout);
  const call = await run(['mcp', 'call', 'db_status', '--type', 'sqlite', '--json']);
  assert.match(call.stdout, /sqlite/);
});
