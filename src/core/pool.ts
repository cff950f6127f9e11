/**
 * Connection pooling for the long-running MCP server: engines keep a few authenticated
 * connections per instance and database, so warm calls skip TCP + TLS + authentication, and close
 * them once idle. Off unless a long-running process turns it on (the CLI makes one connection per
 * command and ends it). Whatever replaces or stops a server (stop, restart, uninstall, restore)
 * closes the instance's pooled connections first, through the closers engines register here.
 */

let idleMs: number | undefined;
const closers = new Set<(engine: string, instance: string) => Promise<void>>();

/** Turns pooling on for this process; idle connections close after `idleSeconds` (0 turns it off). */
export function enablePooling(idleSeconds: number): void {
  idleMs = idleSeconds > 0 ? Math.round(idleSeconds * 1000) : undefined;
}

/** The idle timeout in ms when pooling is on, else undefined. */
export function poolIdleMs(): number | undefined {
  return idleMs;
}

/** An engine's way to close its pooled connections to one instance (or all, without arguments). */
export function registerPoolCloser(close: (engine: string, instance: string) => Promise<void>): void {
  closers.add(close);
}

/** Closes the pooled connections to one instance; `*` for every instance (at exit). */
export async function closePooledConnections(engine: string, instance: string): Promise<void> {
  await Promise.all([...closers].map((close) => close(engine, instance).catch(() => undefined)));
}
