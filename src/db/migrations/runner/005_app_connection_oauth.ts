import type { Kysely } from 'kysely';

// oauth app connections go through the same consent as user authorizations. A pending sign-in
// started for an app connection names it here; for those rows `integration_id` is empty (there is
// no integration: the instance-wide Entra app is used) and `user_id` is the user who connects.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_pending').addColumn('app_connection_id', 'text').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('oauth_pending').dropColumn('app_connection_id').execute();
}
