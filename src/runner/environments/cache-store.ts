// The runner store's rows about repository caches: what each cache holds, when it was last
// refreshed and used, and the lease that lets one runner process at a time refresh it, copy from it
// or evict it. Replicas sharing a cache directory share its rows (same cache id); the lease works
// like the credential refresh lease (credentials/store.ts): it expires on its own, so a replica
// that dies holding it blocks the others for one TTL at most.
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';

export type CacheVariant = 'full' | 'blob:none';

export interface CacheRow {
  cacheId: string;
  key: string;
  remoteUrl: string;
  variant: CacheVariant;
  sizeBytes: number;
  refreshes: number;
  createdAt: string;
  lastUsedAt: string;
  refreshedAt: string | null;
  leaseOwner: string | null;
  leaseUntil: string | null;
}

const toRow = (r: RunnerDB['repository_caches']): CacheRow => ({
  cacheId: r.cache_id,
  key: r.key,
  remoteUrl: r.remote_url,
  variant: r.variant as CacheVariant,
  sizeBytes: Number(r.size_bytes),
  refreshes: r.refreshes,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  refreshedAt: r.refreshed_at,
  leaseOwner: r.lease_owner,
  leaseUntil: r.lease_until,
});

export function createCacheStore(db: Kysely<RunnerDB>, now: () => Date = () => new Date()) {
  const at = () => now().toISOString();
  const pk = (cacheId: string, key: string) => db.updateTable('repository_caches').where('cache_id', '=', cacheId).where('key', '=', key);

  return {
    /** The row of a cache, created (not yet refreshed) when missing. */
    async ensure(cacheId: string, key: string, remoteUrl: string, variant: CacheVariant): Promise<CacheRow> {
      const stamp = at();
      await db
        .insertInto('repository_caches')
        .values({
          cache_id: cacheId,
          key,
          remote_url: remoteUrl,
          variant,
          size_bytes: 0,
          refreshes: 0,
          created_at: stamp,
          last_used_at: stamp,
          refreshed_at: null,
          lease_owner: null,
          lease_until: null,
        })
        .onConflict((oc) => oc.columns(['cache_id', 'key']).doNothing())
        .execute();
      const row = await this.get(cacheId, key);
      if (!row) throw new Error('the cache row vanished as it was created');
      return row;
    },

    async get(cacheId: string, key: string): Promise<CacheRow | undefined> {
      const row = await db
        .selectFrom('repository_caches')
        .selectAll()
        .where('cache_id', '=', cacheId)
        .where('key', '=', key)
        .executeTakeFirst();
      return row && toRow(row);
    },

    async list(cacheId: string): Promise<CacheRow[]> {
      const rows = await db.selectFrom('repository_caches').selectAll().where('cache_id', '=', cacheId).orderBy('last_used_at').execute();
      return rows.map(toRow);
    },

    /** Takes the lease when nobody holds a live one; false when someone does. */
    async acquire(cacheId: string, key: string, owner: string, ttlMs: number): Promise<boolean> {
      const t = now();
      const result = await pk(cacheId, key)
        .set({ lease_owner: owner, lease_until: new Date(t.getTime() + ttlMs).toISOString() })
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', t.toISOString())]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** Extends a lease its holder still holds. */
    async renew(cacheId: string, key: string, owner: string, ttlMs: number): Promise<boolean> {
      const result = await pk(cacheId, key)
        .set({ lease_until: new Date(now().getTime() + ttlMs).toISOString() })
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async release(cacheId: string, key: string, owner: string): Promise<void> {
      await pk(cacheId, key).set({ lease_owner: null, lease_until: null }).where('lease_owner', '=', owner).execute();
    },

    /**
     * Releases the leases a previous life of this runner process held (owners `{instance}#…`): a
     * process killed mid-refresh would otherwise keep the repository from its own restart for a TTL.
     */
    async releaseStale(cacheId: string, instance: string, current: string): Promise<number> {
      const held = await db
        .selectFrom('repository_caches')
        .select(['key', 'lease_owner'])
        .where('cache_id', '=', cacheId)
        .where('lease_owner', 'is not', null)
        .execute();
      let released = 0;
      for (const row of held) {
        if (!row.lease_owner || row.lease_owner === current || !row.lease_owner.startsWith(`${instance}#`)) continue;
        await this.release(cacheId, row.key, row.lease_owner);
        released++;
      }
      return released;
    },

    /** A refresh finished: only the lease holder records it. */
    async refreshed(cacheId: string, key: string, owner: string, sizeBytes: number): Promise<void> {
      const stamp = at();
      await pk(cacheId, key)
        .set((eb) => ({ refreshed_at: stamp, last_used_at: stamp, size_bytes: sizeBytes, refreshes: eb('refreshes', '+', 1) }))
        .where('lease_owner', '=', owner)
        .execute();
    },

    /** The cache was used (a workspace made from it), and what it takes on disk now. */
    async used(cacheId: string, key: string, sizeBytes?: number): Promise<void> {
      await pk(cacheId, key)
        .set({ last_used_at: at(), ...(sizeBytes !== undefined ? { size_bytes: sizeBytes } : {}) })
        .execute();
    },

    async setSize(cacheId: string, key: string, sizeBytes: number): Promise<void> {
      await pk(cacheId, key).set({ size_bytes: sizeBytes }).execute();
    },

    /** Forgets that the cache was ever refreshed (its directory is gone or was found broken). */
    async reset(cacheId: string, key: string, owner: string): Promise<void> {
      await pk(cacheId, key).set({ refreshed_at: null, size_bytes: 0 }).where('lease_owner', '=', owner).execute();
    },

    /** Removes the row; only its lease holder may. */
    async delete(cacheId: string, key: string, owner: string): Promise<boolean> {
      const result = await db
        .deleteFrom('repository_caches')
        .where('cache_id', '=', cacheId)
        .where('key', '=', key)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}

export type CacheStore = ReturnType<typeof createCacheStore>;
