// The emulator's token-signing keys. Entra publishes several keys and signs with one of them, so
// clients must pick by `kid`; this emulator does the same with two RSA keys.
import { createHash, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';

export interface SigningKey {
  /** Entra's `kid` equals `x5t`: the base64url SHA-1 thumbprint (here of the public key). */
  kid: string;
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
}

export function createSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const kid = createHash('sha1').update(der).digest('base64url');
  return { kid, privateKey, publicJwk: publicKey.export({ format: 'jwk' }) };
}

export interface PublishedJwk {
  kty: string;
  use: 'sig';
  kid: string;
  x5t: string;
  n: string;
  e: string;
  issuer?: string;
}

/**
 * JWKS as Entra serves it. Entra adds an `issuer` member to each key (the tenant's v2 issuer, or
 * the `{tenantid}` template under common). Entra also sends `x5c` certificate chains; this
 * emulator does not mint X.509 certificates, so `x5c` is left out.
 */
export function publishKeys(keys: SigningKey[], issuer?: string): { keys: PublishedJwk[] } {
  return {
    keys: keys.map((k) => {
      const jwk: PublishedJwk = { kty: 'RSA', use: 'sig', kid: k.kid, x5t: k.kid, n: String(k.publicJwk.n), e: String(k.publicJwk.e) };
      if (issuer) jwk.issuer = issuer;
      return jwk;
    }),
  };
}
