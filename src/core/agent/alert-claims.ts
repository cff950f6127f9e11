/**
 * One alert per condition when two tasks of the agent can see it. A failed scheduled backup is
 * seen at once by the scheduled-backups task (with its error) and, from the backup history, by
 * the sampler's backup-failed condition; both name it by the same key
 * ("backup-failed:<engine>/<instance>/<database>"). Whichever raises it first claims the key and
 * delivers the alert; the other stays quiet until the claimer releases it (the condition
 * cleared, as the claimer saw it). In memory: the sampler's store keeps its own conditions
 * across restarts.
 */
export class AlertClaims {
  private readonly owners = new Map<string, string>();

  /** True when `owner` may deliver this alert: no other task holds its key. */
  claim(key: string, owner: string): boolean {
    const held = this.owners.get(key);
    if (held !== undefined && held !== owner) return false;
    this.owners.set(key, owner);
    return true;
  }

  release(key: string, owner: string): void {
    if (this.owners.get(key) === owner) this.owners.delete(key);
  }
}

/** The key both tasks give a database's backup problem. */
export function backupAlertKey(kind: 'backup-failed' | 'verify-failed', engine: string, instance: string, database: string): string {
  return `${kind}:${engine}/${instance}/${database}`;
}
