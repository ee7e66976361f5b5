import { addColumns, dropColumns } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Credentials without a client secret (issue 19, docs/client-credentials.md).
// - scm_integrations.oauth_credential: how the runner authenticates as the integration's Entra app,
//   JSON {"type":"client-secret"|"certificate"|"workload-identity"|"managed-identity",
//   "managedIdentityClientId"?}; null means a client secret (every row older than this column).
// - credential_state (integrations and app connections): the runner's last description of such a
//   credential, public values only (the certificate to upload with its thumbprints and validity,
//   the federated credential's issuer/subject/audience, the managed identity's ids). The private
//   key stays on the runner.

export async function up(db: MigrationDb): Promise<void> {
  await addColumns(db, 'scm_integrations', { oauth_credential: 'text', credential_state: 'text' });
  await addColumns(db, 'app_connections', { credential_state: 'text' });
}

export async function down(db: MigrationDb): Promise<void> {
  await dropColumns(db, 'app_connections', ['credential_state']);
  await dropColumns(db, 'scm_integrations', ['credential_state', 'oauth_credential']);
}
