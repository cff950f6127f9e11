/**
 * Runs one query in a worker thread so that the caller can stop it at its time limit
 * (better-sqlite3 is synchronous). The file is opened read-only (SQLITE_OPEN_READONLY, the
 * `mode=ro` of a URI) with `PRAGMA query_only`: SQLite itself refuses every write.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadDriver } from './instance.js';

interface Job {
  path: string;
  text: string;
  maxRows: number;
}

const job = workerData as Job;
try {
  const Database = await loadDriver();
  const db = new Database(job.path, { readonly: true, fileMustExist: true, timeout: 2000 });
  try {
    db.pragma('query_only = ON');
    const stmt = db.prepare(job.text);
    if (!stmt.reader) {
      const info = stmt.run();
      parentPort!.postMessage({ columns: [], rows: [], truncated: false, command: `OK ${info.changes}` });
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
      parentPort!.postMessage({ columns: stmt.columns().map((c) => c.name), rows, truncated });
    }
  } finally {
    db.close();
  }
} catch (err) {
  const e = err as { code?: string; message?: string };
  parentPort!.postMessage({ error: { code: e.code ?? '', message: e.message ?? String(err) } });
}
