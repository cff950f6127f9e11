/** `--help` of the program and of every command ends with the documentation page that explains it. */
import type { Command } from 'commander';
import { docPage } from '../core/package-info.js';

/** Which documentation page explains each top-level command (shown at the end of its --help). */
export const COMMAND_DOCS: Record<string, string> = {
  install: 'getting-started.md', uninstall: 'getting-started.md', start: 'getting-started.md', stop: 'getting-started.md', restart: 'getting-started.md',
  status: 'getting-started.md', url: 'getting-started.md', create: 'getting-started.md', drop: 'getting-started.md', list: 'getting-started.md',
  user: 'getting-started.md', backup: 'backup-and-recovery.md', restore: 'backup-and-recovery.md', vacuum: 'troubleshooting.md', config: 'troubleshooting.md',
  tables: 'getting-started.md', schema: 'getting-started.md', 'table-info': 'getting-started.md', indexes: 'troubleshooting.md', constraints: 'getting-started.md',
  connections: 'troubleshooting.md', size: 'getting-started.md', health: 'troubleshooting.md', metrics: 'troubleshooting.md', logs: 'troubleshooting.md', mcp: 'mcp.md', query: 'mcp.md', audit: 'security.md', monitor: 'backup-and-recovery.md', doctor: 'troubleshooting.md',
  dashboard: 'monitoring.md',
};

export function addDocLinks(program: Command): void {
  program.addHelpText('after', `\nDocs: ${docPage('getting-started.md')} (engines: docs/engines/<engine>.md, problems: docs/troubleshooting.md)`);
  for (const cmd of program.commands) {
    const page = COMMAND_DOCS[cmd.name()] ?? 'getting-started.md';
    const link = () => `\nDocs: ${docPage(page)}`;
    cmd.addHelpText('after', link);
    for (const sub of cmd.commands) sub.addHelpText('after', link);
  }
}

