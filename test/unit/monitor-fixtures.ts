/** Monitor test helpers: a snapshot with defaults, and HTTP requests with chosen headers (fetch cannot set Host). */
import { request } from 'node:http';
import type { InstanceSnapshot } from '../../src/core/monitor/types.js';

export function snapshot(over: Partial<InstanceSnapshot> = {}): InstanceSnapshot {
  return { engine: 'redis', instance: 'main', at: new Date(0).toISOString(), state: 'running', version: '7.0', port: 6390, key: {}, totals: {}, ...over };
}

export function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host: `127.0.0.1:${port}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}
