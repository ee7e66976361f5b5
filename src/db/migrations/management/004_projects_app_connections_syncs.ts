import { tableWithId, tableWithCompositeKey, requiredText, optionalText, cascadeColumns, createIndex, dropTables } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Projects (a team's unit of automation inside an organization), their app connections to Azure
// DevOps and their variable group syncs. Nothing here is a credential or a variable's value: the
// connection's secret and the variables' values live on the runner that holds the connection.

export async function up(db: MigrationDb): Promise<void> {
  await tableWithId(db, 'projects')
    .$call(cascadeColumns({ organization_id: 'organizations' }))
    .$call(requiredText('name', 'slug'))
    .addColumn('created_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('projects_org_slug_unique', ['organization_id', 'slug'])
    .execute();

  await tableWithCompositeKey(
    db,
    'project_members',
    ['project_id', 'user_id'],
    cascadeColumns({ project_id: 'projects', user_id: 'users' }),
    // 'owner' | 'member'
    requiredText('role', 'created_at'),
  ).execute();
  await createIndex(db, 'project_members_user_idx', 'project_members', 'user_id');

  await tableWithId(db, 'app_connections')
    .$call(cascadeColumns({ organization_id: 'organizations', project_id: 'projects', runner_id: 'runners' }))
    .addColumn('name', 'text', (c) => c.notNull())
    // 'oauth' | 'access-token' | 'client-secret'
    .addColumn('method', 'text', (c) => c.notNull())
    // The Azure DevOps organization; null for an access token validated through its profile only.
    .$call(optionalText('ado_organization', 'tenant_id', 'client_id'))
    // 'active' | 'pending' (oauth not completed) | 'invalid' (last test failed)
    .addColumn('status', 'text', (c) => c.notNull())
    // Non-secret facts from the last validation (identity, organizations offered, scopes), JSON.
    .addColumn('details', 'text', (c) => c.notNull().defaultTo('{}'))
    .$call(optionalText('last_test', 'created_by'))
    .$call(requiredText('created_at', 'updated_at'))
    .addUniqueConstraint('app_connections_project_name_unique', ['project_id', 'name'])
    .execute();
  await createIndex(db, 'app_connections_runner_idx', 'app_connections', 'runner_id');

  await tableWithId(db, 'variable_syncs')
    .$call(cascadeColumns({ organization_id: 'organizations', project_id: 'projects' }))
    // Deleting a connection that syncs use is refused in code; the FK keeps the database honest.
    .addColumn('connection_id', 'text', (c) => c.notNull().references('app_connections.id'))
    .$call(requiredText('name', 'ado_organization', 'ado_project', 'group_name'))
    .addColumn('description', 'text')
    // [{name, isSecret}] as JSON: names and flags only, the values stay on the runner.
    .addColumn('variables', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('variables_revision', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('schedule_minutes', 'integer')
    .addColumn('next_run_at', 'text')
    // The run holding the sync (claimed with a conditional UPDATE, so one run at a time across replicas).
    .$call(optionalText('running_run_id', 'running_since', 'last_run_id', 'created_by'))
    .$call(requiredText('created_at', 'updated_at'))
    .addUniqueConstraint('variable_syncs_project_name_unique', ['project_id', 'name'])
    .execute();
  await createIndex(db, 'variable_syncs_next_run_idx', 'variable_syncs', 'next_run_at');
  await createIndex(db, 'variable_syncs_connection_idx', 'variable_syncs', 'connection_id');

  await tableWithId(db, 'sync_runs')
    .$call(cascadeColumns({ sync_id: 'variable_syncs' }))
    // 'manual' | 'change' | 'schedule'
    .addColumn('trigger', 'text', (c) => c.notNull())
    // 'queued' | 'running' | 'succeeded' | 'failed'
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .$call(optionalText('started_at', 'finished_at'))
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
  await createIndex(db, 'sync_runs_sync_idx', 'sync_runs', ['sync_id', 'created_at']);
  await createIndex(db, 'sync_runs_status_idx', 'sync_runs', ['status', 'created_at']);
}

export async function down(db: MigrationDb): Promise<void> {
  await dropTables(db, ['sync_runs', 'variable_syncs', 'app_connections', 'project_members', 'projects']);
}
