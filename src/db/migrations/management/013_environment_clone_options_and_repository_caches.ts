import { tableKeyedBy, tableWithCompositeKey, requiredColumns, requiredText, addColumns, dropTables, dropColumns } from '../columns.ts';
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
  await tableKeyedBy(db, 'integration_clone_defaults', 'integration_id')
    .addColumn('organization_id', 'text', (c) => c.notNull())
    // 'blob:none' or null (every object)
    .addColumn('filter', 'text')
    // commits of history, or null (all)
    .addColumn('depth', 'integer')
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('updated_by', 'text')
    .execute();
  await tableWithCompositeKey(
    db,
    'runner_repository_caches',
    ['runner_id', 'instance'],
    // instance: `{hostname}:{dataDir}` of the reporting runner process
    requiredText('runner_id', 'instance'),
    requiredColumns('bigint', 'used_bytes', 'limit_bytes'),
    requiredColumns('integer', 'repositories'),
    requiredText('updated_at'),
  ).execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['runner_repository_caches', 'integration_clone_defaults']);
  await dropColumns(db, 'environments', ['clone_options']);
}
