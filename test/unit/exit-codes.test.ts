/** Friction 6 (issue 15): one mapping from error code to exit code, used by every command and by `mcp call`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeForCode } from '../../src/core/errors.js';
import { freshHome, runCli } from '../helpers/cli.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('the README states the mapping the code uses', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  assert.match(readme, /Exit codes: 0 success, 1 failure, 2 bad usage or confirmation needed, 3 not found \/ not installed, 4 instance not running, 5 not applicable to this engine\./);
  assert.equal(exitCodeForCode('USAGE'), 2);
  assert.equal(exitCodeForCode('CONFIRMATION_REQUIRED'), 2);
  assert.equal(exitCodeForCode('NOT_INSTALLED'), 3);
  assert.equal(exitCodeForCode('NOT_RUNNING'), 4);
  assert.equal(exitCodeForCode('NOT_APPLICABLE'), 5);
  assert.equal(exitCodeForCode('QUERY_FAILED'), 1);
});

test('usage errors thrown outside a command body exit 2 (unknown MCP client, unknown role)', async () => {
  const home = freshHome('exit');
  assert.equal((await runCli(['mcp', 'config', 'nosuch'], { home })).code, 2);
  assert.equal((await runCli(['mcp', 'tools', '--role', 'nosuch'], { home })).code, 2);
});

test('mcp call exits with the code of the matching command', async () => {
  const home = freshHome('exit-mcp');
  const direct = await runCli(['tables', 'shop', '--type', 'postgresql'], { home });
  const viaMcp = await runCli(['mcp', 'call', 'db_tables', '--type', 'postgresql', '--database', 'shop'], { home });
  assert.equal(direct.code, 3, direct.stderr);
  assert.equal(viaMcp.code, direct.code, viaMcp.stderr);
});
