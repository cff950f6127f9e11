import type { Command } from 'commander';
import { parseLoopbackListen } from '../../core/http-guard.js';
import { DEFAULT_DASHBOARD_PORT } from '../../core/monitor/defaults.js';
import { emit } from '../output.js';
import type { Flags } from './common.js';

type DashboardFlags = Flags & { listen: string; tokenFile?: string };

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
}

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description("A read-only local web page of the monitor's samples: instances, backups, alerts, plots over time")
    .option('--listen <host:port>', 'loopback address to serve on (PORT 0: any free port)', `127.0.0.1:${DEFAULT_DASHBOARD_PORT}`)
    .option('--token-file <file>', 'bearer token file (mode 600); default: the monitor\'s, made under PORTUNIX_HOME on first use')
    .addHelpText('after', '\nExamples:\n  $ portunix-db monitor --detach        # samples every 15 s into PORTUNIX_HOME/monitor\n  $ portunix-db dashboard               # open the printed URL (it carries the token after #)\n  $ portunix-db dashboard --listen 127.0.0.1:0 --json')
    .action(async (o: DashboardFlags) => {
      const { serveDashboard } = await import('../../core/monitor/dashboard.js');
      let handle: Awaited<ReturnType<typeof serveDashboard>> | undefined;
      await emit(
        o,
        async () => {
          const { host, port } = parseLoopbackListen(o.listen);
          const { token, file } = await (await import('../../core/monitor/http.js')).listenerToken(o.tokenFile);
          handle = await serveDashboard({ host, port, ...(o.tokenFile ? { tokenFile: o.tokenFile } : {}), log: (m) => process.stderr.write(`[portunix-db dashboard] ${m}\n`) });
          return { url: `${handle.url}/`, open: `${handle.url}/#token=${token}`, port: handle.port, token_file: file };
        },
        (r) => `dashboard on ${r.url} (read-only; Ctrl-C stops it)\nopen: ${r.open}\n(the part after # is the bearer token from ${r.token_file}; browsers never send it to any server)`,
      );
      if (!handle) return;
      const sig = await untilSignal();
      if (!o.quiet) process.stderr.write(`[portunix-db dashboard] ${sig}: stopping\n`);
      await handle.close();
      process.exit(0);
    });
}
