/**
 * A small in-memory TTL cache with a size bound: the oldest entries go first. Per runner process,
 * so replicas each keep their own; entries are keyed by credential id, so another user (or a new
 * authorization of the same user) never sees what an earlier credential was allowed to read.
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 2000,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: this.now() + this.ttlMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every entry whose key starts with `prefix` (one credential's entries). */
  deletePrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}

/** Azure DevOps names compare case-insensitively (after NFC), so cache keys do too. */
export function nameKey(...parts: string[]): string {
  return parts.map((p) => p.normalize('NFC').toLowerCase()).join('\u0000');
}
