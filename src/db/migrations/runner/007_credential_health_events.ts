import { tableWithId, keyValueTable, requiredText, optionalText, addColumns, createIndex, dropTables, dropColumns } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// What a credential last did, beside what it is: `failing_since` / `failure_reason` record the last
// real outcome (a refresh that failed, a token Azure DevOps refused), `forced_refresh_at` when a
// token refused before its recorded expiry was last refreshed (replicas read it, so one early
// refresh happens per rejection). None of them bumps the row version: the hot path's cache of
// opened secrets stays valid when only the health changes.
//
// `runner_events` is the runner's outbox towards the management plane's audit log (delivered in
// batches, deleted once accepted; ids make delivery idempotent). `runner_state` holds single facts
// shared by replicas, such as "the purge after revocation is done".

export async function up(db: MigrationDb): Promise<void> {
  await addColumns(db, 'credentials', {
    failing_since: 'text',
    failure_reason: 'text',
    forced_refresh_at: 'text',
  });

  await tableWithId(db, 'runner_events')
    .addColumn('action', 'text', (c) => c.notNull())
    .$call(optionalText('user_id', 'integration_id'))
    .addColumn('outcome', 'text', (c) => c.notNull())
    // Non-secret facts only (counts, flags, reasons written by Keyway), as JSON.
    .$call(requiredText('details', 'created_at'))
    .$call(optionalText('claimed_by', 'claimed_until'))
    .execute();
  await createIndex(db, 'runner_events_created_idx', 'runner_events', 'created_at');

  await keyValueTable(db, 'runner_state').execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['runner_state', 'runner_events']);
  await dropColumns(db, 'credentials', ['forced_refresh_at', 'failure_reason', 'failing_since']);
}
