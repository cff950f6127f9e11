import { z } from 'zod';
import { defineTool } from '../tool-base.js';
import { engineParam, instanceParam } from '../schemas.js';
import { duration, table } from '../../core/text-format.js';

const notice = z.object({
  eol: z.boolean(),
  eol_date: z.string().optional(),
  eol_soon: z.boolean().optional(),
  update_available: z.string().optional(),
  message: z.string().optional(),
});

const entry = z.object({
  engine: z.string(),
  instance: z.string(),
  state: z.string().describe('running, stopped, crashed, unresponsive or embedded'),
  version: z.string(),
  full_version: z.string().optional(),
  source: z.string().optional(),
  port: z.number().optional(),
  pid: z.number().optional(),
  uptime_seconds: z.number().optional(),
  data_dir: z.string(),
  log_tail: z.array(z.string()).optional().describe('Last log lines of a crashed server'),
  details: z.record(z.string(), z.unknown()).optional(),
  notice: notice.optional().describe('End of life or update available'),
});

export const dbStatus = defineTool({
  name: 'db_status',
  title: 'Database status',
  description: 'State, version, port, uptime, end-of-life notices; every instance without `type`.',
  operation: 'read',
  input: { type: engineParam.optional(), instance: instanceParam },
  output: {
    instances: z.array(entry),
    monitor: z
      .object({ last_sample_at: z.string().optional(), interval_seconds: z.number().optional(), running: z.boolean(), alerts: z.array(z.object({ kind: z.string(), engine: z.string().optional(), instance: z.string().optional(), message: z.string(), raised_at: z.string() })) })
      .optional()
      .describe("The monitor agent's open alerts"),
  },
  async run(args, { core }) {
    const entries = await core.status({ ...(args.type ? { type: args.type } : {}), ...(args.instance ? { instance: args.instance } : {}) });
    const instances = entries.map((e) => ({ ...e, ...(e.log_tail ? { log_tail: e.log_tail.slice(-20) } : {}) }));
    const m = await core.monitorAlerts();
    const shown = new Set(instances.map((e) => `${e.engine}/${e.instance}`));
    const monitor = m ? { ...m, alerts: m.alerts.filter((a) => (!args.type && !args.instance) || shown.has(`${a.engine}/${a.instance}`)).map(({ kind, engine, instance, message, raised_at }) => ({ kind, ...(engine ? { engine } : {}), ...(instance ? { instance } : {}), message, raised_at })) } : undefined;
    const alertLines = monitor ? [monitor.running ? '' : `monitor: not sampling (last sample ${monitor.last_sample_at ?? 'never'}); start it with \`portunix-db monitor --detach\`.`, ...monitor.alerts.map((a) => `ALERT ${a.kind} since ${a.raised_at}: ${a.message}`)].filter(Boolean) : [];
    if (instances.length === 0) {
      return { structured: { instances, ...(monitor ? { monitor } : {}) }, text: `No ${args.type ?? 'database'} instances are installed. Install one with \`portunix-db install ${args.type ?? 'postgresql'}\`.` };
    }
    const lines = [
      table(
        ['INSTANCE', 'STATE', 'VERSION', 'PORT', 'UPTIME', 'NOTICE'],
        instances.map((e) => [`${e.engine}/${e.instance}`, e.state, e.full_version ?? e.version, e.port, duration(e.uptime_seconds), e.notice?.message]),
      ),
    ];
    for (const e of instances) {
      if (e.state === 'crashed' && e.log_tail?.length) lines.push(`\n${e.engine}/${e.instance} crashed; log tail:\n${e.log_tail.slice(-5).join('\n')}`);
      if (e.state === 'stopped' || e.state === 'crashed') lines.push(`Start ${e.engine}/${e.instance} with \`portunix-db start ${e.engine}${e.instance === 'main' ? '' : ` --instance ${e.instance}`}\`.`);
    }
    lines.push(...alertLines);
    return { structured: { instances, ...(monitor ? { monitor } : {}) }, text: lines.join('\n') };
  },
});
