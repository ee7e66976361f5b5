import { tableWithId, requiredText, optionalText, cascadeColumns, createIndex, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Environments: a repository cloned at a ref into a workspace on a runner, for one user. The runner
// reports the clone's progress here; nothing in this table is a credential.

export async function up(db: MigrationDb): Promise<void> {
  await tableWithId(db, 'environments')
    .$call(cascadeColumns({ organization_id: 'organizations', user_id: 'users', runner_id: 'runners' }))
    .$call(requiredText('integration_id', 'context_url'))
    // The parsed repository (kind, host, organization, project, repository, webUrl), JSON.
    .addColumn('repository', 'text', (c) => c.notNull())
    // The requested ref ({type, name|sha|pullRequestId}) as JSON; null = the default branch.
    .addColumn('ref', 'text')
    // 'cloning' | 'ready' | 'failed' | 'deleting'
    .addColumn('status', 'text', (c) => c.notNull())
    // {phase, percent, phases} as JSON, from git's own progress output.
    .addColumn('progress', 'text')
    // {code, message} as JSON when failed.
    .$call(optionalText('error', 'workspace_path'))
    // What was checked out: {commit, description} as JSON.
    .addColumn('checkout', 'text')
    .$call(requiredText('created_at', 'updated_at'))
    .execute();
  await createIndex(db, 'environments_user_idx', 'environments', ['organization_id', 'user_id']);
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['environments']);
}
