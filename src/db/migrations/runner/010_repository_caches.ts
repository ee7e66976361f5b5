import { requiredText, optionalText, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Repository caches (issue 20): one row per cached repository of a cache directory. The directory
// is named by `cache_id` (an id written into the directory itself), so runner replicas that share
// a cache volume share rows, and replicas with disks of their own keep rows of their own.
// `lease_owner`/`lease_until` make one replica at a time refresh, copy from or evict a cache, as the
// credential rows' leases make one replica refresh a token.

export async function up(db: MigrationDb): Promise<void> {
  await db.schema
    .createTable('repository_caches')
    .addColumn('cache_id', 'text', (c) => c.notNull())
    // SHA-256 (hex) of the variant and the remote URL: the directory is `{key}.git`.
    .addColumn('key', 'text', (c) => c.notNull())
    // The credential-free remote URL the cache fetches from.
    .addColumn('remote_url', 'text', (c) => c.notNull())
    // 'full' | 'blob:none'
    .addColumn('variant', 'text', (c) => c.notNull())
    .addColumn('size_bytes', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('refreshes', 'integer', (c) => c.notNull().defaultTo(0))
    .$call(requiredText('created_at', 'last_used_at'))
    .$call(optionalText('refreshed_at', 'lease_owner', 'lease_until'))
    .addPrimaryKeyConstraint('repository_caches_pk', ['cache_id', 'key'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['repository_caches']);
}
