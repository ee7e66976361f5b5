import { addColumns, dropTables, dropColumns } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Environments at scale (issue 20).
// - environments.clone_options: how much of the repository the environment fetched, as resolved
//   from the request and its integration's defaults, JSON {filter, depth}; null for older rows (full).
// - integration_clone_defaults: an integration's defaults for its environments (blobless, shallow),
//   set by admins; a request may override them.
// - runner_repository_caches: what each runner process (replica) last reported of its repository
//   cache: bytes on disk, repositories held, its size limit. Totals only: which repositories a
//   runner holds is not reported (a member without access to a repository must not learn of it).

export async function up(db: MigrationDb): Promise<void> {
  await addColumns(db, 'environments', { clone_options: 'text' });
  await db.schema
    .createTable('integration_clone_defaults')
    .addColumn('integration_id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull())
    // 'blob:none' or null (every object)
    .addColumn('filter', 'text')
    // commits of history, or null (all)
    .addColumn('depth', 'integer')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text')
    .execute();
  await db.schema
    .createTable('runner_repository_caches')
    .addColumn('runner_id', 'text', (c) => c.notNull())
    // `{hostname}:{dataDir}` of the reporting runner process
    .addColumn('instance', 'text', (c) => c.notNull())
    .addColumn('used_bytes', 'bigint', (c) => c.notNull())
    .addColumn('limit_bytes', 'bigint', (c) => c.notNull())
    .addColumn('repositories', 'integer', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('runner_repository_caches_pk', ['runner_id', 'instance'])
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['runner_repository_caches', 'integration_clone_defaults']);
  await dropColumns(db, 'environments', ['clone_options']);
}
