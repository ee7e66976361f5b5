import { tableWithId, requiredText, optionalText, cascadeColumns, createIndex, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

export async function up(db: MigrationDb): Promise<void> {
  await tableWithId(db, 'runners')
    .$call(cascadeColumns({ organization_id: 'organizations' }))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('local', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('exchange_token_hash', 'text', (c) => c.unique())
    .addColumn('exchange_expires_at', 'text')
    .addColumn('token_hash', 'text', (c) => c.unique())
    .$call(optionalText('public_key', 'public_key_fingerprint', 'version', 'last_seen_at'))
    .addColumn('created_at', 'text', (c) => c.notNull())
    .$call(optionalText('created_by', 'revoked_at'))
    .execute();
  await createIndex(db, 'runners_org_idx', 'runners', 'organization_id');

  // The control channel's queue: requests for a runner and their answers. Rows are short-lived and
  // deleted once answered or past their deadline; payloads never hold a usable credential.
  await tableWithId(db, 'runner_requests')
    .$call(cascadeColumns({ runner_id: 'runners' }))
    .$call(requiredText('kind', 'payload', 'status'))
    .addColumn('response', 'text')
    .$call(requiredText('created_at', 'deadline_at'))
    .$call(optionalText('dispatched_at', 'answered_at'))
    .execute();
  await createIndex(db, 'runner_requests_runner_status_idx', 'runner_requests', ['runner_id', 'status', 'created_at']);

  await tableWithId(db, 'scm_integrations')
    .$call(cascadeColumns({ organization_id: 'organizations', runner_id: 'runners' }))
    // Free text, validated in code: 'azure-devops' now, other providers later without a schema change.
    .$call(requiredText('scm_id', 'host'))
    .addColumn('virtual_directory', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('oauth_client_id', 'text')
    // HPKE-sealed to the runner's key (src/crypto/sealing.ts); the management plane cannot open it.
    .$call(optionalText('oauth_client_secret_sealed', 'oauth_issuer_url'))
    .addColumn('pat_enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('settings', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('last_test', 'text')
    .$call(requiredText('created_at', 'updated_at'))
    .execute();
  await createIndex(db, 'scm_integrations_runner_idx', 'scm_integrations', 'runner_id');
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['scm_integrations', 'runner_requests', 'runners']);
}
