import type { Command } from 'commander';
import { backupStatus, createBackup, listBackups, restoreBackup, verifyBackup } from '../../core/ops/backup.js';
import { dueBackups, runDue, setSchedule, type RunReport } from '../../core/ops/backup-schedule.js';
import { DbError, UsageError } from '../../core/errors.js';
import { bytes, emit, table } from '../output.js';
import type { Flags } from './common.js';
import { progressFor } from './lifecycle.js';

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('Back up a database; or `backup list`, `backup status`, `backup verify <file>`, `backup schedule <engine>`, `backup due`')
    .argument('<db-or-action>', 'database to back up, or list | status | verify | schedule | due')
    .argument('[file]', 'with verify: the backup file; with schedule: the engine')
    .option('--type <engine>', 'engine of the instance (required to back up)')
    .option('--instance <name>', 'instance name', 'main')
    .option('--destination <dir>', 'directory for the backup (default: the instance backup dir)')
    .option('--database <db>', 'with list/status: only this database')
    .option('--every <when>', 'with schedule: hourly | daily | weekly | off')
    .option('--run', 'with due: back up what is due (without it, only list)')
    .option('--verify', 'with due --run: verify each new backup')
    .option('--jobs <n>', 'parallel workers (PostgreSQL: a directory-format pg_dump; with verify: pg_restore workers)')
    .addHelpText(
      'after',
      [
        '\nExamples:',
        '  $ portunix-db backup myapp --type postgresql --destination /backups',
        '  $ portunix-db backup list --type postgresql',
        '  $ portunix-db backup verify /backups/postgresql-main-myapp-20261126T120000Z.dump',
        '  $ portunix-db backup schedule postgresql --every daily',
        '  $ portunix-db backup due                      # what is due now',
        '',
        'Scheduled backups: `backup schedule` sets auto_backup/backup_schedule of an instance; `backup due --run`',
        'backs up every database whose last good backup is older than its interval. Let your scheduler run it often,',
        'e.g. this crontab line (launchd or Task Scheduler work the same way):',
        '  */15 * * * * portunix-db backup due --run --quiet',
        'It exits non-zero when any backup failed. Stopped instances are skipped (listed, except with --quiet, which prints only backups made or failed).',
      ].join('\n'),
    )
    .action(async (first: string, file: string | undefined, o: Flags & { type?: string; instance: string; destination?: string; database?: string; every?: string; run?: boolean; verify?: boolean; jobs?: string }, cmd: Command) => {
      const instanceGiven = cmd.getOptionValueSource('instance') === 'cli';
      const filter = { ...(o.type ? { type: o.type } : {}), ...(instanceGiven ? { instance: o.instance } : {}), ...(o.database ? { database: o.database } : {}) };
      if (first === 'list') {
        return emit(o, () => listBackups(filter), (rows) => (rows.length ? table(rows.map((b) => ({ finished: b.finished_at, instance: `${b.engine}/${b.instance}`, database: b.database, method: b.method, size: bytes(b.size_bytes), file: b.file })), undefined, { fullLastColumn: true }) : 'No complete backups found.'));
      }
      if (first === 'status') {
        return emit(o, () => backupStatus(filter), (rows) => table(rows.map((s) => ({ instance: `${s.engine}/${s.instance}`, database: s.database, last_backup: s.last_backup?.finished_at, last_attempt: s.last_attempt ? (s.last_attempt.ok ? 'ok' : `failed: ${s.last_attempt.error}`) : undefined, last_verify: s.last_verify ? (s.last_verify.ok ? 'ok' : 'FAILED') : undefined }))));
      }
      if (first === 'verify') {
        if (!file) return emit(o, async () => { throw new UsageError('backup verify needs the backup file.', 'USAGE', 'Example: portunix-db backup verify <file>'); }, () => '');
        return emit(
          o,
          () => verifyBackup({ file, ...(instanceGiven ? { instance: o.instance } : {}), ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), progress: progressFor(o) }),
          (r) => [`${r.ok ? 'OK' : 'FAILED'}: ${r.file}`, `  checksum: ${r.checksum_ok ? 'matches the manifest' : 'MISMATCH'}`, `  method:   ${r.method}`, table(r.tables.map((t) => ({ table: t.name, expected_rows: t.expected_rows, actual_rows: t.actual_rows, checksum: t.checksum_match === undefined ? '-' : t.checksum_match ? 'match' : 'DIFFERS' }))), ...r.problems.map((p) => `  problem: ${p}`)].join('\n'),
          (r) => (r.ok ? undefined : new DbError(`Backup verification failed: ${r.problems.join('; ')}`, 'VERIFY_FAILED')),
        );
      }
      if (first === 'schedule') {
        const engine = file ?? o.type;
        if (!engine || !o.every) return emit(o, async () => { throw new UsageError('backup schedule needs an engine and --every hourly|daily|weekly|off.', 'USAGE', 'Example: portunix-db backup schedule postgresql --every daily'); }, () => '');
        return emit(o, () => setSchedule({ type: engine, instance: o.instance, every: o.every! }), (r) => r.message);
      }
      if (first === 'due') {
        const dueFilter = { ...(o.type ? { type: o.type } : {}), ...(instanceGiven ? { instance: o.instance } : {}), progress: progressFor(o) };
        if (!o.run) return emit(o, () => dueBackups(dueFilter), (r) => renderDue(r));
        return emit(o, () => runDue({ ...dueFilter, verify: !!o.verify }), (r) => renderRun(r, !!o.quiet), (r) => (r.ok ? undefined : new DbError(`${r.failed} scheduled backup(s) failed.`, r.results.some((x) => x.error?.code === 'VERIFY_FAILED') ? 'VERIFY_FAILED' : 'COMMAND_FAILED', 'See the failures above; `portunix-db backup status` keeps the last attempt.')));
      }
      if (!o.type) return emit(o, async () => { throw new UsageError('backup needs --type <engine>.', 'USAGE', `Example: portunix-db backup ${first} --type postgresql`); }, () => '');
      return emit(
        o,
        () => createBackup({ type: o.type!, instance: o.instance, database: first, ...(o.destination ? { destination: o.destination } : {}), ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), progress: progressFor(o) }),
        (r) => [`Backup complete: ${r.file}`, `  method: ${r.manifest.method}`, `  size:   ${bytes(r.manifest.size_bytes)}  sha256: ${r.manifest.sha256}`, `  tables: ${r.manifest.tables.length} (${r.manifest.tables.reduce((s, t) => s + t.rows, 0)} rows)`, ...(r.manifest.notes ?? []).map((n) => `  note: ${n}`)].join('\n'),
      );
    });

  program
    .command('restore')
    .description("Restore a backup (engine and instance come from the backup's manifest)")
    .argument('<backup>', 'backup file')
    .option('--target <db>', 'restore into this database (default: the original name)')
    .option('--force', 'replace the target if it exists')
    .option('--instance <name>', 'restore into another instance of the same engine')
    .option('--jobs <n>', 'parallel pg_restore workers (PostgreSQL)')
    .addHelpText('after', '\nExamples:\n  $ portunix-db restore /backups/postgresql-main-myapp-20261126T120000Z.dump --target myapp_copy\n  $ portunix-db restore <file> --force')
    .action(async (file: string, o: Flags & { target?: string; force?: boolean; instance?: string; jobs?: string }) => {
      await emit(o, () => restoreBackup({ file, ...(o.target ? { target: o.target } : {}), force: !!o.force, ...(o.instance ? { instance: o.instance } : {}), ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), progress: progressFor(o) }), (r) => [`Restored ${r.target} on ${r.engine}/${r.instance}.`, ...r.actions.map((a) => `  ${a}`)].join('\n'));
    });
}

function renderDue(r: Awaited<ReturnType<typeof dueBackups>>): string {
  if (!r.instances.length) return 'No instance has scheduled backups (turn them on with `portunix-db backup schedule <engine> --every daily`).';
  const rows = r.instances.flatMap((i) =>
    i.state !== 'checked'
      ? [{ instance: `${i.engine}/${i.instance}`, schedule: i.schedule, database: '-', due: i.state === 'error' ? 'ERROR' : 'skipped', why: i.reason }]
      : i.databases.length
        ? i.databases.map((d) => ({ instance: `${i.engine}/${i.instance}`, schedule: i.schedule, database: d.database, due: d.due ? 'DUE' : 'no', why: d.last_backup ? `${d.reason} (${d.last_backup.finished_at})` : d.reason }))
        : [{ instance: `${i.engine}/${i.instance}`, schedule: i.schedule, database: '-', due: 'no', why: 'no databases' }],
  );
  return [table(rows, undefined, { fullLastColumn: true }), `${r.due} database(s) due.`].join('\n');
}

/** With --quiet only what happened (backups made or failed) is printed, so a scheduler mails nothing on quiet runs. */
function renderRun(r: RunReport, quiet: boolean): string {
  const lines = r.results.map((x) =>
    x.ok
      ? `ok      ${x.engine}/${x.instance} ${x.database}: ${x.covered_by_instance_backup ? 'held by the instance backup ' : ''}${x.file}${x.verify ? ' (verified)' : ''}`
      : `FAILED  ${x.engine}/${x.instance} ${x.database}: ${x.error?.message ?? 'failed'}`,
  );
  if (quiet) return lines.join('\n');
  return [...lines, ...r.skipped.map((s) => `skipped ${s.engine}/${s.instance}: ${s.reason}`), r.results.length ? `${r.backed_up} backup(s) made, ${r.failed} failed.` : 'Nothing is due.'].join('\n');
}
