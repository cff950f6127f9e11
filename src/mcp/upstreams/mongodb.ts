/**
 * mongodb-mcp-server: find, aggregate, count, collection-schema... for MongoDB. One child per
 * instance, with the connection string of the instance's read-only account in its environment
 * (MDB_MCP_CONNECTION_STRING, never argv), its own read-only mode on, server-side JS off, its
 * per-query limits (documents, bytes, time) set from ours, and no tools that reach beyond the
 * instance (Atlas, Atlas Local, the assistant's web calls, `connect` to another server).
 * Variable names are the ones its 3.0.4 README and config table list.
 */
import type { UpstreamDef } from '../upstream.js';

/** Tool categories and operation types switched off (MDB_MCP_DISABLED_TOOLS takes both). */
export const MONGODB_DISABLED = ['atlas', 'atlas-local', 'assistant', 'connect'];

export const mongodb: UpstreamDef = {
  id: 'mongodb',
  title: 'mongodb-mcp-server',
  package: 'mongodb-mcp-server',
  version: '3.0.4',
  prefix: 'mongo',
  perSource: true,
  async configure(sources, dir, limits) {
    const s = sources[0]!;
    return {
      args: [],
      env: {
        ...s.settings,
        MDB_MCP_READ_ONLY: limits.readWrite ? 'false' : 'true',
        MDB_MCP_DISABLE_SERVER_SIDE_JS: 'true',
        MDB_MCP_DISABLED_TOOLS: MONGODB_DISABLED.join(','),
        MDB_MCP_MAX_DOCUMENTS_PER_QUERY: String(limits.maxRows),
        MDB_MCP_MAX_BYTES_PER_QUERY: String(limits.maxBytes),
        MDB_MCP_MAX_TIME_M_S: String(limits.timeoutMs),
        MDB_MCP_TELEMETRY: 'disabled',
        DO_NOT_TRACK: '1',
        MDB_MCP_LOGGERS: 'stderr',
        MDB_MCP_LOG_PATH: dir,
        MDB_MCP_EXPORTS_PATH: dir,
      },
    };
  },
  queryOf(tool, args) {
    return `${tool} ${JSON.stringify(args)}`;
  },
  // with the connect tools off, the connection string we configured is the only connection
  fixedArgs: { connectionId: 'preconfigured' },
  // Atlas tools manage cloud accounts, not the local instance (also switched off above)
  writeTool: (tool) => tool.startsWith('atlas'),
};
