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
  output: { instances: z.array(entry) },
  async run(args, { core }) {
    const entries = await core.status({ ...(args.type ? { type: args.type } : {}), ...(args.instance ? { instance: args.instance } : {}) });
    const instances = entries.map((e) => ({ ...e, ...(e.log_tail ? { log_tail: e.log_tail.slice(-20) } : {}) }));
    if (instances.length === 0) {
      return { structured: { instances }, text: `No ${args.type ?? 'database'} instances are installed. Install one with \`portunix-db install ${args.type ?? 'postgresql'}\`.` };
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
    return { structured: { instances }, text: lines.join('\n') };
  },
});
