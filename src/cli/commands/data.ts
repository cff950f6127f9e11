import { progressFor } from './lifecycle.js';
import type { Command } from 'commander';
import { createInterface } from 'node:readline';
import { DbError } from '../../core/errors.js';
import { bytes, emit, table } from '../output.js';
import { intOption, listOption, type Flags } from './common.js';

// the implementations load when their command runs, so other commands do not pay for them
const dataOps = () => import('../../core/ops/data.js');
const maintenanceOps = () => import('../../core/ops/maintenance.js');
const queryOps = () => import('../../core/ops/query.js');

type Target = Flags & { type: string; instance: string };

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const write = (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput;
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = (s: string) => {
      if (s.includes(question)) write.call(rl, s);
    };
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  });
}

/** A password never comes from argv: stdin, an environment variable, or a hidden prompt. */
export async function readPassword(o: { passwordStdin?: boolean }): Promise<string> {
  if (o.passwordStdin) return readStdin();
  const env = process.env['PORTUNIX_DB_PASSWORD'];
  if (env) return env;
  if (process.stdin.isTTY) {
    const a = await promptHidden('Password: ');
    const b = await promptHidden('Repeat password: ');
    if (a !== b) throw new DbError('The passwords do not match.', 'USAGE');
    return a;
  }
  throw new DbError('No password given.', 'USAGE', 'Pipe it with --password-stdin, or set PORTUNIX_DB_PASSWORD. Passwords are never taken from the command line.');
}

export function targetOptions(cmd: Command, typeRequired = true): Command {
  return (typeRequired ? cmd.requiredOption('--type <engine>', 'engine of the instance') : cmd.option('--type <engine>', 'engine of the instance')).option('--instance <name>', 'instance name', 'main');
}

export function registerData(program: Command): void {
  targetOptions(program.command('create').description('Create a database').argument('<db>', 'database name'))
    .option('--owner <user>', 'owner role/user')
    .option('--charset <charset>', 'character set (MySQL family)')
    .option('--collation <collation>', 'collation')
    .option('--path <file>', 'SQLite: register an existing database file under this name instead of creating one')
    .option('--setting <key=value>', 'engine creation setting, repeatable (Elasticsearch index settings: --setting number_of_shards=2)', (v: string, all: string[] = []) => [...all, v])
    .addHelpText('after', '\nExamples:\n  $ portunix-db create myapp --type postgresql --owner app\n  $ portunix-db create legacy --type sqlite --path ./legacy.db\n  $ portunix-db create logs --type elasticsearch --setting number_of_shards=2')
    .action(async (db: string, o: Target & { owner?: string; charset?: string; collation?: string; path?: string; setting?: string[] }) => {
      await emit(o, async () => (await dataOps()).createDatabase({ type: o.type, instance: o.instance, name: db, ...(o.owner ? { owner: o.owner } : {}), ...(o.charset ? { charset: o.charset } : {}), ...(o.collation ? { collation: o.collation } : {}), ...(o.path ? { path: o.path } : {}), ...(o.setting ? { settings: (await dataOps()).parseSettings(o.setting) } : {}) }), (r) => r.message);
    });

  targetOptions(program.command('drop').description('Drop a database (needs --force)').argument('<db>', 'database name'))
    .option('--force', 'confirm: all data in it is deleted')
    .addHelpText('after', '\nExample:\n  $ portunix-db drop myapp --type postgresql --force')
    .action(async (db: string, o: Target & { force?: boolean }) => {
      await emit(o, async () => (await dataOps()).dropDatabase({ type: o.type, instance: o.instance, name: db, force: !!o.force }), (r) => r.message);
    });

  program
    .command('list')
    .description('List databases of every instance, or of one engine')
    .option('--type <engine>', '"all" or an engine', 'all')
    .addHelpText('after', '\nExamples:\n  $ portunix-db list --type all\n  $ portunix-db list --type postgresql --json')
    .action(async (o: Flags & { type: string }) => {
      await emit(
        o,
        async () => (await dataOps()).listAllDatabases(o.type),
        (groups) => {
          if (groups.length === 0) return 'No instances installed.';
          const rows = groups.flatMap((g) => (g.databases ? g.databases.map((d) => ({ instance: `${g.engine}/${g.instance}`, database: d.name, size: bytes(d.sizeBytes), owner: d.owner, keys: d.keys })) : [{ instance: `${g.engine}/${g.instance}`, database: `(unavailable: ${g.error})` }]));
          return table(rows);
        },
      );
    });

  const user = program.command('user').description('Manage users and grants');
  targetOptions(user.command('create').description('Create a user (password from stdin, PORTUNIX_DB_PASSWORD or a prompt)').argument('<name>'))
    .option('--password-stdin', 'read the password from standard input')
    .addHelpText('after', '\nExample:\n  $ printf %s "$PW" | portunix-db user create app --type postgresql --password-stdin')
    .action(async (name: string, o: Target & { passwordStdin?: boolean }) => {
      await emit(o, async () => (await dataOps()).createUser({ type: o.type, instance: o.instance, name, password: await readPassword(o) }), (r) => r.message);
    });
  targetOptions(user.command('delete').description('Delete a user').argument('<name>'))
    .addHelpText('after', '\nExample:\n  $ portunix-db user delete app --type postgresql')
    .action(async (name: string, o: Target) => {
    await emit(o, async () => (await dataOps()).deleteUser({ type: o.type, instance: o.instance, name }), (r) => r.message);
  });
  for (const mode of ['grant', 'revoke'] as const) {
    targetOptions(user.command(mode).description(`${mode === 'grant' ? 'Grant' : 'Revoke'} privileges`).argument('<name>'))
      .option('--database <db>', 'database the privileges apply to')
      .option('--privileges <list>', 'comma-separated privileges (engine vocabulary, e.g. connect,read,write or all)', listOption, ['all'])
      .addHelpText('after', `\nExample:\n  $ portunix-db user ${mode} app --type postgresql --database myapp --privileges read,write`)
      .action(async (name: string, o: Target & { database?: string; privileges: string[] }) => {
        await emit(o, async () => (await dataOps()).changeGrant({ type: o.type, instance: o.instance, mode, user: name, privileges: o.privileges, ...(o.database ? { database: o.database } : {}) }), (r) => [r.message, ...r.statements.map((s) => `  ${s}`)].join('\n'));
      });
  }
  user
    .command('readonly')
    .description('Create (or refresh) the read-only account queries and MCP upstreams run as; its password goes to the secret store')
    .argument('<engine>')
    .option('--instance <name>', 'instance name', 'main')
    .addHelpText('after', '\nExample:\n  $ portunix-db user readonly postgresql --instance main')
    .action(async (engine: string, o: Flags & { instance: string }) => {
      await emit(o, async () => (await queryOps()).ensureReadonlyAccount({ type: engine, instance: o.instance }), (r) => [r.message, ...r.enforcement.map((e) => `  ${e}`)].join('\n'));
    });
  targetOptions(user.command('list').description('List users'))
    .addHelpText('after', '\nExample:\n  $ portunix-db user list --type mariadb --json')
    .action(async (o: Target) => {
    await emit(o, async () => (await dataOps()).listUsers({ type: o.type, instance: o.instance }), (rows) => table(rows.map((u) => ({ user: u.name, superuser: u.superuser, login: u.canLogin, grants: u.grants }))));
  });

  targetOptions(program.command('vacuum').description('Run maintenance: VACUUM/ANALYZE, OPTIMIZE TABLE, MEMORY PURGE...').argument('<db>', 'database'))
    .option('--table <table>', 'only this table')
    .option('--full', 'the thorough variant (VACUUM FULL, OPTIMIZE TABLE); may lock')
    .option('--analyze', 'also refresh planner statistics')
    .option('--task <task>', "an engine's own maintenance task instead of vacuum (TimescaleDB: compress, run-job)")
    .option('--job <id>', 'with --task run-job: the job id (see `metrics`, details.jobs)', intOption)
    .addHelpText('after', '\nExamples:\n  $ portunix-db vacuum myapp --type postgresql --analyze\n  $ portunix-db vacuum metrics --type timescaledb --task compress --table conditions\n  $ portunix-db vacuum metrics --type timescaledb --task run-job --job 1000')
    .action(async (db: string, o: Target & { table?: string; full?: boolean; analyze?: boolean; task?: string; job?: number }) => {
      await emit(o, async () => (await maintenanceOps()).vacuum({ type: o.type, instance: o.instance, database: db, ...(o.table ? { table: o.table } : {}), full: !!o.full, analyze: !!o.analyze, ...(o.task ? { task: o.task } : {}), ...(o.job !== undefined ? { job: o.job } : {}), progress: progressFor(o) }), (r) => [`Maintenance on ${r.database}:`, ...r.actions.map((a) => `  ${a}`)].join('\n'));
    });
}
