import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { coerceArguments, inProcessClient } from '../../src/mcp/client.js';
import { parseClient, planClientConfig, writeClientConfig } from '../../src/mcp/client-config.js';

async function tool(name: string): Promise<Tool> {
  const client = await inProcessClient('admin');
  const t = (await client.listTools()).tools.find((x) => x.name === name)!;
  await client.close();
  return t;
}

test('mcp call: --key value pairs are coerced by the input schema', async () => {
  const t = await tool('db_tables');
  assert.deepEqual(coerceArguments(t, ['--type', 'postgresql', '--database', 'app', '--limit', '10', '--include-sizes']), { type: 'postgresql', database: 'app', limit: 10, include_sizes: true });
  assert.deepEqual(coerceArguments(t, ['--include_sizes', 'false', '--limit=5']), { include_sizes: false, limit: 5 });
  // a numeric-looking database name stays a string: the schema says string
  assert.deepEqual(coerceArguments(t, ['--database', '123']), { database: '123' });
  assert.deepEqual(coerceArguments(t, ['--limit', '7'], { type: 'pg' }), { type: 'pg', limit: 7 });
  assert.throws(() => coerceArguments(t, ['--limt', '3']), /no argument "limt".*Did you mean "--limit"/);
  assert.throws(() => coerceArguments(t, ['--limit', 'ten']), /must be a number/);
  const r = await tool('db_restore');
  assert.deepEqual(coerceArguments(r, ['--file', '/x.dump', '--confirm']), { file: '/x.dump', confirm: true });
});

test('mcp config: snippets for each client', () => {
  assert.throws(() => parseClient('claude-dekstop'), /Did you mean "claude-desktop"/);
  const code = planClientConfig('claude-code', { cwd: '/proj' });
  assert.equal(code.file, '/proj/.mcp.json');
  const entry = (code.snippet['mcpServers'] as Record<string, { command: string; args: string[]; type: string }>)['portunix-db']!;
  assert.equal(entry.command, process.execPath);
  assert.deepEqual(entry.args.slice(-2), ['mcp', 'serve']);
  assert.equal(entry.type, 'stdio');
  assert.match(code.command!, /^claude mcp add portunix-db .*-- .* mcp serve$/);
  const vs = planClientConfig('vscode', { cwd: '/proj', allowWrite: true });
  assert.equal(vs.file, '/proj/.vscode/mcp.json');
  assert.deepEqual((vs.snippet['servers'] as Record<string, { args: string[] }>)['portunix-db']!.args.slice(-3), ['mcp', 'serve', '--allow-write']);
  assert.ok(planClientConfig('cursor').file.endsWith(join('.cursor', 'mcp.json')));
  assert.ok(planClientConfig('claude-desktop').file.endsWith('claude_desktop_config.json'));
});

test('mcp config --write merges, keeps other entries and backs up the old file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-mcpcfg-'));
  const file = join(dir, '.mcp.json');
  writeFileSync(file, JSON.stringify({ mcpServers: { other: { command: 'x', args: [] } }, keep: 1 }));
  const plan = planClientConfig('claude-code', { file });
  const w = await writeClientConfig(plan);
  assert.equal(w.created, false);
  assert.equal(w.replaced, false);
  const after = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(after.mcpServers.other, { command: 'x', args: [] });
  assert.equal(after.keep, 1);
  assert.ok(after.mcpServers['portunix-db']);
  assert.ok(w.backup && readdirSync(dir).some((f) => f.startsWith('.mcp.json.bak-')));
  assert.deepEqual(JSON.parse(readFileSync(w.backup!, 'utf8')).mcpServers, { other: { command: 'x', args: [] } });
  const again = await writeClientConfig(plan);
  assert.equal(again.replaced, true);
  // a file that is not plain JSON is left alone
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, '{ // comment\n}');
  await assert.rejects(writeClientConfig(planClientConfig('vscode', { file: bad })), /not plain JSON/);
  assert.equal(readFileSync(bad, 'utf8'), '{ // comment\n}');
  // a new file is created
  const fresh = join(dir, 'sub', 'mcp.json');
  const c = await writeClientConfig(planClientConfig('cursor', { file: fresh }));
  assert.equal(c.created, true);
  assert.ok(JSON.parse(readFileSync(fresh, 'utf8')).mcpServers['portunix-db']);
});
