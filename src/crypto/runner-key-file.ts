// The runner's sealing key pair on disk (Node side). Permissions and atomicity: see secret-file.ts.
//
// File format (JSON, mode 0600):
//
//   {
//     "type": "keyway-runner-key",
//     "version": 1,
//     "suite": "DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM",
//     "publicKey": "<base64url of the raw 32-byte X25519 public key>",
//     "privateKey": "<base64url of the raw 32-byte X25519 private key>"
//   }
//
// The public key is stored for people reading the file; on load it must match the one derived
// from the private key.

import { KeyConfigError } from './errors.ts';
import { readSecretFile, writeSecretFile } from './secret-file.ts';
import { generateRunnerKeyPair, runnerPublicKey, type RunnerKeyPair } from './sealing.ts';

const WHAT = 'runner key file';
const TYPE = 'keyway-runner-key';
const SUITE = 'DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM';

/**
 * Loads the runner key pair from `path`, or creates one there (mode 0600, directory created as
 * needed). `created` means the broker has not seen this public key yet. Refuses (KeyConfigError) a
 * file that group or others can access, or one that is damaged.
 */
export async function loadOrCreateRunnerKey(path: string): Promise<{ keyPair: RunnerKeyPair; created: boolean }> {
  const existing = await readSecretFile(path, WHAT);
  if (existing !== undefined) return { keyPair: await parseRunnerKeyFile(existing, path), created: false };
  const keyPair = await generateRunnerKeyPair();
  const text = JSON.stringify({ type: TYPE, version: 1, suite: SUITE, ...keyPair }, null, 2) + '\n';
  if (await writeSecretFile(path, text, 'create')) return { keyPair, created: true };
  // Another process created it between our read and our write: use theirs.
  const raced = await readSecretFile(path, WHAT);
  if (raced === undefined) throw new KeyConfigError(`${WHAT} ${path} vanished while it was being created; start again.`);
  return { keyPair: await parseRunnerKeyFile(raced, path), created: false };
}

async function parseRunnerKeyFile(text: string, path: string): Promise<RunnerKeyPair> {
  const damaged = (what: string): never => {
    throw new KeyConfigError(
      `${WHAT} ${path} ${what}. Restore it from a backup, or delete it to create a new key pair ` +
        '(the runner then has to be registered with the broker again).',
    );
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text, which holds the private key.
    return damaged('is not valid JSON');
  }
  if (typeof data !== 'object' || data === null) return damaged('is not a JSON object');
  const { type, version, publicKey, privateKey } = data as Record<string, unknown>;
  if (type !== TYPE) return damaged(`does not have "type": "${TYPE}"`);
  if (version !== 1) return damaged('has an unsupported "version" (this Keyway reads version 1)');
  if (typeof privateKey !== 'string' || typeof publicKey !== 'string') return damaged('lacks "publicKey" or "privateKey"');
  let derived: string;
  try {
    derived = await runnerPublicKey(privateKey);
  } catch {
    return damaged('has a "privateKey" that is not base64url of 32 raw X25519 bytes');
  }
  if (derived !== publicKey) return damaged('has a "publicKey" that does not belong to its "privateKey"');
  return { publicKey, privateKey };
}
