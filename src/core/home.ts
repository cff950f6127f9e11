import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EngineId } from '../engines/ids.js';

/** The tool's home: PORTUNIX_HOME when set (tests always set it), else ~/.portunix/db. */
export function toolHome(): string {
  const override = process.env['PORTUNIX_HOME'];
  return override && override.trim() !== '' ? resolve(override) : join(homedir(), '.portunix', 'db');
}

export const homePaths = {
  config: () => join(toolHome(), 'config.json'),
  cache: () => join(toolHome(), 'cache'),
  binaries: (engine: EngineId, version: string) => join(toolHome(), 'binaries', engine, version),
  instances: () => join(toolHome(), 'instances'),
  instanceDir: (engine: EngineId, name: string) => join(toolHome(), 'instances', engine, name),
  backups: (engine: EngineId, name: string) => join(toolHome(), 'backups', engine, name),
  secrets: () => join(toolHome(), 'secrets'),
  audit: () => join(toolHome(), 'audit.log'),
  /** The bearer token HTTP MCP serving makes on first use when no --token-file is given. */
  mcpToken: () => join(toolHome(), 'mcp-http.token'),
  state: () => join(toolHome(), 'state'),
  /** The monitor's sample store (SQLite) and its listeners' token. */
  monitor: () => join(toolHome(), 'monitor'),
  monitorToken: () => join(toolHome(), 'monitor', 'http.token'),
};
