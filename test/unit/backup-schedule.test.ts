/** The due computation of scheduled backups: a pure function over instances, good backups and an injected "now". */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeDue, INTERVAL_MS, lastGoodBackup, parseEvery, type GoodBackup, type ScheduledInstance } from '../../src/core/ops/backup-schedule.js';

const NOW = new Date('2026-03-10T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const H = 60 * 60 * 1000;

function inst(over: Partial<ScheduledInstance> & Pick<ScheduledInstance, 'engine' | 'instance'>): ScheduledInstance {
  return { auto_backup: true, backup_schedule: 'daily', databases: [], ...over };
}

function backup(over: Partial<GoodBackup> & Pick<GoodBackup, 'engine' | 'instance' | 'database' | 'finished_at'>): GoodBackup {
  return { scope: 'database', file: `/b/${over.engine}-${over.instance}-${over.database}-${over.finished_at}`, ...over };
}

const dueOf = (r: ReturnType<typeof computeDue>, engine: string, instance = 'main') => {
  const i = r.find((x) => x.engine === engine && x.instance === instance);
  assert.ok(i, `${engine}/${instance} is in the report`);
  return Object.fromEntries(i.databases.map((d) => [d.database, d.due]));
};

test('never backed up is due; a backup younger than the interval is not; at or past the interval it is', () => {
  const instances = [inst({ engine: 'sqlite', instance: 'main', databases: ['a', 'b', 'c', 'd'] })];
  const backups = [
    backup({ engine: 'sqlite', instance: 'main', database: 'b', finished_at: ago(23 * H) }),
    backup({ engine: 'sqlite', instance: 'main', database: 'c', finished_at: ago(24 * H) }),
    backup({ engine: 'sqlite', instance: 'main', database: 'd', finished_at: ago(30 * H) }),
    // an older backup of b does not make it due: the newest one counts
    backup({ engine: 'sqlite', instance: 'main', database: 'b', finished_at: ago(100 * H) }),
  ];
  const r = computeDue(instances, backups, NOW);
  assert.deepEqual(dueOf(r, 'sqlite'), { a: true, b: false, c: true, d: true });
  const a = r[0]!.databases.find((d) => d.database === 'a')!;
  assert.equal(a.reason, 'no good backup yet');
  assert.equal(a.last_backup, undefined);
  const b = r[0]!.databases.find((d) => d.database === 'b')!;
  assert.equal(b.last_backup?.finished_at, ago(23 * H));
});

test('each schedule uses its own interval', () => {
  const age = 2 * H;
  const instances = (['hourly', 'daily', 'weekly'] as const).map((s) => inst({ engine: 'sqlite', instance: s, backup_schedule: s, databases: ['x'] }));
  const backups = instances.map((i) => backup({ engine: 'sqlite', instance: i.instance, database: 'x', finished_at: ago(age) }));
  const r = computeDue(instances, backups, NOW);
  assert.deepEqual(r.map((i) => [i.instance, i.databases[0]!.due]), [['hourly', true], ['daily', false], ['weekly', false]]);
  const weekAgo = computeDue(instances, instances.map((i) => backup({ engine: 'sqlite', instance: i.instance, database: 'x', finished_at: ago(INTERVAL_MS.weekly - 1) })), NOW);
  assert.deepEqual(weekAgo.map((i) => i.databases[0]!.due), [true, true, false]);
});

test('an instance-scoped backup counts for every database of its instance, whatever database its manifest names', () => {
  const instances = [inst({ engine: 'redis', instance: 'main', databases: ['0', '2', '5'] }), inst({ engine: 'redis', instance: 'other', databases: ['0'] })];
  const backups = [backup({ engine: 'redis', instance: 'main', database: '0', scope: 'instance', finished_at: ago(1 * H) })];
  const r = computeDue(instances, backups, NOW);
  assert.deepEqual(dueOf(r, 'redis'), { '0': false, '2': false, '5': false });
  assert.equal(r[0]!.databases[1]!.last_backup?.scope, 'instance');
  // it does not cover another instance of the same engine
  assert.deepEqual(dueOf(r, 'redis', 'other'), { '0': true });
  // a database-scoped backup only covers its own database
  assert.equal(lastGoodBackup([backup({ engine: 'postgresql', instance: 'main', database: 'a', finished_at: ago(H) })], 'postgresql', 'main', 'b'), undefined);
  // the newest of a database backup and a (newer) instance snapshot wins
  const pg = [
    backup({ engine: 'postgresql', instance: 'main', database: 'a', finished_at: ago(30 * H) }),
    backup({ engine: 'postgresql', instance: 'main', database: 'postgres', scope: 'instance', finished_at: ago(2 * H) }),
  ];
  assert.equal(lastGoodBackup(pg, 'postgresql', 'main', 'a')?.scope, 'instance');
});

test('off, manual, stopped and failing instances', () => {
  const instances = [
    inst({ engine: 'sqlite', instance: 'main', auto_backup: false, databases: ['a'] }),
    inst({ engine: 'mariadb', instance: 'main', backup_schedule: 'manual' }),
    inst({ engine: 'redis', instance: 'main', databases: undefined, skipped: 'Instance redis/main is stopped; start it with `portunix-db start redis`.' }),
    inst({ engine: 'postgresql', instance: 'main', databases: undefined, error: { code: 'AUTH_FAILED', message: 'password rejected' } }),
  ];
  const r = computeDue(instances, [], NOW);
  assert.equal(r.some((i) => i.engine === 'sqlite'), false, 'auto_backup false is not scheduled at all');
  assert.deepEqual(
    r.map((i) => [i.engine, i.state, i.databases.length]),
    [
      ['mariadb', 'skipped', 0],
      ['redis', 'skipped', 0],
      ['postgresql', 'error', 0],
    ],
  );
  assert.match(r[1]!.reason!, /stopped/);
  assert.equal(r[2]!.error?.code, 'AUTH_FAILED');
});

test('a backup time in the future (clock skew) is not due; an unparseable one is', () => {
  const instances = [inst({ engine: 'sqlite', instance: 'main', databases: ['f', 'g'] })];
  const r = computeDue(instances, [backup({ engine: 'sqlite', instance: 'main', database: 'f', finished_at: ago(-H) }), backup({ engine: 'sqlite', instance: 'main', database: 'g', finished_at: 'garbage' })], NOW);
  assert.deepEqual(dueOf(r, 'sqlite'), { f: false, g: true });
});

test('--every values', () => {
  assert.equal(parseEvery('weekly'), 'weekly');
  assert.equal(parseEvery('off'), 'off');
  assert.throws(() => parseEvery('monthly'), /Invalid backup schedule/);
});
