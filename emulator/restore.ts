// Restoring saved state (emulator/persistence.ts) into the live stores: each store keeps its Map
// instances (the routes hold them), so a restore refills them in place instead of replacing them.

/** Makes `target` hold exactly `source`'s entries, keeping the `target` instance. */
export function refill<K, V>(target: Map<K, V>, source: Map<K, V>): void {
  target.clear();
  for (const [k, v] of source) target.set(k, v);
}
