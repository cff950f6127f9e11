#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { registerLifecycle } from './commands/lifecycle.js';
import { registerData } from './commands/data.js';
import { registerInspect } from './commands/inspect.js';
import { registerBackup } from './commands/backup.js';
import { registerQuery } from './commands/query.js';
import { registerAudit } from './commands/audit.js';
import { registerMonitor } from './commands/monitor.js';
import { registerDashboard } from './commands/dashboard.js';
import { registerDoctor } from './commands/doctor.js';
import { registerMcpCommands } from '../mcp/cli.js';
import { printError } from './output.js';
import { DbError, exitCodeFor, toDbError } from '../core/errors.js';
import { packageVersion } from '../core/package-info.js';
import { addDocLinks } from './doc-links.js';

/** Every command takes --json and --quiet, wherever it sits in the tree. */
function addGlobalOptions(cmd: Command): void {
  for (const sub of cmd.commands) {
    if (!sub.options.some((o) => o.long === '--json')) sub.addOption(new Option('--json', 'print one JSON document on stdout'));
    if (!sub.options.some((o) => o.long === '--quiet')) sub.addOption(new Option('-q, --quiet', 'no progress on stderr'));
    addGlobalOptions(sub);
  }
}

/** Portunix's `--help-ai`: the command tree as JSON, for assistants. */
function describe(cmd: Command): Record<string, unknown> {
  return {
    name: cmd.name(),
    description: cmd.description(),
    arguments: cmd.registeredArguments.map((a) => ({ name: a.name(), required: a.required, description: a.description })),
    options: cmd.options.map((o) => ({ flags: o.flags, description: o.description, ...(o.defaultValue !== undefined ? { default: o.defaultValue } : {}) })),
    ...(cmd.commands.length ? { commands: cmd.commands.map(describe) } : {}),
  };
}

export async function buildProgram(): Promise<Command> {
  const program = new Command('portunix-db')
    .description('Install, run, inspect, maintain and back up database servers. Also `portunix db ...`.')
    .version(packageVersion(), '-V, --version')
    .option('--help-ai', 'print the command tree as JSON (for AI assistants)')
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', '\nQuick start:\n  $ portunix-db install postgresql        # rootless PostgreSQL 16, running, secured\n  $ portunix-db status\n  $ portunix-db url postgresql --show-password\n\nHome: $PORTUNIX_HOME or ~/.portunix/db');
  registerLifecycle(program);
  registerData(program);
  registerInspect(program);
  registerBackup(program);
  registerQuery(program);
  registerAudit(program);
  registerMonitor(program);
  registerDashboard(program);
  registerDoctor(program);
  registerMcpCommands(program);
  addGlobalOptions(program);
  addDocLinks(program);
  program.exitOverride();
  const configureDeep = (c: Command) => {
    c.exitOverride();
    c.showSuggestionAfterError(true);
    c.commands.forEach(configureDeep);
  };
  configureDeep(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = await buildProgram();
  if (argv.includes('--help-ai')) {
    process.stdout.write(JSON.stringify(describe(program), null, 2) + '\n');
    return;
  }
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return;
      // commander already printed its message (with a "did you mean")
      process.exitCode = 2;
      return;
    }
    const e = err instanceof DbError ? err : toDbError(err);
    printError(e);
    process.exitCode = exitCodeFor(e);
  }
}

// a closed stdout (e.g. `| head`) is not an error worth a stack trace
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
});

await main(process.argv);
