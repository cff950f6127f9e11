import type { Command } from 'commander';
import { describeStep, type HostPlatform } from '../../core/install/plan.js';
import { PLATFORM_FORMS, platformHost } from '../../core/install/host.js';
import { DbError, UsageError } from '../../core/errors.js';

/** The platform whose plan a dry run shows for a package manager of another OS. */
const SOURCE_PLATFORM: Record<string, string> = { brew: 'macos-arm64', winget: 'windows-x64', choco: 'windows-x64', dnf: 'rhel-9', apt: 'ubuntu-24.04' };
import { stderrProgress, silentProgress } from '../../core/instance-context.js';
import { duration, emit, keyValues, table } from '../output.js';
import { intOption, type Flags } from './common.js';
import { selfCommand } from '../self-command.js';

// the implementations load when their command runs: `status` must not pay for `install`
const lifecycleOps = () => import('../../core/ops/lifecycle.js');
const statusOps = () => import('../../core/ops/status.js');
const startStopOps = () => import('../../core/ops/start-stop.js');

export function progressFor(flags: Flags) {
  return flags.quiet ? silentProgress : stderrProgress;
}

export function registerLifecycle(program: Command): void {
  program
    .command('install')
    .description('Install an engine and initialise a ready, running instance')
    .argument('<engine>', 'postgresql, mysql, mariadb, sqlite, mongodb, redis, elasticsearch, influxdb, timescaledb')
    .option('--version <version>', 'engine version, e.g. 16 or 10.11 (default: the engine default)')
    .option('--source <source>', 'portable, apt, dnf, brew, winget, download, container (default: best for this host)')
    .option('--archive <file>', 'install from a vendor archive you already have (tar.gz, tgz, zip, jar, wheel); unpacked into the tool cache')
    .option('--sha256 <hex>', 'the archive\'s sha256 (needed unless portunix-db knows that release)')
    .option('--bin-dir <dir>', 'adopt server binaries already on disk, in place; the version is read from the server binary')
    .option('--client-bin-dir <dir>', 'client tools of the server\'s version (pg_dump/pg_restore 17 for PostgreSQL 17, ...), searched before the server\'s own bin dir and PATH')
    .option('--instance <name>', 'instance name', 'main')
    .option('--port <port>', 'TCP port on 127.0.0.1 (default: the engine default, or the next free one)', intOption)
    .option('--data-dir <dir>', 'data directory (default: under the tool home)')
    .option('--dry-run', 'print the exact plan and change nothing')
    .option('--platform <name>', `plan for another platform (with --dry-run): ${PLATFORM_FORMS}`)
    .option('--no-start', 'initialise but do not start the server')
    .addHelpText('after', '\nExamples:\n  $ portunix-db install postgresql --version 16\n  $ portunix-db install postgresql --version 15 --source apt --instance pg15 --port 5433\n  $ portunix-db install mariadb --dry-run --platform macos-arm64\n  $ portunix-db install redis --archive redis-stack-server-7.2.0.tar.gz --sha256 <hex> --dry-run\n  $ portunix-db install postgresql --bin-dir /opt/pgsql-17/bin --instance pg17')
    .action(async (engine: string, o: Flags & { version?: string; source?: string; archive?: string; sha256?: string; binDir?: string; clientBinDir?: string; instance: string; port?: number; dataDir?: string; dryRun?: boolean; platform?: string; start: boolean }) => {
      await emit(
        o,
        async () => {
          let host: HostPlatform | undefined;
          if (o.platform) {
            if (o.archive || o.binDir) throw new UsageError('--archive and --bin-dir install binaries for this machine; --platform cannot be combined with them.');
            if (!o.dryRun) throw new UsageError('--platform plans for another machine, so it needs --dry-run.');
            host = platformHost(o.platform);
            if (!host) throw new UsageError(`Unknown platform "${o.platform}". Known: ${PLATFORM_FORMS}.`);
          }
          if (!o.dryRun && !o.quiet) process.stderr.write(`Installing ${engine}...\n`);
          const { install } = await lifecycleOps();
          const request = (h: typeof host) => install({ type: engine, ...(o.version ? { version: o.version } : {}), ...(o.source ? { source: o.source } : {}), ...(o.archive !== undefined ? { archive: o.archive } : {}), ...(o.sha256 !== undefined ? { sha256: o.sha256 } : {}), ...(o.binDir !== undefined ? { binDir: o.binDir } : {}), ...(o.clientBinDir !== undefined ? { clientBinDir: o.clientBinDir } : {}), instance: o.instance, ...(o.port !== undefined ? { port: o.port } : {}), ...(o.dataDir ? { dataDir: o.dataDir } : {}), dryRun: !!o.dryRun, ...(h ? { host: h } : {}), progress: progressFor(o), start: o.start });
          // a dry run of another OS's package manager shows that OS's plan instead of refusing
          const otherOs = !host && o.dryRun && o.source ? SOURCE_PLATFORM[o.source] : undefined;
          if (!otherOs) return request(host);
          try {
            return await request(host);
          } catch (err) {
            if (!(err instanceof DbError) || !['UNSUPPORTED_PLATFORM', 'UNKNOWN_SOURCE'].includes(err.code)) throw err;
            const r = await request(platformHost(otherOs));
            return { ...r, notes: [`--source ${o.source} does not run on this host, so this is the ${otherOs} plan (pick another with --platform).`, ...r.notes] };
          }
        },
        (r) => {
          const lines = [
            r.dry_run ? `Plan: ${r.engine} ${r.version} via ${r.source} on ${r.plan.platform.os}${r.plan.platform.distro ? ` (${r.plan.platform.distro})` : ''} — dry run, nothing changed` : `${r.already_installed ? 'Already installed' : 'Installed'}: ${r.engine}/${r.instance} ${r.version} via ${r.source}`,
          ];
          if (r.dry_run) {
            r.plan.steps.forEach((s, i) => {
              lines.push(`  ${i + 1}. ${s.description}`);
              for (const l of describeStep(s).split('\n')) lines.push(`       ${l}`);
            });
            if (r.plan.binDir) lines.push(`  binaries: ${r.plan.binDir}`);
            if (r.plan.libDir) lines.push(`  libraries: ${r.plan.libDir}`);
          } else {
            lines.push(`  data dir: ${r.data_dir}`);
            if (r.port) lines.push(`  port:     127.0.0.1:${r.port}`);
            if (r.state) lines.push(`  state:    ${r.state}`);
            lines.push(`  url:      ${selfCommand()} url ${r.engine}${r.instance === 'main' ? '' : ` --instance ${r.instance}`} [--show-password]`);
          }
          for (const n of r.notes) lines.push(`  note: ${n}`);
          return lines.join('\n');
        },
      );
    });

  program
    .command('uninstall')
    .description('Stop an instance and remove it (its backups are kept)')
    .argument('<engine>')
    .option('--version <version>', 'only if the instance runs this version')
    .option('--instance <name>', 'instance name', 'main')
    .option('--keep-data', 'keep the data directory')
    .addHelpText('after', '\nExample:\n  $ portunix-db uninstall postgresql --instance pg15 --keep-data')
    .action(async (engine: string, o: Flags & { version?: string; instance: string; keepData?: boolean }) => {
      await emit(o, async () => (await lifecycleOps()).uninstall({ type: engine, instance: o.instance, keepData: !!o.keepData, ...(o.version ? { version: o.version } : {}) }), (r) =>
        [`Uninstalled ${r.engine}/${r.instance}.`, ...r.removed.map((p) => `  removed: ${p}`), ...r.kept.map((p) => `  kept:    ${p}`)].join('\n'),
      );
    });

  for (const [name, verb] of [
    ['start', 'Start'],
    ['stop', 'Stop'],
    ['restart', 'Restart'],
  ] as const) {
    program
      .command(name)
      .description(`${verb} an instance (idempotent: ${name === 'stop' ? 'stopping a stopped instance' : 'starting a running instance'} is not an error)`)
      .argument('<engine>')
      .option('--instance <name>', 'instance name', 'main')
      .addHelpText('after', `\nExample:\n  $ portunix-db ${name} postgresql --instance main`)
      .action(async (engine: string, o: Flags & { instance: string }) => {
        await emit(o, async () => (await startStopOps())[name]({ type: engine, instance: o.instance, progress: progressFor(o) }), (r) => r.message);
      });
  }

  program
    .command('status')
    .description('Running, stopped or crashed, with version, port, pid, uptime and data dir')
    .argument('[engine]', 'limit to one engine')
    .option('--instance <name>', 'limit to one instance')
    .addHelpText('after', '\nExamples:\n  $ portunix-db status\n  $ portunix-db status postgresql --instance main --json')
    .action(async (engine: string | undefined, o: Flags & { instance?: string }) => {
      await emit(
        o,
        async () => {
          const filter = { ...(engine ? { type: engine } : {}), ...(o.instance ? { instance: o.instance } : {}) };
          const { status, scheduledBackupHealth } = await statusOps();
          const [rows, health] = await Promise.all([status(filter), scheduledBackupHealth(filter)]);
          // a one-line backup marker for scheduled instances that are overdue or failed their last verify
          return rows.map((r) => {
            const h = health.find((x) => x.engine === r.engine && x.instance === r.instance);
            const marker = h?.marker;
            return marker ? { ...r, backup_marker: marker } : r;
          });
        },
        (rows) => {
          if (rows.length === 0) return 'No instances installed. Try: portunix-db install postgresql';
          const out = [table(rows.map((r) => ({ engine: r.engine, instance: r.instance, state: r.state, version: r.full_version ?? r.version, port: r.port, pid: r.pid, uptime: duration(r.uptime_seconds), data_dir: r.data_dir })))];
          for (const r of rows) {
            if (r.notice?.message) out.push(`notice: ${r.engine}/${r.instance}: ${r.notice.message}`);
            if ('backup_marker' in r) out.push(`warning: ${r.backup_marker}`);
            if (r.state === 'invalid') out.push(`\n${r.engine}/${r.instance}: its config entry is invalid (${r.problem}); correct it in the config file. The other instances work as usual.`);
            if (r.state === 'crashed') out.push(`\n${r.engine}/${r.instance} crashed. Last log lines:\n${(r.log_tail ?? []).map((l) => '  ' + l).join('\n')}\nStart it again with: portunix-db start ${r.engine}${r.instance === 'main' ? '' : ` --instance ${r.instance}`}`);
            if (r.details) out.push(`${r.engine}/${r.instance}:\n${keyValues(r.details)}`);
          }
          return out.join('\n');
        },
      );
    });

  program
    .command('url')
    .description('Print a connection URL (the password is masked unless --show-password); on stderr the CA certificate and a client command that works with it')
    .argument('<engine>')
    .option('--instance <name>', 'instance name', 'main')
    .option('--database <name>', 'database in the URL')
    .option('--show-password', 'include the real password')
    .addHelpText('after', '\nConnections use TLS with the instance\'s own certificate, <home>/instances/<engine>/<instance>/tls/server.crt:\n  PostgreSQL URLs carry sslmode=verify-full and sslrootcert (libpq 13 and older: use sslmode=verify-ca).\n  Redis URLs are rediss://; give clients the certificate as CA, e.g. redis-cli --tls --cacert FILE -u URL.\n  MySQL/MariaDB URLs carry ssl-mode=VERIFY_CA&ssl-ca=FILE (MySQL URI syntax); mysql2 needs ssl: { ca: <contents of FILE> }, the mariadb client --ssl-ca=FILE --ssl-verify-server-cert.\n\nExample:\n  $ psql "$(portunix-db url postgresql --show-password)"')
    .action(async (engine: string, o: Flags & { instance: string; database?: string; showPassword?: boolean }) => {
      await emit(o, async () => (await lifecycleOps()).connectionUrl({ type: engine, instance: o.instance, ...(o.database ? { database: o.database } : {}), showPassword: !!o.showPassword }), (r) => {
        // stdout stays the bare URL (`psql "$(portunix-db url postgresql)"` works); the CA and a working client command go to stderr
        if (r.ca_cert) process.stderr.write(`CA certificate: ${r.ca_cert}\n`);
        if (r.client_command) process.stderr.write(`connect with:   ${r.client_command}\n`);
        return r.url;
      });
    });
}
