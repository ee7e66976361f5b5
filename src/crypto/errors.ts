// Errors of the Node-side crypto API. Messages name key ids, key file paths, fingerprints, tables,
// columns and row ids, never plaintext, ciphertext contents or key material.

export type DecryptionFailure = 'unknown-key' | 'tampered-or-wrong-context' | 'malformed';

/** A stored value could not be decrypted. `reason` says why; the message says what to do. */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
  readonly reason: DecryptionFailure;
  /** The key id the value names, when it could be read. */
  readonly keyId: string | undefined;

  constructor(reason: DecryptionFailure, message: string, keyId?: string) {
    super(message);
    this.reason = reason;
    this.keyId = keyId;
  }
}

/**
 * The key configuration is unusable: a key file or KEYWAY_ENCRYPTION_KEYS value that does not
 * parse, a key file other users can read, a runner key file that is damaged, or keys that do not
 * match the ones a database was written with. Start-up should print the message and stop.
 */
export class KeyConfigError extends Error {
  override readonly name = 'KeyConfigError';
}
