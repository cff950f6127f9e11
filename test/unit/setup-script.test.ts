/** Friction 2 (issue 15): the setup scripts say what is happening while npm ci compiles for minutes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

test('with_progress reports a long command while it runs and keeps its exit code', () => {
  const ok = spawnSync('bash', ['-c', '. scripts/progress.sh; with_progress "npm ci" sleep 3'], { cwd: ROOT, env: { ...process.env, PORTUNIX_DB_PROGRESS_INTERVAL: '1' }, encoding: 'utf8' });
  assert.equal(ok.status, 0);
  assert.match(ok.stderr, /\.\.\. npm ci still running \(\d+ s\)/);
  const failed = spawnSync('bash', ['-c', '. scripts/progress.sh; with_progress "x" sh -c "exit 7"'], { cwd: ROOT, env: { ...process.env, PORTUNIX_DB_PROGRESS_INTERVAL: '1' }, encoding: 'utf8' });
  assert.equal(failed.status, 7);
});

test('setup.sh announces the native build and prints a working command when npm link fails', () => {
  const setup = readFileSync(join(ROOT, 'scripts', 'setup.sh'), 'utf8');
  assert.match(setup, /compiles better-sqlite3/);
  assert.match(setup, /with_progress "npm ci" npm ci/);
  assert.match(setup, /the command is: node \$PWD\/dist\/bundle\/portunix-db\.mjs/);
});
