import type { Kysely } from 'kysely';

// What a credential last did, beside what it is: `failing_since` / `failure_reason` record the last
// real outcome (a refresh that failed, a token Azure DevOps refused), `forced_refresh_at` when a
// token refused before its recorded expiry was last refreshed (replicas read it, so one early
// refresh happens per rejection). None of them bumps the row version: the hot path's cache of
// opened secrets stays valid when only the health changes.
//
// `runner_events` is the runner's outbox towards the management plane's audit log (delivered in
// batches, deleted once accepted; ids make delivery idempotent). `runner_state` holds single facts
// shared by replicas, such as "the purge after revocation is done".

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('credentials').addColumn('failing_since', 'text').execute();
  await db.schema.alterTable('credentials').addColumn('failure_reason', 'text').execute();
  await db.schema.alterTable('credentials').addColumn('forced_refresh_at', 'text').execute();

  await db.schema
    .createTable('runner_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text')
    .addColumn('integration_id', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull())
    // Non-secret facts only (counts, flags, reasons written by Keyway), as JSON.
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('claimed_by', 'text')
    .addColumn('claimed_until', 'text')
    .execute();
  await db.schema.createIndex('runner_events_created_idx').on('runner_events').column('created_at').execute();

  await db.schema
    .createTable('runner_state')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('runner_state').ifExists().execute();
  await db.schema.dropTable('runner_events').ifExists().execute();
  await db.schema.alterTable('credentials').dropColumn('forced_refresh_at').execute();
  await db.schema.alterTable('credentials').dropColumn('failure_reason').execute();
  await db.schema.alterTable('credentials').dropColumn('failing_since').execute();
}
