import type { Command } from 'commander';
import { DbError, UsageError } from '../../core/errors.js';
import { emit } from '../output.js';
import type { Flags } from './common.js';

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('Check the audit log: `audit verify` walks its hash chain and names the first broken entry')
    .argument('<action>', 'verify')
    .addHelpText('after', '\nExamples:\n  $ portunix-db audit verify\n  $ portunix-db audit verify --json\n\nExits non-zero when an entry was edited, inserted or deleted (the chain breaks there).')
    .action(async (action: string, o: Flags) => {
      if (action !== 'verify') return emit(o, async () => { throw new UsageError(`Unknown audit action "${action}".`, 'USAGE', 'Use `portunix-db audit verify`.'); }, () => '');
      return emit(
        o,
        async () => (await import('../../core/audit.js')).verifyAudit(),
        (r) => (r.ok ? `OK: ${r.entries} entries in ${r.file}, the hash chain is intact.` : `BROKEN: ${r.file} line ${r.first_broken!.line}: ${r.first_broken!.reason}\n  ${r.first_broken!.entry ?? ''}`),
        (r) => (r.ok ? undefined : new DbError(`The audit log is broken at line ${r.first_broken!.line}: ${r.first_broken!.reason}.`, 'AUDIT_FAILED', 'Entries from that line on cannot be trusted; keep a copy of the file for inspection.', { line: r.first_broken!.line })),
      );
    });
}
