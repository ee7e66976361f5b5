// Node-side crypto API. Browser code imports ./sealing.ts directly (this file pulls in node:).

export { DecryptionError, KeyConfigError, type DecryptionFailure } from './errors.ts';
export { keyringFromEnv, parseKeyring, type Keyring } from './keyring.ts';
export { addKey, loadOrCreateKeyFile } from './key-file.ts';
export {
  createKeyCheck,
  decryptField,
  encryptField,
  needsReencryption,
  reencrypt,
  verifyKeyCheck,
  type FieldContext,
  type KeyCheck,
} from './at-rest.ts';
export {
  generateRunnerKeyPair,
  isSealed,
  open,
  publicKeyFingerprint,
  runnerPublicKey,
  seal,
  UnsealError,
  type RunnerKeyPair,
  type UnsealFailure,
} from './sealing.ts';
export { loadOrCreateRunnerKey } from './runner-key-file.ts';
