// Client secrets and PATs are sealed here, in the browser, to the runner's public key, so only that
// runner can read them (HPKE, src/crypto/sealing.ts). The module is loaded on first use to keep the
// main bundle small. The associated data comes from the contract's one list (src/control/sealing-context.ts).
import { toBase64url } from '../../src/crypto/base64url.ts';
import { sealingContext } from '../../src/control/sealing-context.ts';

export async function sealForRunner(runnerPublicKey: string, plaintext: string, aad: string): Promise<string> {
  if (!window.isSecureContext || !globalThis.crypto?.subtle) {
    throw new Error('Sealing needs WebCrypto, which browsers only offer over HTTPS or on localhost. Open Keyway over HTTPS.');
  }
  const { seal } = await import('../../src/crypto/sealing.ts');
  return seal(runnerPublicKey, plaintext, aad);
}

/** Associated data binding a sealed OAuth client secret to its integration (checked by the runner). */
export const clientSecretAad = sealingContext.integrationClientSecret;

/** `int_` + 16 base64url characters (96 random bits). */
export function newIntegrationId(): string {
  return `int_${toBase64url(crypto.getRandomValues(new Uint8Array(12)))}`;
}

/** Associated data binding a user's sealed PAT to the integration and the user (checked by the runner). */
export const patAad = sealingContext.userPat;

/** Associated data of an app connection's PAT or client secret. */
export const appConnectionSecretAad = sealingContext.appConnectionSecret;

/** Associated data of a sync's variable values (one sealed JSON object `{ name: value }`). */
export const syncVariablesAad = sealingContext.syncVariables;

/** `conn_` + 16 base64url characters: app connections sealed in the browser need their id up front. */
export function newConnectionId(): string {
  return `conn_${toBase64url(crypto.getRandomValues(new Uint8Array(12)))}`;
}
