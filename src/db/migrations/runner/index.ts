import type { MigrationSet } from '../../migrate.ts';
import * as m001 from './001_credentials.ts';

export const runnerMigrations: MigrationSet = {
  tableName: 'keyway_runner_migrations',
  migrations: { '001_credentials': m001 },
};
