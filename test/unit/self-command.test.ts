/** Friction 3 (issue 15): printed next steps use a command that works, also without `portunix-db` on PATH. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfCommand } from '../../src/cli/self-command.js';

const dir = mkdtempSync(join(tmpdir(), 'pdb-self-'));
const script = join(dir, 'pkg', 'dist', 'bundle', 'portunix-db.mjs');
mkdirSync(join(dir, 'pkg', 'dist', 'bundle'), { recursive: true });
mkdirSync(join(dir, 'pkg', 'launchers'));
writeFileSync(script, '');
chmodSync(script, 0o755);
writeFileSync(join(dir, 'pkg', 'launchers', 'portunix-db'), '#!/bin/sh\n');
chmodSync(join(dir, 'pkg', 'launchers', 'portunix-db'), 0o755);

test('not on PATH: the explicit node command', () => {
  const cmd = selfCommand({ PATH: join(dir, 'empty') }, script);
  assert.ok(cmd.startsWith(process.execPath) && cmd.endsWith(script), cmd);
});

test('on PATH through the npm bin link or the plugin launcher: portunix-db', () => {
  const npmBin = join(dir, 'npm-bin');
  mkdirSync(npmBin);
  symlinkSync(script, join(npmBin, 'portunix-db'));
  assert.equal(selfCommand({ PATH: npmBin }, script), 'portunix-db');
  const launcherBin = join(dir, 'launcher-bin');
  mkdirSync(launcherBin);
  symlinkSync(join(dir, 'pkg', 'launchers', 'portunix-db'), join(launcherBin, 'portunix-db'));
  assert.equal(selfCommand({ PATH: launcherBin }, script), 'portunix-db');
});

test('another program called portunix-db on PATH does not count', () => {
  const other = join(dir, 'other-bin');
  mkdirSync(other);
  writeFileSync(join(other, 'portunix-db'), '#!/bin/sh\n');
  chmodSync(join(other, 'portunix-db'), 0o755);
  assert.notEqual(selfCommand({ PATH: other }, script), 'portunix-db');
});
