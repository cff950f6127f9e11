import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { homePaths } from '../../core/home.js';
import type { BackupStatusEntry } from '../../core/ops/backup.js';
import type { InstanceBackupHealth, RunReport, ScheduleSettings, DueReport } from '../../core/ops/backup-schedule.js';
import type { PruneReport } from '../../core/ops/backup-prune.js';
import type { Retention } from '../../core/config.js';
import { DbError, UsageError } from '../../core/errors.js';
import { bytes, emit, table } from '../output.js';
import { intOption, type Flags } from './common.js';
import { progressFor } from './lifecycle.js';

// the implementations (age encryption, the schedulers, the engines' backup code) load when their command runs
const backupOps = () => import('../../core/ops/backup.js');
const osScheduleOps = () => import('../../core/ops/backup-os-schedule.js');
const scheduleOps = () => import('../../core/ops/backup-schedule.js');
const pruneOps = () => import('../../core/ops/backup-prune.js');
const cryptoOps = () => import('../../core/backup-crypto.js');

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('Back up a database; or `backup list|status|verify <file>|schedule <engine>|due|prune|key export|key import`')
    .argument('<db-or-action>', 'database to back up, or list | status | verify | schedule | due | prune | key')
    .argument('[file]', 'with verify: the backup file; with schedule: the engine; with key: export | import')
    .option('--type <engine>', 'engine of the instance (required to back up)')
    .option('--instance <name>', 'instance name', 'main')
    .option('--destination <dir>', 'directory for the backup (default: the instance backup dir)')
    .option('--database <db>', 'with list/status: only this database')
    .option('--every <when>', 'with schedule: hourly | daily | weekly | off | a cron expression ("30 2 * * *")')
    .option('--tz <zone>', 'with schedule: time zone of a cron schedule (IANA, default UTC)')
    .option('--jitter <seconds>', 'with schedule: start up to this many seconds after the slot', intOption)
    .option('--verify-every <when>', 'with schedule: restore the newest backup into a scratch server this often (or off)')
    .option('--encrypt', 'encrypt with age (key in the secret store); with schedule: every scheduled backup')
    .option('--no-encrypt', 'with schedule: stop encrypting scheduled backups')
    .option('--keep-last <n>', 'with schedule/prune: keep the newest N', intOption)
    .option('--keep-daily <n>', 'with schedule/prune: keep the newest of each of the last N days', intOption)
    .option('--keep-weekly <n>', 'with schedule/prune: ... weeks', intOption)
    .option('--keep-monthly <n>', 'with schedule/prune: ... months', intOption)
    .option('--max-age <days>', 'with schedule/prune: remove backups older than this', Number)
    .option('--max-size <bytes>', 'with schedule/prune: keep the newest that fit in this many bytes (per database)', intOption)
    .option('--dry-run', 'with prune or schedule --install/--uninstall: show what would be done')
    .option('--install', 'with schedule: add an OS scheduler entry running `backup due --run --quiet` every 15 min')
    .option('--uninstall', 'with schedule: remove that entry')
    .option('--scheduler <kind>', 'with --install/--uninstall: cron | systemd | launchd | schtasks (default: by platform)')
    .option('--platform <p>', 'with --install --dry-run: plan for another platform (linux, macos, windows)')
    .option('--force', 'with key export: print the key again')
    .option('--run', 'with due: back up what is due (without it, only list)')
    .option('--verify', 'with due --run: verify each new backup')
    .option('--jobs <n>', 'parallel workers (PostgreSQL: a directory-format pg_dump; with verify: pg_restore workers)')
    .option('--compress <method[:level]>', 'PostgreSQL dumps: gzip[:1-9], lz4[:1-12] or zstd[:1-22] (pg_dump 16+), none; default zstd with pg_dump 16+, else gzip:1')
    .addHelpText(
      'after',
      [
        '\nExamples:',
        '  $ portunix-db backup myapp --type postgresql --destination /backups',
        '  $ portunix-db backup myapp --type postgresql --jobs 2 --compress zstd:3',
        '  $ portunix-db backup list --type postgresql',
        '  $ portunix-db backup verify /backups/postgresql-main-myapp-20261126T120000Z.dump',
        '  $ portunix-db backup schedule postgresql --every daily',
        '  $ portunix-db backup due                      # what is due now',
        '  $ portunix-db backup schedule postgresql --every "30 2 * * *" --tz Europe/Prague --jitter 600 --encrypt --keep-daily 7 --keep-weekly 4 --verify-every weekly',
        '  $ portunix-db monitor --detach                # runs the schedules',
        '  $ portunix-db backup prune --dry-run',
        '  $ portunix-db backup key export > backup-key.txt   # the recovery key: store it offline',
        '',
        'Scheduled backups: `backup schedule` sets auto_backup/backup_schedule of an instance; `backup due --run`',
        'backs up every database whose last good backup is older than its interval. Let your scheduler run it often,',
        '`backup schedule <engine> --install [--dry-run]` writes that entry for you (crontab, systemd user timer, launchd, Task Scheduler);',
        'or by hand, e.g. this crontab line:',
        '  */15 * * * * portunix-db backup due --run --quiet',
        'It exits non-zero when any backup failed. Stopped or crashed instances are reported as SKIPPED, also with --quiet',
        '(which otherwise prints only backups made or failed).',
      ].join('\n'),
    )
    .action(async (first: string, file: string | undefined, o: BackupFlags, cmd: Command) => {
      const instanceGiven = cmd.getOptionValueSource('instance') === 'cli';
      const filter = { ...(o.type ? { type: o.type } : {}), ...(instanceGiven ? { instance: o.instance } : {}), ...(o.database ? { database: o.database } : {}) };
      if (first === 'list') {
        return emit(o, async () => (await backupOps()).listBackups(filter), (rows) => (rows.length ? table(rows.map((b) => ({ finished: b.finished_at, instance: `${b.engine}/${b.instance}`, database: b.database, method: b.method, size: bytes(b.size_bytes), file: b.file })), undefined, { fullLastColumn: true }) : 'No complete backups found.'));
      }
      if (first === 'status') {
        const { healthLine } = await scheduleOps();
        return emit(o, () => statusWithHealth(filter), (rows) => {
          const dbs = rows.filter((s) => s.database !== '*');
          const health = [...new Map(rows.filter((s) => s.schedule).map((s) => [`${s.engine}/${s.instance}`, s.schedule!])).values()];
          return [dbs.length ? table(dbs.map((s) => ({ instance: `${s.engine}/${s.instance}`, database: s.database, last_backup: s.last_backup?.finished_at, last_attempt: s.last_attempt ? (s.last_attempt.ok ? 'ok' : `failed: ${s.last_attempt.error}`) : undefined, last_verify: s.last_verify ? (s.last_verify.ok ? 'ok' : 'FAILED') : undefined }))) : 'No backups yet.', ...(health.length ? ['', 'Scheduled:', ...health.map((h) => `  ${healthLine(h)}`)] : [])].join('\n');
        });
      }
      if (first === 'verify') {
        if (!file) return emit(o, async () => { throw new UsageError('backup verify needs the backup file.', 'USAGE', 'Example: portunix-db backup verify <file>'); }, () => '');
        return emit(
          o,
          async () => (await backupOps()).verifyBackup({ file, ...(instanceGiven ? { instance: o.instance } : {}), ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), progress: progressFor(o) }),
          (r) => [`${r.ok ? 'OK' : 'FAILED'}: ${r.file}`, `  checksum: ${r.checksum_ok ? 'matches the manifest' : 'MISMATCH'}`, `  method:   ${r.method}`, table(r.tables.map((t) => ({ table: t.name, expected_rows: t.expected_rows, actual_rows: t.actual_rows, checksum: t.checksum_match === undefined ? '-' : t.checksum_match ? 'match' : 'DIFFERS' }))), ...r.problems.map((p) => `  problem: ${p}`)].join('\n'),
          (r) => (r.ok ? undefined : new DbError(`Backup verification failed: ${r.problems.join('; ')}`, 'VERIFY_FAILED')),
        );
      }
      if (first === 'schedule') {
        const engine = file ?? o.type;
        if (engine && (o.install || o.uninstall)) {
          if (o.install && o.uninstall) return emit(o, async () => { throw new UsageError('Pass --install or --uninstall, not both.', 'USAGE', 'Example: portunix-db backup schedule postgresql --install --dry-run'); }, () => '');
          return emit(o, async () => (await osScheduleOps()).osSchedule({ type: engine, instance: o.instance, uninstall: !!o.uninstall, dryRun: !!o.dryRun, ...(o.scheduler ? { scheduler: o.scheduler } : {}), ...(o.platform ? { platform: o.platform } : {}) }), (r) => r.text);
        }
        if (!engine || !o.every) return emit(o, async () => { throw new UsageError('backup schedule needs an engine and --every hourly|daily|weekly|off.', 'USAGE', 'Example: portunix-db backup schedule postgresql --every daily'); }, () => '');
        const encryptGiven = cmd.getOptionValueSource('encrypt') === 'cli';
        const settings: ScheduleSettings = { ...(o.tz !== undefined ? { timezone: o.tz } : {}), ...(o.jitter !== undefined ? { jitter_seconds: o.jitter } : {}), ...(o.verifyEvery !== undefined ? { verify_every: o.verifyEvery } : {}), ...(encryptGiven ? { encrypt: !!o.encrypt } : {}), ...(retentionOf(o) ? { retention: retentionOf(o)! } : {}) };
        return emit(o, async () => (await scheduleOps()).setSchedule({ type: engine, instance: o.instance, every: o.every!, settings }), (r) => r.message);
      }
      if (first === 'prune') {
        const rules = retentionOf(o);
        return emit(o, async () => (await pruneOps()).pruneBackups({ ...filter, ...(rules ? { rules } : {}), dryRun: !!o.dryRun }), renderPrune);
      }
      if (first === 'key') {
        if (file === 'export') return emit(o, () => exportKey(!!o.force), (r) => r.text);
        if (file === 'import') return emit(o, async () => (await cryptoOps()).importIdentity(await readStdin()), (r) => (r.added ? `Imported the key for ${r.recipients.join(', ')}; backups encrypted to it can be restored here.` : `This home already has the key for ${r.recipients.join(', ')}.`));
        return emit(o, async () => { throw new UsageError('backup key needs export or import.', 'USAGE', 'portunix-db backup key export > key.txt; portunix-db backup key import < key.txt'); }, () => '');
      }
      if (first === 'due') {
        const dueFilter = { ...(o.type ? { type: o.type } : {}), ...(instanceGiven ? { instance: o.instance } : {}), progress: progressFor(o) };
        if (!o.run) return emit(o, async () => (await scheduleOps()).dueBackups(dueFilter), (r) => renderDue(r));
        return emit(o, async () => (await scheduleOps()).runDue({ ...dueFilter, verify: !!o.verify }), (r) => renderRun(r, !!o.quiet), (r) => (r.ok ? undefined : new DbError(`${r.failed} scheduled backup(s) failed.`, r.results.some((x) => x.error?.code === 'VERIFY_FAILED') ? 'VERIFY_FAILED' : 'COMMAND_FAILED', 'See the failures above; `portunix-db backup status` keeps the last attempt.')));
      }
      if (!o.type) return emit(o, async () => { throw new UsageError('backup needs --type <engine>.', 'USAGE', `Example: portunix-db backup ${first} --type postgresql`); }, () => '');
      return emit(
        o,
        async () => (await backupOps()).createBackup({ type: o.type!, instance: o.instance, database: first, ...(o.destination ? { destination: o.destination } : {}), ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), ...(o.compress !== undefined ? { compress: o.compress } : {}), ...(o.encrypt && cmd.getOptionValueSource('encrypt') === 'cli' ? { encrypt: true } : {}), progress: progressFor(o) }),
        (r) => [`Backup complete: ${r.file}`, ...(r.manifest.encryption ? [`  encrypted: age, to ${r.manifest.encryption.recipient} (recovery key: \`portunix-db backup key export\`)`] : []), `  method: ${r.manifest.method}`, `  size:   ${bytes(r.manifest.size_bytes)}  sha256: ${r.manifest.sha256}`, `  tables: ${r.manifest.tables.length} (${r.manifest.tables.reduce((s, t) => s + t.rows, 0)} rows)`, ...(r.manifest.notes ?? []).map((n) => `  note: ${n}`)].join('\n'),
      );
    });

  program
    .command('restore')
    .description("Restore a backup (engine and instance come from the backup's manifest)")
    .argument('<backup>', 'backup file')
    .option('--target <db>', 'restore into this database (default: the original name)')
    .option('--force', 'replace the target if it exists (a whole-instance snapshot: the whole instance)')
    .option('--instance <name>', 'restore into another instance of the same engine')
    .option('--jobs <n>', 'parallel pg_restore workers (PostgreSQL)')
    .option('--as-instance <name>', 'a whole-instance snapshot: restore it as a new instance beside the original (own data dir, port, TLS, passwords)')
    .option('--port <port>', 'with --as-instance: the new instance\'s port on 127.0.0.1 (default: the engine default, or the next free one)', intOption)
    .addHelpText(
      'after',
      [
        '\nExamples:',
        '  $ portunix-db restore /backups/postgresql-main-myapp-20261126T120000Z.dump --target myapp_copy',
        '  $ portunix-db restore <file> --force',
        '  $ portunix-db restore /backups/postgresql-main-shop-20261126T120000Z.tar.gz --as-instance pg_yesterday [--port 5440]',
        '',
        'A PostgreSQL physical snapshot (no pg_dump of the server\'s version here) holds the whole instance: restoring it',
        'in place replaces every database, role and setting. Without --force it only says what it would replace (and asks,',
        'on a terminal); --as-instance NAME restores it beside the running instance instead.',
      ].join('\n'),
    )
    .action(async (file: string, o: Flags & { target?: string; force?: boolean; instance?: string; asInstance?: string; port?: number; jobs?: string }) => {
      const run = async (force: boolean) => (await backupOps()).restoreBackup({ file, ...(o.target ? { target: o.target } : {}), force, ...(o.instance ? { instance: o.instance } : {}), ...(o.asInstance !== undefined ? { asInstance: o.asInstance } : {}), ...(o.port !== undefined ? { port: o.port } : {}), ...(o.jobs !== undefined ? { jobs: o.jobs } : {}), progress: progressFor(o) });
      await emit(
        o,
        async () => {
          try {
            return await run(!!o.force);
          } catch (err) {
            // on a terminal, the confirmation is a question instead of an error
            if (err instanceof DbError && err.code === 'CONFIRMATION_REQUIRED' && !o.json && process.stdin.isTTY && process.stderr.isTTY && (await askYes(`${err.message}\nGo ahead? [y/N] `))) return run(true);
            throw err;
          }
        },
        (r) => [r.summary ?? `Restored ${r.target} on ${r.engine}/${r.instance}.`, ...r.actions.map((a) => `  ${a}`)].join('\n'),
      );
    });
}

function askYes(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    rl.question(question, (answer) => {
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

function renderDue(r: DueReport): string {
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
  // a stopped or crashed instance is never silent: a scheduler that mails output mails this
  const skipped = r.skipped.map((s) => `SKIPPED ${s.engine}/${s.instance}: ${s.reason}`);
  const extra = [...r.verified.map((v) => `${v.ok ? 'verified' : 'VERIFY FAILED'} ${v.engine}/${v.instance} ${v.database}: ${v.file}${v.ok ? '' : ` (${v.problems.join('; ')})`}`), ...(r.pruned.removed ? [`pruned ${r.pruned.removed} old backup(s), ${bytes(r.pruned.freed_bytes)} freed`] : [])];
  if (quiet) return [...lines, ...extra, ...skipped].join('\n');
  return [...lines, ...extra, ...skipped, r.results.length ? `${r.backed_up} backup(s) made, ${r.failed} failed.` : 'Nothing is due.'].join('\n');
}

/**
 * `backup status`: the per-database entries (an array, as before), each carrying its instance's
 * schedule health; a scheduled instance with no backup at all gets an entry of database "*".
 */
async function statusWithHealth(filter: { type?: string; instance?: string; database?: string }): Promise<(BackupStatusEntry & { schedule?: InstanceBackupHealth })[]> {
  const [rows, health] = await Promise.all([(await backupOps()).backupStatus(filter), (await scheduleOps()).backupHealth({ ...(filter.type ? { type: filter.type } : {}), ...(filter.instance ? { instance: filter.instance } : {}) })]);
  const byInstance = new Map(health.map((h) => [`${h.engine}/${h.instance}`, h]));
  const out: (BackupStatusEntry & { schedule?: InstanceBackupHealth })[] = rows.map((r) => {
    const h = byInstance.get(`${r.engine}/${r.instance}`);
    return h ? { ...r, schedule: h } : r;
  });
  if (!filter.database) for (const h of health) if (!rows.some((r) => r.engine === h.engine && r.instance === h.instance)) out.push({ engine: h.engine, instance: h.instance, database: '*', schedule: h });
  return out;
}

type BackupFlags = Flags & { type?: string; instance: string; destination?: string; database?: string; every?: string; run?: boolean; verify?: boolean; tz?: string; jitter?: number; verifyEvery?: string; encrypt?: boolean; jobs?: string; compress?: string; keepLast?: number; keepDaily?: number; keepWeekly?: number; keepMonthly?: number; maxAge?: number; maxSize?: number; dryRun?: boolean; force?: boolean; install?: boolean; uninstall?: boolean; scheduler?: string; platform?: string };

function retentionOf(o: BackupFlags): Retention | undefined {
  const r: Retention = { ...(o.keepLast !== undefined ? { keep_last: o.keepLast } : {}), ...(o.keepDaily !== undefined ? { keep_daily: o.keepDaily } : {}), ...(o.keepWeekly !== undefined ? { keep_weekly: o.keepWeekly } : {}), ...(o.keepMonthly !== undefined ? { keep_monthly: o.keepMonthly } : {}), ...(o.maxAge !== undefined ? { max_age_days: o.maxAge } : {}), ...(o.maxSize !== undefined ? { max_total_bytes: o.maxSize } : {}) };
  return Object.keys(r).length ? r : undefined;
}

function renderPrune(r: PruneReport): string {
  const rows = r.chains.flatMap((c) => [...c.remove.map((x) => ({ action: r.dry_run ? 'would remove' : 'removed', instance: `${c.engine}/${c.instance}`, database: c.database, why: x.reasons.join('; '), file: x.file })), ...c.keep.map((x) => ({ action: 'keep', instance: `${c.engine}/${c.instance}`, database: c.database, why: x.reasons.join('; '), file: x.file }))]);
  return [
    rows.length ? table(rows, undefined, { fullLastColumn: true }) : 'No backups under a retention policy.',
    ...r.no_policy.map((n) => `${n}: no retention rules (set them with \`backup schedule ${n.split('/')[0]} --keep-last N ...\`), nothing pruned`),
    r.dry_run ? `${r.chains.reduce((n, c) => n + c.remove.length, 0)} backup(s) would be removed.` : `${r.removed} backup(s) removed, ${bytes(r.freed_bytes)} freed.`,
  ].join('\n');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').slice(0, 64 * 1024);
}

/** The recovery key(s), as an age identity file; the warning goes to stderr so `> key.txt` keeps only the key. */
async function exportKey(force: boolean): Promise<{ text: string; recipients: string[] }> {
  const ids = await (await cryptoOps()).allIdentities();
  if (!ids.length) throw new DbError('This home has no backup encryption key yet (no backup was encrypted).', 'NOT_FOUND', 'Make one with `portunix-db backup <db> --type <engine> --encrypt`.');
  const { recipientOf } = await cryptoOps();
  const recipients = await Promise.all(ids.map(recipientOf));
  const marker = join(homePaths.state(), 'backup-key-exported');
  if (!force && existsSync(marker)) throw new DbError(`The recovery key was already exported (${readFileSync(marker, 'utf8').trim()}).`, 'CONFIRMATION_REQUIRED', 'Pass --force to print it again (each export is audited).');
  mkdirSync(homePaths.state(), { recursive: true, mode: 0o700 });
  writeFileSync(marker, new Date().toISOString() + '\n', { mode: 0o600 });
  await (await import('../../core/audit.js')).audit({ action: 'backup-key-export', via: 'cli', ok: true, detail: recipients.join(', ') });
  process.stderr.write('WARNING: this is the private key of your encrypted backups. Anyone with it reads them; without it nobody can restore them.\nStore it offline (a password manager, paper in a safe), not beside the backups.\n');
  const text = ids.map((id, i) => `# portunix-db backup key, public key: ${recipients[i]}\n${id}`).join('\n');
  return { text, recipients };
}
