import { tableKeyedBy, tableWithId, requiredText, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Variable group syncs, on the runner: the variable set's values (encrypted field by field), what
// the sync knows about its Azure DevOps group (which variables it created, digests of the secrets
// it wrote), and runner-held keys such as the one those digests are computed with.
// App connection credentials themselves are ordinary rows of `credentials` (subject app-connection).

export async function up(db: MigrationDb): Promise<void> {
  await tableWithId(db, 'sync_variables')
    .$call(requiredText('sync_id', 'name'))
    // Lower-cased name: Azure DevOps variable names are case-insensitive.
    .addColumn('name_key', 'text', (c) => c.notNull())
    .addColumn('is_secret', 'integer', (c) => c.notNull())
    // AES-256-GCM ciphertext (src/crypto/at-rest.ts), bound to this row; listed in ENCRYPTED_COLUMNS.
    .$call(requiredText('value', 'updated_at'))
    .addUniqueConstraint('sync_variables_sync_name_unique', ['sync_id', 'name_key'])
    .execute();

  await tableKeyedBy(db, 'sync_states', 'sync_id')
    // Organization, project and group name the state belongs to, as JSON: a new target starts afresh.
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('project_id', 'text')
    .addColumn('group_id', 'integer')
    // Lower-cased names of the variables this sync created in the group (the only ones it may delete).
    .addColumn('owned', 'text', (c) => c.notNull().defaultTo('[]'))
    // name_key → HMAC-SHA256 of the secret value last written (Azure DevOps never returns secrets).
    .addColumn('digests', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await tableWithId(db, 'runner_secrets')
    // AES-256-GCM ciphertext, bound to this row; listed in ENCRYPTED_COLUMNS.
    .$call(requiredText('value', 'created_at'))
    .execute();
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['runner_secrets', 'sync_states', 'sync_variables']);
}
