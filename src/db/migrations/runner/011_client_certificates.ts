import type { Kysely } from 'kysely';

// Certificates the runner makes for itself to authenticate to Entra ID as an app (an integration's
// Entra app, a service-principal app connection) without a client secret (issue 19,
// docs/client-credentials.md). Each owner has at most one `active` certificate (the one the runner
// signs client assertions with) and one `next` (made ahead of expiry, shown for upload, promoted
// once Entra accepts it). `private_key` is at-rest ciphertext (listed in ENCRYPTED_COLUMNS); the
// certificate and its thumbprints are public.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('client_certificates')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('owner_type', 'text', (c) => c.notNull())
    .addColumn('owner_id', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('certificate', 'text', (c) => c.notNull())
    .addColumn('private_key', 'text', (c) => c.notNull())
    .addColumn('thumbprint_sha1', 'text', (c) => c.notNull())
    .addColumn('thumbprint_sha256', 'text', (c) => c.notNull())
    .addColumn('not_before', 'text', (c) => c.notNull())
    .addColumn('not_after', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('accepted_at', 'text')
    .execute();
  // One active and one next per owner: replicas that race to make one find the other's.
  await db.schema
    .createIndex('client_certificates_owner_status')
    .on('client_certificates')
    .columns(['owner_type', 'owner_id', 'status'])
    .unique()
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('client_certificates').ifExists().execute();
}
