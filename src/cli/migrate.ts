import { loadConfig } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { managementMigrations } from '../db/migrations/management/index.ts';
import { runnerMigrations } from '../db/migrations/runner/index.ts';
import { ensureDataDir, managementDatabaseUrl } from './planes.ts';
import { runnerDatabaseUrl } from '../runner/store.ts';

/** `keyway migrate`: applies pending migrations and prints what it applied. */
export async function runMigrate(options: { runner?: boolean; dataDir?: string }): Promise<void> {
  const config = loadConfig(process.env, { dataDir: options.dataDir });
  ensureDataDir(config.dataDir);
  const url = options.runner ? runnerDatabaseUrl(config) : managementDatabaseUrl(config);
  const database = await openDatabase(url);
  try {
    const applied = await migrateToLatest(database.db, options.runner ? runnerMigrations : managementMigrations);
    process.stdout.write(applied.length ? `applied to ${database.label}: ${applied.join(', ')}\n` : `${database.label} is up to date\n`);
  } finally {
    await database.close();
  }
}
