import type { MigrationSet } from '../../migrate.ts';
import * as m001 from './001_credentials.ts';
import * as m002 from './002_oauth.ts';
import * as m003 from './003_app_connections_syncs.ts';
import * as m004 from './004_environments.ts';
import * as m005 from './005_app_connection_oauth.ts';
import * as m007 from './007_credential_health_events.ts';
import * as m008 from './008_sync_written_and_environment_usage.ts';
import * as m010 from './010_repository_caches.ts';
import * as m011 from './011_client_certificates.ts';

export const runnerMigrations: MigrationSet = {
  tableName: 'keyway_runner_migrations',
  migrations: {
    '001_credentials': m001,
    '002_oauth': m002,
    '003_app_connections_syncs': m003,
    '004_environments': m004,
    '005_app_connection_oauth': m005,
    '007_credential_health_events': m007,
    '008_sync_written_and_environment_usage': m008,
    '010_repository_caches': m010,
    '011_client_certificates': m011,
  },
};
