import type { Kysely } from 'kysely';

// The runner's own store: the only place usable credentials rest, encrypted field by field.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('key_checks')
    .addColumn('key_id', 'text', (c) => c.primaryKey())
    .addColumn('check_value', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('credentials')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // Whose credential: a Keyway user's host authorization, or a project's app connection.
    .addColumn('subject_type', 'text', (c) => c.notNull())
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('integration_id', 'text')
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('method', 'text', (c) => c.notNull())
    // AES-256-GCM ciphertext (src/crypto/at-rest.ts) of the secret material, bound to this row.
    .addColumn('secret', 'text', (c) => c.notNull())
    // Non-secret facts: scopes, token expiry, identity, as JSON.
    .addColumn('metadata', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text')
    .addColumn('last_used_at', 'text')
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.createIndex('credentials_subject_idx').on('credentials').columns(['subject_type', 'subject_id', 'host']).execute();
  await db.schema.createIndex('credentials_integration_idx').on('credentials').column('integration_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('credentials').ifExists().execute();
  await db.schema.dropTable('key_checks').ifExists().execute();
}
