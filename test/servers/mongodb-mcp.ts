/** mongodb-mcp-server (3.0.4), the upstream `mcp serve --with mongodb` wraps (engines.node ^20.19 || ^22.13 || >=24). */
import { upstreamServer } from './upstream.js';
import { mongodb } from '../../src/mcp/upstreams/mongodb.js';

export const server = upstreamServer('mongodb-mcp', mongodb);
