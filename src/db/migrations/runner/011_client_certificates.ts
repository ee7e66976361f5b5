import { tableWithId, requiredText, createIndex, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Certificates the runner makes for itself to authenticate to Entra ID as an app (an integration's
// Entra app, a service-principal app connection) without a client secret (issue 19,
// docs/client-credentials.md). Each owner has at most one `active` certificate (the one the runner
// signs client assertions with) and one `next` (made ahead of expiry, shown for upload, promoted
// once Entra accepts it). `private_key` is at-rest ciphertext (listed in ENCRYPTED_COLUMNS); the
// certificate and its thumbprints are public.

export async function up(db: MigrationDb): Promise<void> {
  await tableWithId(db, 'client_certificates')
    .$call(requiredText('owner_type', 'owner_id', 'status', 'certificate', 'private_key'))
    .$call(requiredText('thumbprint_sha1', 'thumbprint_sha256', 'not_before', 'not_after', 'created_at'))
    .addColumn('accepted_at', 'text')
    .execute();
  // One active and one next per owner: replicas that race to make one find the other's.
  await createIndex(db, 'client_certificates_owner_status', 'client_certificates', ['owner_type', 'owner_id', 'status'], { unique: true });
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['client_certificates']);
}
