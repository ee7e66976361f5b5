import { tableKeyedBy, requiredText, addColumns, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

export async function up(db: MigrationDb): Promise<void> {
  // The runner's half of an OAuth flow in progress: the PKCE verifier and nonce never leave it.
  await tableKeyedBy(db, 'oauth_pending', 'state_hash')
    .$call(
      requiredText('user_id', 'integration_id', 'issuer', 'client_id', 'redirect_uri', 'verifier', 'nonce', 'created_at', 'expires_at'),
    )
    .execute();

  // A refresh lease: one runner replica refreshes a token while the others wait for its result.
  await addColumns(db, 'credentials', { lease_owner: 'text', lease_until: 'text' });
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['oauth_pending']);
}
