import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/unit -> repository root */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(ROOT, 'plugin.json'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

const MCP_TOOLS = ['db_status', 'db_list', 'db_size', 'db_tables', 'db_connections', 'db_performance', 'db_backup_status', 'db_backup_create', 'db_restore', 'db_vacuum', 'db_schema', 'db_table_info', 'db_indexes', 'db_constraints', 'db_query'];

test("plugin.json passes Portunix's manifest validation rules", () => {
  assert.equal(manifest.name, 'db');
  assert.equal(manifest.version, pkg.version, 'manifest version follows package.json');
  for (const field of ['name', 'version', 'description', 'author', 'license']) assert.equal(typeof manifest[field], 'string', field);
  assert.ok(['grpc', 'helper', 'executable'].includes(manifest.plugin.type));
  assert.equal(manifest.plugin.type, 'executable');
  assert.ok(manifest.plugin.runtime === undefined || ['native', 'java', 'python'].includes(manifest.plugin.runtime), 'runtime is native/java/python or absent');
  const os = manifest.dependencies.os_support as string[];
  assert.ok(os.length > 0 && os.every((o) => ['linux', 'windows', 'darwin'].includes(o)));
  assert.deepEqual([...os].sort(), ['darwin', 'linux', 'windows']);
  assert.ok(['read', 'write'].every((p) => manifest.permissions.filesystem.includes(p)));
  assert.equal(typeof manifest.permissions.level, 'string');
});

test('the binary is the sh launcher, executable, with a .cmd twin for Windows', () => {
  const bin = join(ROOT, manifest.plugin.binary);
  assert.ok(existsSync(bin), bin);
  if (process.platform !== 'win32') assert.ok(statSync(bin).mode & 0o111, 'launcher is executable');
  assert.match(readFileSync(bin, 'utf8'), /^#!\/bin\/sh\n/);
  const cmd = readFileSync(`${bin}.cmd`, 'utf8');
  assert.match(cmd, /^@echo off\r\n/);
  assert.ok(cmd.split('\n').every((l) => l === '' || l.endsWith('\r')), '.cmd uses CRLF line ends');
  assert.match(cmd, /"%~dp0\.\.\\dist\\bundle\\portunix-db\.mjs" %\*/);
  assert.ok(pkg.files.includes('launchers') && pkg.files.includes('plugin.json'));
});

test('mcp_tools lists exactly the 15 db_* tools, each served by a tool module, each with a one-line description', () => {
  const tools = manifest.ai_integration.mcp_tools as { name: string; description: string }[];
  assert.deepEqual(tools.map((t) => t.name), MCP_TOOLS);
  for (const t of tools) assert.ok(t.description.length > 10 && !t.description.includes('\n'), t.name);
  const served = readdirSync(join(ROOT, 'src', 'mcp', 'tools')).filter((f) => /^db-.*\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, '').replace(/-/g, '_'));
  assert.deepEqual([...served].sort(), [...MCP_TOOLS].sort());
});

test('commands have descriptions and examples that use `portunix db`', () => {
  const names = (manifest.commands as { name: string }[]).map((c) => c.name);
  for (const n of ['install', 'status', 'backup', 'restore', 'user', 'mcp']) assert.ok(names.includes(n), n);
  for (const c of manifest.commands as { name: string; description: string; subcommands: string[]; examples: string[] }[]) {
    assert.ok(c.description && Array.isArray(c.subcommands) && c.examples.length > 0, c.name);
    for (const e of c.examples) assert.match(e, /portunix db /, e);
  }
});

const posix = process.platform !== 'win32';

test('the launcher passes arguments through unchanged, also when reached through a symlink', { skip: !posix && 'sh launcher' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-launcher-'));
  // a stand-in for node that prints the arguments it was given, one JSON document
  const stub = join(dir, 'fake-node');
  writeFileSync(stub, `#!/bin/sh\nexec "${process.execPath}" -e 'console.log(JSON.stringify(process.argv.slice(1)))' -- "$@"\n`);
  chmodSync(stub, 0o755);
  const args = ['install', 'postgresql', '--version', '16', 'two words', "it's", '$HOME', '', '*', '--json', 'a"b', 'ü'];
  const link = join(dir, 'portunix-db');
  symlinkSync(join(ROOT, manifest.plugin.binary), link);
  for (const launcher of [join(ROOT, manifest.plugin.binary), link]) {
    const r = spawnSync(launcher, args, { env: { ...process.env, PORTUNIX_DB_NODE: stub }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as string[];
    assert.equal(resolve(got[0]!), resolve(ROOT, 'dist', 'bundle', 'portunix-db.mjs'), 'runs the bundle dist/bundle/portunix-db.mjs beside the launcher');
    assert.deepEqual(got.slice(1), args);
  }
});

test('the launcher runs the real CLI: --version prints the package version', { skip: !posix && 'sh launcher' }, () => {
  const r = spawnSync(join(ROOT, manifest.plugin.binary), ['--version'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), pkg.version);
});

test('the launcher says what is missing when node cannot be found', { skip: !posix && 'sh launcher' }, () => {
  const r = spawnSync(join(ROOT, manifest.plugin.binary), ['--version'], { env: { ...process.env, PORTUNIX_DB_NODE: 'no-such-node-binary' }, encoding: 'utf8' });
  assert.equal(r.status, 127);
  assert.match(r.stderr, /Node\.js 20 or newer is required/);
});
