// The client assertions already presented (RFC 7523 `jti` replay), shared by the token routes
// through the context (context.ts); client-assertion.ts spends them.

/** Seen `jti`s (until their assertion expires) and the replay fault. */
export class AssertionLedger {
  private readonly seen = new Map<string, number>();
  /** Fault: the next certificate assertion is answered as a replay. */
  replayNext = false;

  /** True when `key` was presented before and its assertion has not expired yet. */
  spend(key: string, expiresAtMs: number, nowMs: number): boolean {
    for (const [k, until] of this.seen) if (until <= nowMs) this.seen.delete(k);
    if (this.replayNext) {
      this.replayNext = false;
      return true;
    }
    if (this.seen.has(key)) return true;
    this.seen.set(key, expiresAtMs);
    return false;
  }
}
