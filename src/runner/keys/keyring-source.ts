import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { keyringFromEnv, loadOrCreateKeyFile, verifyKeyCheck } from '../../crypto/index.ts';
import type { Keyring } from '../../crypto/index.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';

/**
 * Where a runner's data keys come from, reloadable: `keyway keys rotate` adds a key to the file
 * while the runner serves, and the runner picks it up when it first meets a ciphertext under a key
 * it has not loaded (see decryptWithReload in ./field-crypto.ts).
 */
export interface KeyringSource {
  current(): Keyring;
  reload(): Promise<Keyring>;
  /** The key file path, when keys come from a file (rotation needs one). */
  file?: string;
  created: boolean;
}

export interface KeySettings {
  dataDir: string;
  encryptionKeys?: string;
  encryptionKeyFile?: string;
}

export async function openKeyringSource(settings: KeySettings): Promise<KeyringSource> {
  if (settings.encryptionKeys) {
    const keyring = keyringFromEnv(settings.encryptionKeys);
    return { current: () => keyring, reload: async () => keyring, created: false };
  }
  const file = settings.encryptionKeyFile ?? join(settings.dataDir, 'encryption-keys');
  const first = await loadOrCreateKeyFile(file);
  let keyring = first.keyring;
  return {
    file,
    created: first.created,
    current: () => keyring,
    async reload() {
      keyring = (await loadOrCreateKeyFile(file)).keyring;
      return keyring;
    },
  };
}

/**
 * Start-up check: a wrong key stops the process with a clear KeyConfigError instead of reading
 * garbage later. Records checks for keys new to this database.
 */
export async function checkKeysAgainstStore(db: Kysely<RunnerDB>, keyring: Keyring): Promise<void> {
  const rows = await db.selectFrom('key_checks').selectAll().execute();
  const stored = Object.fromEntries(rows.map((r) => [r.key_id, r.check_value]));
  const { check, added } = verifyKeyCheck(keyring, stored);
  for (const id of added) {
    const value = check[id];
    if (value === undefined) continue;
    await db
      .insertInto('key_checks')
      .values({ key_id: id, check_value: value })
      .onConflict((oc) => oc.column('key_id').doNothing())
      .execute();
  }
}
