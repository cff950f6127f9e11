import type { Command } from 'commander';
import { DbError } from '../../core/errors.js';
import { emit } from '../output.js';
import { progressFor } from './lifecycle.js';
import type { Flags } from './common.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Find what killed commands and crashes left behind (scratch servers, restore staging databases, stale pid files and locks), permission drift, a broken audit chain, bad config entries, missing data dirs, unreadable secrets; --fix repairs what it safely can')
    .option('--fix', 'repair what can be repaired (each repair is audited)')
    .addHelpText('after', '\nExamples:\n  $ portunix-db doctor\n  $ portunix-db doctor --fix --json\n\nExits non-zero while a problem remains.')
    .action(async (o: Flags & { fix?: boolean }) =>
      emit(
        o,
        async () => (await import('../../core/ops/doctor.js')).doctor({ fix: !!o.fix, progress: progressFor(o) }),
        (r) =>
          r.checks
            .map((c) => [`${c.ok ? 'ok  ' : 'FAIL'} ${c.check}`, ...c.fixed.map((f) => `     fixed: ${f}`), ...c.problems.map((p) => `     problem: ${p}`)].join('\n'))
            .join('\n'),
        (r) => {
          const left = r.checks.reduce((n, c) => n + c.problems.length, 0);
          return r.ok ? undefined : new DbError(`${left} problem${left === 1 ? '' : 's'} remain${left === 1 ? 's' : ''}.`, 'PROBLEMS_FOUND', r.fix ? 'What is left needs a hand: see each problem above.' : 'Run `portunix-db doctor --fix` to repair what can be repaired.');
        },
      ),
    );
}
