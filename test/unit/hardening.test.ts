import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DbError } from '../../src/core/errors.js';
import { parseEngineId } from '../../src/engines/ids.js';
import { decodeCursor } from '../../src/core/paging.js';
import { validatePort } from '../../src/core/ports.js';
import { confine, within } from '../../src/core/real-path.js';
import { audit, verifyAudit } from '../../src/core/audit.js';
import { guardDataDir } from '../../src/core/ops/data-dir-guard.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof DbError ? err.code : 'NOT_A_DBERROR';
  }
  return undefined;
}

test('inputs that used to come out as INTERNAL get their own codes', () => {
  assert.equal(code(() => parseEngineId('__proto__')), 'UNKNOWN_ENGINE');
  assert.equal(code(() => parseEngineId('constructor')), 'UNKNOWN_ENGINE');
  assert.equal(code(() => decodeCursor('not-a-cursor')), 'USAGE');
  for (const p of [0, 70000, -1, 1.5, Number.NaN, '80a']) assert.equal(code(() => validatePort(p)), 'USAGE', String(p));
  assert.equal(validatePort(5432), 5432);
  assert.equal(validatePort('65535'), 65535);
});

test('confine: relative escapes and symlinks out of the roots are refused', () => {
  const root = mkdtempSync(join(tmpdir(), 'pdb-confine-'));
  const outside = mkdtempSync(join(tmpdir(), 'pdb-outside-'));
  symlinkSync(outside, join(root, 'link'));
  assert.equal(code(() => confine('../../x', root, [root], 'Backup destination')), 'FORBIDDEN');
  assert.equal(code(() => confine('link/sub', root, [root], 'Backup destination')), 'FORBIDDEN');
  assert.equal(code(() => confine(outside, root, [root], 'Backup destination')), 'FORBIDDEN');
  assert.equal(confine('a/b', root, [root], 'x'), join(root, 'a', 'b'));
  assert.equal(within('/a/b', '/a'), true);
  assert.equal(within('/ab', '/a'), false);
  assert.equal(within('/a/..b', '/a'), true);
});

test('data-dir guard: another instance dir, inside or above it, a marker, a file', async () => {
  const home = mkdtempSync(join(tmpdir(), 'pdb-guard-'));
  const pgData = join(home, 'instances', 'postgresql', 'main', 'data');
  mkdirSync(pgData, { recursive: true });
  writeFileSync(join(pgData, '.portunix-db'), JSON.stringify({ engine: 'postgresql', instance: 'main' }));
  const config = { databases: { postgresql: { version: '16', data_dir: pgData, backup_dir: join(home, 'b'), host: '127.0.0.1', auto_backup: false, backup_schedule: 'daily' as const } } };
  const root = (e: string, n: string) => join(home, 'instances', e, n);
  const me = { engine: 'redis' as const, name: 'r9' };
  for (const dir of [pgData, join(pgData, 'x'), join(home, 'instances', 'postgresql'), join(home, 'instances', 'postgresql', 'main', 'other')]) {
    await assert.rejects(guardDataDir(config, me, dir, root), (e: DbError) => e.code === 'DATA_DIR_CONFLICT', dir);
  }
  const marked = mkdtempSync(join(tmpdir(), 'pdb-marked-'));
  writeFileSync(join(marked, '.portunix-db'), JSON.stringify({ engine: 'mariadb', instance: 'x' }));
  await assert.rejects(guardDataDir({ databases: {} }, me, marked, root), /belongs to mariadb\/x/);
  await assert.rejects(guardDataDir({ databases: {} }, me, join(marked, 'in'), root), /belongs to mariadb\/x/);
  await assert.rejects(guardDataDir({ databases: {} }, me, join(marked, '.portunix-db'), root), /not a directory/);
  // its own marker (a re-install after uninstall --keep-data) and a fresh dir are fine
  writeFileSync(join(marked, '.portunix-db'), JSON.stringify({ engine: 'redis', instance: 'r9' }));
  await guardDataDir({ databases: {} }, me, marked, root);
  await guardDataDir(config, me, join(home, 'instances', 'redis', 'r9', 'data'), root);
});

test('audit log: a hash chain; an edited or deleted line is named', async () => {
  process.env['PORTUNIX_HOME'] = mkdtempSync(join(tmpdir(), 'pdb-audit-'));
  for (let i = 0; i < 4; i++) await audit({ action: `op${i}`, via: 'cli', ok: true });
  const ok = await verifyAudit();
  assert.deepEqual([ok.ok, ok.entries], [true, 4]);
  const file = join(process.env['PORTUNIX_HOME'], 'audit.log');
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  writeFileSync(file, [lines[0], lines[1]!.replace('op1', 'opX'), lines[2], lines[3]].join('\n') + '\n');
  assert.equal((await verifyAudit()).first_broken?.line, 2);
  writeFileSync(file, [lines[0], lines[2], lines[3]].join('\n') + '\n');
  assert.equal((await verifyAudit()).first_broken?.line, 2);
  writeFileSync(file, lines.join('\n') + '\n');
  assert.equal((await verifyAudit()).ok, true);
  // a log that cannot be written fails the operation
  const { rmSync } = await import('node:fs');
  rmSync(file);
  mkdirSync(file);
  await assert.rejects(audit({ action: 'drop', via: 'cli', ok: true }), (e: DbError) => e.code === 'AUDIT_FAILED');
});
