import { tableKeyedBy, requiredText, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// OAuth "Connect" flows in progress. The state is stored as a digest, bound to the browser session
// that started the flow, to the integration whose callback path must receive it, and to the issuer
// the request went to (RFC 9700 §4.4 mix-up defence). Rows are single use and expire in minutes.

export async function up(db: MigrationDb): Promise<void> {
  await tableKeyedBy(db, 'oauth_states', 'state_hash')
    .$call(
      requiredText(
        'session_id',
        'user_id',
        'organization_id',
        'runner_id',
        'integration_id',
        'issuer',
        'return_to',
        'display',
        'created_at',
        'expires_at',
      ),
    )
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['oauth_states']);
}
