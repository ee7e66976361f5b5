import type { Kysely } from 'kysely';

// Environments: a repository cloned at a ref into a workspace on a runner, for one user. The runner
// reports the clone's progress here; nothing in this table is a credential.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('environments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('runner_id', 'text', (c) => c.notNull().references('runners.id').onDelete('cascade'))
    .addColumn('integration_id', 'text', (c) => c.notNull())
    .addColumn('context_url', 'text', (c) => c.notNull())
    // The parsed repository (kind, host, organization, project, repository, webUrl), JSON.
    .addColumn('repository', 'text', (c) => c.notNull())
    // The requested ref ({type, name|sha|pullRequestId}) as JSON; null = the default branch.
    .addColumn('ref', 'text')
    // 'cloning' | 'ready' | 'failed' | 'deleting'
    .addColumn('status', 'text', (c) => c.notNull())
    // {phase, percent, phases} as JSON, from git's own progress output.
    .addColumn('progress', 'text')
    // {code, message} as JSON when failed.
    .addColumn('error', 'text')
    .addColumn('workspace_path', 'text')
    // What was checked out: {commit, description} as JSON.
    .addColumn('checkout', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('environments_user_idx').on('environments').columns(['organization_id', 'user_id']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('environments').ifExists().execute();
}
