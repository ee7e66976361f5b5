import { addColumns, dropColumns } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// oauth app connections go through the same consent as user authorizations. A pending sign-in
// started for an app connection names it here; for those rows `integration_id` is empty (there is
// no integration: the instance-wide Entra app is used) and `user_id` is the user who connects.

export async function up(db: MigrationDb): Promise<void> {
  await addColumns(db, 'oauth_pending', { app_connection_id: 'text' });
}

export async function down(db: MigrationDb): Promise<void> {
  await dropColumns(db, 'oauth_pending', ['app_connection_id']);
}
