import type { MigrationSet } from '../../migrate.ts';
import * as m001 from './001_identity_and_audit.ts';
import * as m002 from './002_runners_and_integrations.ts';
import * as m003 from './003_oauth_states.ts';
import * as m004 from './004_projects_app_connections_syncs.ts';
import * as m005 from './005_environments.ts';
import * as m006 from './006_app_connection_oauth_states.ts';
import * as m007 from './007_front_door.ts';
import * as m008 from './008_revocation_and_drafts.ts';
import * as m009 from './009_sync_targets_and_environment_usage.ts';
import * as m010 from './010_runner_replicas.ts';
import * as m012 from './012_audit_filter_indexes.ts';
import * as m013 from './013_environment_clone_options_and_repository_caches.ts';
import * as m014 from './014_client_credentials.ts';

export const managementMigrations: MigrationSet = {
  tableName: 'keyway_management_migrations',
  migrations: {
    '001_identity_and_audit': m001,
    '002_runners_and_integrations': m002,
    '003_oauth_states': m003,
    '004_projects_app_connections_syncs': m004,
    '005_environments': m005,
    '006_app_connection_oauth_states': m006,
    '007_front_door': m007,
    '008_revocation_and_drafts': m008,
    '009_sync_targets_and_environment_usage': m009,
    '010_runner_replicas': m010,
    '012_audit_filter_indexes': m012,
    '013_environment_clone_options_and_repository_caches': m013,
    '014_client_credentials': m014,
  },
};
