import { ConfigError, loadConfig } from '../config/config.ts';
import { addKey } from '../crypto/index.ts';
import { checkKeysAgainstStore } from '../runner/keys/keyring-source.ts';
import { reencryptAll } from '../runner/keys/rotation.ts';
import { ensureDataDir } from './planes.ts';
import { openRunnerStore } from '../runner/store.ts';

/**
 * `keyway keys rotate`: adds a key to the key file as the new primary, records its check, then
 * re-encrypts every stored value in batches. A running runner reloads the key file when it meets
 * the new key id, so it keeps serving throughout.
 */
export async function runKeysRotate(options: { dataDir?: string; batchSize: number }): Promise<void> {
  const config = loadConfig(process.env, { dataDir: options.dataDir });
  if (config.encryptionKeys) {
    throw new ConfigError(
      'KEYWAY_ENCRYPTION_KEYS',
      'keys come from the environment, so keyway cannot add one: add a new key line and primary=<its id> to the variable, restart, then run keyway keys rotate with the same environment to re-encrypt',
    );
  }
  ensureDataDir(config.dataDir);
  const store = await openRunnerStore(config);
  try {
    let keyring = store.keys.current();
    if (store.keys.file) {
      keyring = await addKey(store.keys.file);
      await checkKeysAgainstStore(store.database.db, keyring);
      process.stdout.write(`added key ${keyring.primaryId} to ${store.keys.file}; it is now the primary key\n`);
    }
    const results = await reencryptAll(store.database.db, keyring, {
      batchSize: options.batchSize,
      onBatch: (p) => process.stdout.write(`  ${p.table}.${p.column}: ${p.reencrypted} re-encrypted\n`),
    });
    const total = results.reduce((n, r) => n + r.reencrypted, 0);
    process.stdout.write(
      `re-encrypted ${total} value(s) under key ${keyring.primaryId}; keep the old keys until backups made before now have expired\n`,
    );
  } finally {
    await store.database.close();
  }
}
