// The data key file on disk (format: see keyring.ts; permissions and atomicity: see secret-file.ts).

import { KeyConfigError } from './errors.ts';
import { formatKeyFile, newKeyring, parseKeyring, withNewPrimaryKey, type Keyring } from './keyring.ts';
import { readSecretFile, writeSecretFile } from './secret-file.ts';

const WHAT = 'key file';

/**
 * Loads the key file at `path`, or creates it (mode 0600, directory created as needed) with one
 * fresh key "k1" as primary. `created` tells the caller to remind the operator to back it up.
 * Refuses (KeyConfigError) a file that group or others can access.
 */
export async function loadOrCreateKeyFile(path: string): Promise<{ keyring: Keyring; created: boolean }> {
  const source = `${WHAT} ${path}`;
  const existing = await readSecretFile(path, WHAT);
  if (existing !== undefined) return { keyring: parseKeyring(existing, source), created: false };
  const keyring = newKeyring(source);
  if (await writeSecretFile(path, formatKeyFile(keyring), 'create')) return { keyring, created: true };
  // Another process created it between our read and our write: use theirs.
  const raced = await readSecretFile(path, WHAT);
  if (raced === undefined) throw new KeyConfigError(`${source} vanished while it was being created; start again.`);
  return { keyring: parseKeyring(raced, source), created: false };
}

/**
 * Adds a fresh key to the existing key file at `path` and makes it the primary (id k<N+1>).
 * Rewrites the file atomically in the standard layout (mode 0600); comments are replaced by the
 * standard header. Not safe against two concurrent addKey calls on the same file.
 */
export async function addKey(path: string): Promise<Keyring> {
  const source = `${WHAT} ${path}`;
  const existing = await readSecretFile(path, WHAT);
  if (existing === undefined) throw new KeyConfigError(`${source} does not exist; there is no keyring to add a key to.`);
  const keyring = withNewPrimaryKey(parseKeyring(existing, source));
  await writeSecretFile(path, formatKeyFile(keyring), 'replace');
  return keyring;
}
