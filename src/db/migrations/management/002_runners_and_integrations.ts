import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('runners')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('local', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('exchange_token_hash', 'text', (c) => c.unique())
    .addColumn('exchange_expires_at', 'text')
    .addColumn('token_hash', 'text', (c) => c.unique())
    .addColumn('public_key', 'text')
    .addColumn('public_key_fingerprint', 'text')
    .addColumn('version', 'text')
    .addColumn('last_seen_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('revoked_at', 'text')
    .execute();
  await db.schema.createIndex('runners_org_idx').on('runners').column('organization_id').execute();

  // The control channel's queue: requests for a runner and their answers. Rows are short-lived and
  // deleted once answered or past their deadline; payloads never hold a usable credential.
  await db.schema
    .createTable('runner_requests')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('runner_id', 'text', (c) => c.notNull().references('runners.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('response', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('deadline_at', 'text', (c) => c.notNull())
    .addColumn('dispatched_at', 'text')
    .addColumn('answered_at', 'text')
    .execute();
  await db.schema
    .createIndex('runner_requests_runner_status_idx')
    .on('runner_requests')
    .columns(['runner_id', 'status', 'created_at'])
    .execute();

  await db.schema
    .createTable('scm_integrations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('runner_id', 'text', (c) => c.notNull().references('runners.id').onDelete('cascade'))
    // Free text, validated in code: 'azure-devops' now, other providers later without a schema change.
    .addColumn('scm_id', 'text', (c) => c.notNull())
    .addColumn('host', 'text', (c) => c.notNull())
    .addColumn('virtual_directory', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('oauth_client_id', 'text')
    // HPKE-sealed to the runner's key (src/crypto/sealing.ts); the management plane cannot open it.
    .addColumn('oauth_client_secret_sealed', 'text')
    .addColumn('oauth_issuer_url', 'text')
    .addColumn('pat_enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('last_test', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('scm_integrations_runner_idx').on('scm_integrations').column('runner_id').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['scm_integrations', 'runner_requests', 'runners']) await db.schema.dropTable(table).ifExists().execute();
}
