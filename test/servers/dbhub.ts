/**
 * DBHub (@bytebase/dbhub 1.4.0), the upstream MCP server `mcp serve --with dbhub` wraps, plus the
 * Node.js it needs (>= 22.5, from the npm registry's node-<os>-<arch> package) when the running
 * node is older.
 */
import { upstreamServer } from './upstream.js';
import { dbhub } from '../../src/mcp/upstreams/dbhub.js';

export const server = upstreamServer('dbhub', dbhub);
