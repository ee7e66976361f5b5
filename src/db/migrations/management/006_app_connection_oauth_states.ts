import { tableKeyedBy, requiredText, cascadeColumns, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// A consent for an oauth app connection in progress: the state's hash bound to the browser session
// that started it, the connection it is for and where to send the browser back. Single use, 10
// minutes. The state itself, the verifier and the code are never stored here.

export async function up(db: MigrationDb): Promise<void> {
  await tableKeyedBy(db, 'app_connection_oauth_states', 'state_hash')
    .$call(requiredText('session_id', 'user_id', 'organization_id', 'project_id'))
    .$call(cascadeColumns({ connection_id: 'app_connections' }))
    .$call(requiredText('runner_id', 'issuer', 'return_to', 'created_at', 'expires_at'))
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['app_connection_oauth_states']);
}
