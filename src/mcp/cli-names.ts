/**
 * Names the `mcp` command definitions show in their help, apart from the modules that
 * implement them (client-config, upstreams), which load the MCP SDK.
 */
import type { UpstreamId } from '../engines/contract.js';

export const MCP_CLIENTS = ['claude-desktop', 'claude-code', 'cursor', 'vscode'] as const;

/** Every upstream id, checked against the contract's UpstreamId at compile time. */
const UPSTREAM_ID_SET = { dbhub: true, mongodb: true, elasticsearch: true } satisfies Record<UpstreamId, true>;
export const UPSTREAM_IDS = Object.keys(UPSTREAM_ID_SET) as UpstreamId[];
