import type { Kysely } from 'kysely';

// Projects (a team's unit of automation inside an organization), their app connections to Azure
// DevOps and their variable group syncs. Nothing here is a credential or a variable's value: the
// connection's secret and the variables' values live on the runner that holds the connection.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('projects')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('projects_org_slug_unique', ['organization_id', 'slug'])
    .execute();

  await db.schema
    .createTable('project_members')
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // 'owner' | 'member'
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('project_members_pk', ['project_id', 'user_id'])
    .execute();
  await db.schema.createIndex('project_members_user_idx').on('project_members').column('user_id').execute();

  await db.schema
    .createTable('app_connections')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    .addColumn('runner_id', 'text', (c) => c.notNull().references('runners.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    // 'oauth' | 'access-token' | 'client-secret'
    .addColumn('method', 'text', (c) => c.notNull())
    // The Azure DevOps organization; null for an access token validated through its profile only.
    .addColumn('ado_organization', 'text')
    .addColumn('tenant_id', 'text')
    .addColumn('client_id', 'text')
    // 'active' | 'pending' (oauth not completed) | 'invalid' (last test failed)
    .addColumn('status', 'text', (c) => c.notNull())
    // Non-secret facts from the last validation (identity, organizations offered, scopes), JSON.
    .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('last_test', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('app_connections_project_name_unique', ['project_id', 'name'])
    .execute();
  await db.schema.createIndex('app_connections_runner_idx').on('app_connections').column('runner_id').execute();

  await db.schema
    .createTable('variable_syncs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('project_id', 'text', (c) => c.notNull().references('projects.id').onDelete('cascade'))
    // Deleting a connection that syncs use is refused in code; the FK keeps the database honest.
    .addColumn('connection_id', 'text', (c) => c.notNull().references('app_connections.id'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('ado_organization', 'text', (c) => c.notNull())
    .addColumn('ado_project', 'text', (c) => c.notNull())
    .addColumn('group_name', 'text', (c) => c.notNull())
    .addColumn('description', 'text')
    // [{name, isSecret}] as JSON: names and flags only, the values stay on the runner.
    .addColumn('variables', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('variables_revision', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('schedule_minutes', 'integer')
    .addColumn('next_run_at', 'text')
    // The run holding the sync (claimed with a conditional UPDATE, so one run at a time across replicas).
    .addColumn('running_run_id', 'text')
    .addColumn('running_since', 'text')
    .addColumn('last_run_id', 'text')
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('variable_syncs_project_name_unique', ['project_id', 'name'])
    .execute();
  await db.schema.createIndex('variable_syncs_next_run_idx').on('variable_syncs').column('next_run_at').execute();
  await db.schema.createIndex('variable_syncs_connection_idx').on('variable_syncs').column('connection_id').execute();

  await db.schema
    .createTable('sync_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('sync_id', 'text', (c) => c.notNull().references('variable_syncs.id').onDelete('cascade'))
    // 'manual' | 'change' | 'schedule'
    .addColumn('trigger', 'text', (c) => c.notNull())
    // 'queued' | 'running' | 'succeeded' | 'failed'
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text')
    .addColumn('finished_at', 'text')
    .addColumn('duration_ms', 'integer')
    .addColumn('created_count', 'integer')
    .addColumn('updated_count', 'integer')
    .addColumn('deleted_count', 'integer')
    .addColumn('unchanged_count', 'integer')
    .addColumn('writes', 'integer')
    .addColumn('requests', 'integer')
    .addColumn('retries', 'integer')
    .addColumn('group_id', 'integer')
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('sync_runs_sync_idx').on('sync_runs').columns(['sync_id', 'created_at']).execute();
  await db.schema.createIndex('sync_runs_status_idx').on('sync_runs').columns(['status', 'created_at']).execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['sync_runs', 'variable_syncs', 'app_connections', 'project_members', 'projects'])
    await db.schema.dropTable(table).ifExists().execute();
}
