import { tableWithCompositeKey, requiredText, cascadeColumns, addColumns, dropTables, dropColumns } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Runner replicas: several processes sharing one runner identity (key, token, PostgreSQL store).
// Control requests may name the replica that must take them (`replica_id`), and record which one
// took them (`claimed_by`). Replicas are seen through their polls. An affinity remembers which
// replica holds something local to it, such as an environment's workspace.

export async function up(db: MigrationDb): Promise<void> {
  await addColumns(db, 'runner_requests', {
    replica_id: 'text',
    claimed_by: 'text',
    // The caller's W3C trace context (JSON), so the runner's work joins the caller's trace.
    trace_context: 'text',
  });
  // Both belong to a runner and are keyed by (runner_id, their first own column), all text not null.
  const perRunner = (name: string, ...columns: [string, ...string[]]) =>
    tableWithCompositeKey(
      db,
      name,
      ['runner_id', columns[0]],
      cascadeColumns({ runner_id: 'runners' }),
      requiredText(...columns),
    ).execute();
  await perRunner('runner_replicas', 'replica_id', 'first_seen_at', 'last_seen_at');
  await perRunner('runner_affinities', 'affinity_key', 'replica_id', 'created_at');
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['runner_affinities', 'runner_replicas']);
  await dropColumns(db, 'runner_requests', ['trace_context', 'claimed_by', 'replica_id']);
}
