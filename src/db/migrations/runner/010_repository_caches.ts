import { tableWithCompositeKey, requiredText, optionalText, requiredWithDefault, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Repository caches (issue 20): one row per cached repository of a cache directory. The directory
// is named by `cache_id` (an id written into the directory itself), so runner replicas that share
// a cache volume share rows, and replicas with disks of their own keep rows of their own.
// `lease_owner`/`lease_until` make one replica at a time refresh, copy from or evict a cache, as the
// credential rows' leases make one replica refresh a token.

export async function up(db: MigrationDb): Promise<void> {
  await tableWithCompositeKey(
    db,
    'repository_caches',
    ['cache_id', 'key'],
    // key: SHA-256 (hex) of the variant and the remote URL, the directory is `{key}.git`;
    // remote_url: the credential-free remote URL the cache fetches from; variant: 'full' | 'blob:none'.
    requiredText('cache_id', 'key', 'remote_url', 'variant'),
    (t) => t.addColumn('size_bytes', 'bigint', requiredWithDefault(0)).addColumn('refreshes', 'integer', requiredWithDefault(0)),
    requiredText('created_at', 'last_used_at'),
    optionalText('refreshed_at', 'lease_owner', 'lease_until'),
  ).execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['repository_caches']);
}
