import { DecryptionError, decryptField, encryptField } from '../../crypto/index.ts';
import type { FieldContext } from '../../crypto/index.ts';
import type { KeyringSource } from './keyring-source.ts';

/** Encrypts and decrypts fields of the runner store, reloading the keyring once on an unknown key id. */
export function createFieldCrypto(source: KeyringSource) {
  return {
    encrypt: (plaintext: string, ctx: FieldContext) => encryptField(source.current(), plaintext, ctx),
    async decrypt(ciphertext: string, ctx: FieldContext): Promise<string> {
      try {
        return decryptField(source.current(), ciphertext, ctx);
      } catch (err) {
        if (!(err instanceof DecryptionError) || err.reason !== 'unknown-key') throw err;
        return decryptField(await source.reload(), ciphertext, ctx);
      }
    },
  };
}

export type FieldCrypto = ReturnType<typeof createFieldCrypto>;
