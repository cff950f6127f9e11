/**
 * Runs one query in a child process so that the caller can kill it at its time limit
 * (better-sqlite3 is synchronous, and a thread stuck in SQLite cannot be terminated). The file is opened read-only (SQLITE_OPEN_READONLY, the
 * `mode=ro` of a URI) with `PRAGMA query_only`: SQLite itself refuses every write.
 */
import { loadDriver } from './instance.js';

interface Job {
  path: string;
  text: string;
  maxRows: number;
}

const job = await new Promise<Job>((resolve) => process.once('message', (m) => resolve(m as Job)));
const reply = (m: unknown) => process.send!(m, () => process.exit(0));
try {
  const Database = await loadDriver();
  const db = new Database(job.path, { readonly: true, fileMustExist: true, timeout: 2000 });
  try {
    db.pragma('query_only = ON');
    const stmt = db.prepare(job.text);
    if (!stmt.reader) {
      const info = stmt.run();
      reply({ columns: [], rows: [], truncated: false, command: `OK ${info.changes}` });
    } else {
      const rows: unknown[][] = [];
      let truncated = false;
      for (const row of stmt.raw(true).iterate() as Iterable<unknown[]>) {
        if (rows.length >= job.maxRows) {
          truncated = true;
          break;
        }
        rows.push(row.map((v) => (typeof v === 'bigint' ? v.toString() : v)));
      }
      reply({ columns: stmt.columns().map((c) => c.name), rows, truncated });
    }
  } finally {
    db.close();
  }
} catch (err) {
  const e = err as { code?: string; message?: string };
  reply({ error: { code: e.code ?? '', message: e.message ?? String(err) } });
}
