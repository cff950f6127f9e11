/** @elastic/mcp-server-elasticsearch (0.3.1), the upstream `mcp serve --with elasticsearch` wraps (engines.node >=18). */
import { upstreamServer } from './upstream.js';
import { elasticsearch } from '../../src/mcp/upstreams/elasticsearch.js';

export const server = upstreamServer('elastic-mcp', elasticsearch);
