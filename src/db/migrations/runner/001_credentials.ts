import { tableKeyedBy, tableWithId, requiredText, optionalText, createIndex, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// The runner's own store: the only place usable credentials rest, encrypted field by field.

export async function up(db: MigrationDb): Promise<void> {
  await tableKeyedBy(db, 'key_checks', 'key_id')
    .addColumn('check_value', 'text', (c) => c.notNull())
    .execute();

  await tableWithId(db, 'credentials')
    // Whose credential: a Keyway user's host authorization, or a project's app connection.
    .$call(requiredText('subject_type', 'subject_id'))
    .addColumn('integration_id', 'text')
    .$call(requiredText('host', 'method'))
    // AES-256-GCM ciphertext (src/crypto/at-rest.ts) of the secret material, bound to this row.
    .addColumn('secret', 'text', (c) => c.notNull())
    // Non-secret facts: scopes, token expiry, identity, as JSON.
    .$call(requiredText('metadata', 'status', 'created_at', 'updated_at'))
    .$call(optionalText('expires_at', 'last_used_at'))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await createIndex(db, 'credentials_subject_idx', 'credentials', ['subject_type', 'subject_id', 'host']);
  await createIndex(db, 'credentials_integration_idx', 'credentials', 'integration_id');
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['credentials', 'key_checks']);
}
