// The runner's own store: its database (runner-schema) and the data keys that protect it.
import { join } from 'node:path';
import type { KeywayConfig } from '../config/config.ts';
import { openDatabase } from '../db/database.ts';
import type { Database, OpenOptions } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { runnerMigrations } from '../db/migrations/runner/index.ts';
import type { RunnerDB } from '../db/runner-schema.ts';
import { checkKeysAgainstStore, openKeyringSource } from './keys/keyring-source.ts';
import type { KeyringSource } from './keys/keyring-source.ts';

export function runnerDatabaseUrl(config: KeywayConfig): string {
  return config.runnerDatabaseUrl ?? `sqlite:${join(config.dataDir, 'runner.db')}`;
}

export interface RunnerStore {
  database: Database<RunnerDB>;
  keys: KeyringSource;
}

/** Opens and migrates the runner store and checks the data keys against it: a wrong key stops here. */
export async function openRunnerStore(
  config: KeywayConfig,
  url = runnerDatabaseUrl(config),
  options: OpenOptions = {},
): Promise<RunnerStore> {
  const database = await openDatabase<RunnerDB>(url, options);
  try {
    await migrateToLatest(database.db, runnerMigrations);
    const keys = await openKeyringSource({
      dataDir: config.dataDir,
      encryptionKeys: config.encryptionKeys,
      encryptionKeyFile: config.encryptionKeyFile,
    });
    await checkKeysAgainstStore(database.db, keys.current());
    return { database, keys };
  } catch (err) {
    await database.close();
    throw err;
  }
}
