import type { Kysely } from 'kysely';

// Runner replicas: several processes sharing one runner identity (key, token, PostgreSQL store).
// Control requests may name the replica that must take them (`replica_id`), and record which one
// took them (`claimed_by`). Replicas are seen through their polls. An affinity remembers which
// replica holds something local to it, such as an environment's workspace.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('runner_requests').addColumn('replica_id', 'text').execute();
  await db.schema.alterTable('runner_requests').addColumn('claimed_by', 'text').execute();
  // The caller's W3C trace context (JSON), so the runner's work joins the caller's trace.
  await db.schema.alterTable('runner_requests').addColumn('trace_context', 'text').execute();
  await db.schema
    .createTable('runner_replicas')
    .addColumn('runner_id', 'text', (c) => c.notNull().references('runners.id').onDelete('cascade'))
    .addColumn('replica_id', 'text', (c) => c.notNull())
    .addColumn('first_seen_at', 'text', (c) => c.notNull())
    .addColumn('last_seen_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('runner_replicas_pk', ['runner_id', 'replica_id'])
    .execute();
  await db.schema
    .createTable('runner_affinities')
    .addColumn('runner_id', 'text', (c) => c.notNull().references('runners.id').onDelete('cascade'))
    .addColumn('affinity_key', 'text', (c) => c.notNull())
    .addColumn('replica_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('runner_affinities_pk', ['runner_id', 'affinity_key'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('runner_affinities').ifExists().execute();
  await db.schema.dropTable('runner_replicas').ifExists().execute();
  await db.schema.alterTable('runner_requests').dropColumn('trace_context').execute();
  await db.schema.alterTable('runner_requests').dropColumn('claimed_by').execute();
  await db.schema.alterTable('runner_requests').dropColumn('replica_id').execute();
}
