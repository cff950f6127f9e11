import type { Command } from 'commander';
import { DbError, UsageError } from '../../core/errors.js';
import { bytes, emit, keyValues, table } from '../output.js';
import { detailsText } from '../../core/text-format.js';
import { intOption, type Flags } from './common.js';
import { targetOptions } from './data.js';

// the implementations load when their command runs, so other commands do not pay for them
const inspectOps = () => import('../../core/ops/inspect.js');
const maintenanceOps = () => import('../../core/ops/maintenance.js');

type Target = Flags & { type: string; instance: string };
type Paged = { limit?: number; cursor?: string };

function pageOptions(cmd: Command): Command {
  return cmd.option('--limit <n>', 'items per page (default 100)', intOption).option('--cursor <cursor>', 'next_cursor from the previous page');
}

function more(p: { truncated: boolean; next_cursor?: string; total: number; items: unknown[] }): string {
  return p.truncated ? `\n(${p.items.length} of ${p.total}; next page: --cursor ${p.next_cursor})` : '';
}

function engineTarget(cmd: Command): Command {
  return cmd.argument('<engine>').option('--instance <name>', 'instance name', 'main');
}

export function registerInspect(program: Command): void {
  pageOptions(targetOptions(program.command('tables').description('List tables (or collections, key types...) of a database').argument('<db>', 'database')))
    .option('--schema <schema>', 'only this schema')
    .option('--sizes', 'include sizes')
    .addHelpText('after', '\nExample:\n  $ portunix-db tables myapp --type postgresql --sizes')
    .action(async (db: string, o: Target & Paged & { schema?: string; sizes?: boolean }) => {
      await emit(o, async () => (await inspectOps()).tables({ type: o.type, instance: o.instance, database: db, ...(o.schema ? { schema: o.schema } : {}), includeSizes: !!o.sizes, ...paged(o) }), (p) => table(p.items.map((t) => ({ schema: t.schema, name: t.name, kind: t.kind, rows: t.rows === undefined ? undefined : `${t.rowsEstimated ? '~' : ''}${t.rows}`, size: t.sizeBytes === undefined ? undefined : bytes(t.sizeBytes), ...(t.details ? { details: detailsText(t.details, 160) } : {}) }))) + more(p));
    });

  pageOptions(targetOptions(program.command('schema').description('Schemas and objects of a database').argument('<db>', 'database')))
    .option('--schema <schema>', 'only this schema')
    .addHelpText('after', '\nExample:\n  $ portunix-db schema shop --type postgresql --schema public')
    .action(async (db: string, o: Target & Paged & { schema?: string }) => {
      await emit(o, async () => (await inspectOps()).schema({ type: o.type, instance: o.instance, database: db, ...(o.schema ? { schema: o.schema } : {}), ...paged(o) }), (s) => `${table(s.schemas)}\n\n${table(s.objects.items)}${more(s.objects)}${s.notes?.length ? `\n${s.notes.map((n) => `note: ${n}`).join('\n')}` : ''}`);
    });

  targetOptions(program.command('table-info').description('Columns, keys, size of one table').argument('<table>', 'table name'))
    .requiredOption('--database <db>', 'database')
    .option('--schema <schema>', 'schema')
    .addHelpText('after', '\nExample:\n  $ portunix-db table-info orders --database shop --type postgresql')
    .action(async (t: string, o: Target & { database: string; schema?: string }) => {
      await emit(o, async () => (await inspectOps()).tableInfo({ type: o.type, instance: o.instance, database: o.database, table: t, ...(o.schema ? { schema: o.schema } : {}) }), (r) =>
        [`${r.schema ? r.schema + '.' : ''}${r.name} (${r.kind}) rows: ${r.rows ?? '-'} size: ${bytes(r.sizeBytes)}${r.primaryKey?.length ? ` primary key: (${r.primaryKey.join(', ')})` : ''}${r.details ? `\ndetails: ${detailsText(r.details, 2000)}` : ''}`, table(r.columns.map((c) => ({ column: c.name, type: c.type, nullable: c.nullable, default: c.default }))), ...(r.notes ?? []).map((n) => `note: ${n}`)].join('\n'),
      );
    });

  for (const [name, desc] of [
    ['indexes', 'Indexes with size, scans, and unused/invalid/duplicate flags'],
    ['constraints', 'Primary keys, foreign keys, unique and check constraints'],
  ] as const) {
    pageOptions(targetOptions(program.command(name).description(desc).argument('<db>', 'database')))
      .option('--schema <schema>', 'only this schema')
      .option('--table <table>', 'only this table')
      .addHelpText('after', `\nExample:\n  $ portunix-db ${name} shop --type postgresql --table orders`)
      .action(async (db: string, o: Target & Paged & { schema?: string; table?: string }) => {
        const args = { type: o.type, instance: o.instance, database: db, ...(o.schema ? { schema: o.schema } : {}), ...(o.table ? { table: o.table } : {}), ...paged(o) };
        if (name === 'indexes') {
          await emit(o, async () => (await inspectOps()).indexes(args), (p) => table(p.items.map((i) => ({ table: i.table, index: i.name, columns: i.columns, unique: i.unique, size: bytes(i.sizeBytes), scans: i.scans, flags: [i.unused && 'unused', i.invalid && 'invalid', i.duplicateOf && `duplicate of ${i.duplicateOf}`].filter(Boolean).join(' ') }))) + more(p));
        } else {
          await emit(o, async () => (await inspectOps()).constraints(args), (p) => table(p.items.map((c) => ({ table: c.table, name: c.name, type: c.type, columns: c.columns, references: c.references ? `${c.references.table}(${c.references.columns.join(',')})` : undefined, definition: c.definition }))) + more(p));
        }
      });
  }

  pageOptions(engineTarget(program.command('connections').description('Active connections'))).addHelpText('after', '\nExample:\n  $ portunix-db connections postgresql --limit 20').action(async (engine: string, o: Target & Paged) => {
    await emit(o, async () => (await inspectOps()).connections({ type: engine, instance: o.instance, ...paged(o) }), (p) => table(p.items.map((c) => ({ id: c.id, user: c.user, database: c.database, client: c.client, state: c.state, since: c.queryStart, query: c.query }))) + more(p));
  });

  pageOptions(engineTarget(program.command('size').description('Database sizes'))).option('--database <db>', 'only this database').addHelpText('after', '\nExample:\n  $ portunix-db size postgresql --database shop').action(async (engine: string, o: Target & Paged & { database?: string }) => {
    await emit(o, async () => (await inspectOps()).sizes({ type: engine, instance: o.instance, ...(o.database ? { database: o.database } : {}), ...paged(o) }), (p) => table(p.items.map((d) => ({ database: d.name, size: bytes(d.sizeBytes), keys: d.keys }))) + `\ntotal: ${bytes(p.total_bytes)}` + more(p));
  });

  engineTarget(program.command('health').description('Health checks; exits 1 when a check fails'))
    .addHelpText('after', '\nExample:\n  $ portunix-db health postgresql')
    .action(async (engine: string, o: Target) => {
      await emit(
        o,
        async () => (await inspectOps()).health({ type: engine, instance: o.instance }),
        (r) => `${r.engine}/${r.instance}: ${r.healthy ? 'healthy' : 'UNHEALTHY'}\n${table(r.checks)}`,
        (r) => (r.healthy ? undefined : new DbError(`${r.engine}/${r.instance} failed a health check.`, 'COMMAND_FAILED')),
      );
    });

  engineTarget(program.command('metrics').description('Performance metrics: rates since the last sample, cache hit ratio, slow statements, bloat, unused indexes'))
    .option('--database <db>', 'database for per-database figures')
    .option('--enable-statements', 'turn on statement statistics (pg_stat_statements, performance_schema...)')
    .addHelpText('after', '\nExample:\n  $ portunix-db metrics postgresql --database myapp')
    .action(async (engine: string, o: Target & { database?: string; enableStatements?: boolean }) => {
      if (o.enableStatements) {
        await emit(o, async () => (await inspectOps()).enableStatements({ type: engine, instance: o.instance }), (r) => r.message);
        return;
      }
      await emit(o, async () => (await inspectOps()).performance({ type: engine, instance: o.instance, ...(o.database ? { database: o.database } : {}) }), (r) => {
        const out = [keyValues({ ...r.gauges }), r.rates ? `\nper second over the last ${r.sample_interval_seconds}s:\n${keyValues(r.rates)}` : ''];
        if (r.slowQueries?.length) out.push('\nslowest statements:\n' + table(r.slowQueries.map((q) => ({ mean_ms: q.meanMs, calls: q.calls, query: q.query }))));
        else if (r.slowQueriesNote) out.push(`\n${r.slowQueriesNote}`);
        if (r.bloat?.length) out.push('\nbloat:\n' + table(r.bloat));
        if (r.unusedIndexes?.length) out.push('\nunused indexes:\n' + table(r.unusedIndexes));
        if (r.details) out.push(`\ndetails: ${detailsText(r.details, 2000)}`);
        for (const n of r.notes ?? []) out.push(`note: ${n}`);
        return out.filter(Boolean).join('\n');
      });
    });

  engineTarget(program.command('logs').description('The tail of the server log'))
    .option('--lines <n>', 'number of lines', intOption, 50)
    .addHelpText('after', '\nExample:\n  $ portunix-db logs postgresql --instance pg15 --lines 100')
    .action(async (engine: string, o: Target & { lines: number }) => {
      await emit(o, async () => (await inspectOps()).logs({ type: engine, instance: o.instance, lines: o.lines }), (r) => (r.lines.length ? r.lines.join('\n') : `(log ${r.file} is empty)`));
    });

  program
    .command('config')
    .description('Show, get or set server configuration (says when a restart is needed)')
    .argument('<action>', 'show | get | set')
    .argument('<engine>')
    .argument('[key]')
    .argument('[value]')
    .option('--instance <name>', 'instance name', 'main')
    .addHelpText('after', '\nExamples:\n  $ portunix-db config get postgresql work_mem\n  $ portunix-db config set postgresql work_mem 64MB\n  $ portunix-db config show redis --json')
    .action(async (action: string, engine: string, key: string | undefined, value: string | undefined, o: Target) => {
      const t = { type: engine, instance: o.instance };
      if (action === 'show') return emit(o, async () => (await maintenanceOps()).configShow(t), (rows) => table(rows.map((s) => ({ name: s.name, value: s.value, unit: s.unit, source: s.source, restart: s.restartRequired }))));
      if (action === 'get') {
        if (!key) return emit(o, async () => { throw new UsageError('config get needs a key.', 'USAGE', `Example: portunix-db config get ${engine} <key>`); }, () => '');
        return emit(o, async () => (await maintenanceOps()).configGet({ ...t, key }), (s) => keyValues({ ...s }));
      }
      if (action === 'set') {
        if (!key || value === undefined) return emit(o, async () => { throw new UsageError('config set needs a key and a value.', 'USAGE', `Example: portunix-db config set ${engine} <key> <value>`); }, () => '');
        return emit(o, async () => (await maintenanceOps()).configSet({ ...t, key, value }), (c) => c.message);
      }
      return emit(o, async () => { throw new UsageError(`Unknown config action "${action}".`, 'UNKNOWN_COMMAND', 'Use show, get or set.'); }, () => '');
    });
}

function paged(o: Paged): Paged {
  return { ...(o.limit !== undefined ? { limit: o.limit } : {}), ...(o.cursor ? { cursor: o.cursor } : {}) };
}
