// The emulator's token-signing keys. Entra publishes several keys and signs with one of them, so
// clients must pick by `kid`; this emulator does the same with two RSA keys, each with a self-signed
// X.509 certificate, as Entra publishes (`x5c`, and `kid` = `x5t` = the certificate's SHA-1 thumbprint).
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

export interface SigningKey {
  /** Entra's `kid` equals `x5t`: the base64url SHA-1 thumbprint of the certificate. */
  kid: string;
  privateKey: KeyObject;
  publicJwk: JsonWebKey;
  /** The certificate, DER, base64 (not url-safe), as `x5c` carries it. */
  certificate: string;
}

/**
 * A self-signed certificate for the key, like the ones Entra's JWKS carries (its subject is
 * `CN=accounts.accesscontrol.windows.net`). node-forge writes it: Node can parse certificates but
 * not create them.
 */
function selfSignedCertificate(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  const forgePrivate = forge.pki.privateKeyFromPem(privateKey.export({ type: 'pkcs1', format: 'pem' }).toString());
  const forgePublic = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  const cert = forge.pki.createCertificate();
  cert.publicKey = forgePublic;
  // A positive serial number: the first byte's high bit clear.
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 86_400_000);
  cert.validity.notAfter = new Date(now + 2 * 365 * 86_400_000);
  const name = [{ name: 'commonName', value: 'accounts.accesscontrol.windows.net' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.sign(forgePrivate, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
}

export function createSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = selfSignedCertificate(privateKey, publicKey);
  const kid = createHash('sha1').update(der).digest('base64url');
  return { kid, privateKey, publicJwk: publicKey.export({ format: 'jwk' }), certificate: der.toString('base64') };
}

/** A signing key as the emulator's state file holds it: a KeyObject does not survive serialization. */
export interface SavedSigningKey {
  kid: string;
  privateKeyPem: string;
  publicJwk: JsonWebKey;
  certificate: string;
}

export function saveSigningKey(k: SigningKey): SavedSigningKey {
  return {
    kid: k.kid,
    privateKeyPem: k.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicJwk: k.publicJwk,
    certificate: k.certificate,
  };
}

export function restoreSigningKey(k: SavedSigningKey): SigningKey {
  return { kid: k.kid, privateKey: createPrivateKey(k.privateKeyPem), publicJwk: k.publicJwk, certificate: k.certificate };
}

export interface PublishedJwk {
  kty: string;
  use: 'sig';
  kid: string;
  x5t: string;
  n: string;
  e: string;
  x5c: string[];
  issuer?: string;
}

/**
 * JWKS as Entra serves it: `kty`, `use`, `kid`, `x5t`, `n`, `e`, `x5c` (the certificate chain, here
 * one self-signed certificate) and, per key, `issuer` (the tenant's v2 issuer, or the `{tenantid}`
 * template under common).
 */
export function publishKeys(keys: SigningKey[], issuer?: string): { keys: PublishedJwk[] } {
  return {
    keys: keys.map((k) => {
      const jwk: PublishedJwk = {
        kty: 'RSA',
        use: 'sig',
        kid: k.kid,
        x5t: k.kid,
        n: String(k.publicJwk.n),
        e: String(k.publicJwk.e),
        x5c: [k.certificate],
      };
      if (issuer) jwk.issuer = issuer;
      return jwk;
    }),
  };
}
