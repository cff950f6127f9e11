/**
 * A small InfluxDB 1.x HTTP client for the tests (independent of the product's own): HTTPS
 * pinned to the instance's public certificate, Basic auth, /query and /write.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { request as plainRequest } from 'node:http';
import { join } from 'node:path';

export interface Reply {
  status: number;
  body: string;
  json: any;
}

export function caOf(home: string, instance = 'main'): string {
  return readFileSync(join(home, 'instances', 'influxdb', instance, 'tls', 'server.crt'), 'utf8');
}

export function http(port: number, method: string, path: string, options: { ca?: string; user?: string; password?: string; body?: string; plain?: boolean } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.user !== undefined) headers['authorization'] = `Basic ${Buffer.from(`${options.user}:${options.password ?? ''}`).toString('base64')}`;
    if (options.body !== undefined) headers['content-type'] = path.startsWith('/query') ? 'application/x-www-form-urlencoded' : 'text/plain';
    const base = { host: '127.0.0.1', port, method, path, headers, timeout: 15_000 };
    const req = options.plain ? plainRequest(base) : request({ ...base, ca: options.ca, servername: '' });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** An authenticated session against one instance. */
export function influx(home: string, port: number, user: string, password: string, instance = 'main') {
  const ca = caOf(home, instance);
  return {
    async query(q: string, db?: string): Promise<any> {
      const form = new URLSearchParams({ q, ...(db ? { db } : {}) });
      return http(port, 'POST', '/query', { ca, user, password, body: form.toString() });
    },
    async write(db: string, lines: string, rp?: string): Promise<Reply> {
      return http(port, 'POST', `/write?${new URLSearchParams({ db, ...(rp ? { rp } : {}) })}`, { ca, user, password, body: lines });
    },
    /** The first statement's series as [name, values] pairs, or its error. */
    async values(q: string, db?: string): Promise<unknown[][]> {
      const r = await this.query(q, db);
      const res = r.json?.results?.[0];
      if (!res || res.error || r.json?.error) throw new Error(`${q}: ${res?.error ?? r.json?.error ?? r.body}`);
      return (res.series ?? []).flatMap((s: { values?: unknown[][] }) => s.values ?? []);
    },
  };
}

export async function adminPassword(cli: (args: string[]) => Promise<{ json: any }>, instance = 'main'): Promise<string> {
  const url = (await cli(['url', 'influxdb', '--instance', instance, '--show-password'])).json.url as string;
  return decodeURIComponent(new URL(url).password);
}
