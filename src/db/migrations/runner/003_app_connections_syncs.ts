import type { Kysely } from 'kysely';

// Variable group syncs, on the runner: the variable set's values (encrypted field by field), what
// the sync knows about its Azure DevOps group (which variables it created, digests of the secrets
// it wrote), and runner-held keys such as the one those digests are computed with.
// App connection credentials themselves are ordinary rows of `credentials` (subject app-connection).

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('sync_variables')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('sync_id', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    // Lower-cased name: Azure DevOps variable names are case-insensitive.
    .addColumn('name_key', 'text', (c) => c.notNull())
    .addColumn('is_secret', 'integer', (c) => c.notNull())
    // AES-256-GCM ciphertext (src/crypto/at-rest.ts), bound to this row; listed in ENCRYPTED_COLUMNS.
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('sync_variables_sync_name_unique', ['sync_id', 'name_key'])
    .execute();

  await db.schema
    .createTable('sync_states')
    .addColumn('sync_id', 'text', (c) => c.primaryKey())
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

  await db.schema
    .createTable('runner_secrets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    // AES-256-GCM ciphertext, bound to this row; listed in ENCRYPTED_COLUMNS.
    .addColumn('value', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['runner_secrets', 'sync_states', 'sync_variables']) await db.schema.dropTable(table).ifExists().execute();
}
