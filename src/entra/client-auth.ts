// How a runner proves itself to Entra ID as a confidential client without a client secret
// (docs/client-credentials.md): a client assertion (RFC 7523), signed with the runner's own
// certificate key (`private_key_jwt`), or a token another issuer gave the runner (workload identity
// federation). Both go through openid-client as client authentication methods.
import { webcrypto } from 'node:crypto';
import * as client from 'openid-client';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface SigningCertificate {
  /** Non-extractable RSA-PSS (SHA-256) private key. */
  key: CryptoKey;
  /** base64url SHA-256 thumbprint of the certificate's DER. */
  x5tS256: string;
}

/** Imports a PKCS#8 PEM private key for PS256 signatures; the CryptoKey cannot be exported again. */
export async function importSigningKey(pkcs8Pem: string): Promise<CryptoKey> {
  const der = Buffer.from(pkcs8Pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign']) as Promise<CryptoKey>;
}

/**
 * `private_key_jwt` shaped as Microsoft's certificate-credentials reference prescribes
 * (https://learn.microsoft.com/entra/identity-platform/certificate-credentials): header alg PS256,
 * typ JWT and `x5t#S256` (the certificate's SHA-256 thumbprint; no `kid`); claims aud = the token
 * endpoint (openid-client would put the issuer there, which Entra refuses with AADSTS50012),
 * iss = sub = the client id, a fresh jti, nbf, iat and exp a minute later. `current` is asked at
 * every request, so a promoted certificate is used from the next request on.
 */
export function certificateAuth(current: () => Promise<SigningCertificate>): client.ClientAuth {
  return async (as, metadata, body, headers) => {
    const signing = await current();
    const tokenEndpoint = as.token_endpoint;
    if (!tokenEndpoint) throw new Error('the issuer publishes no token endpoint');
    const sign = client.PrivateKeyJwt(signing.key, {
      [client.modifyAssertion]: (header, payload) => {
        delete header.kid;
        header.typ = 'JWT';
        header['x5t#S256'] = signing.x5tS256;
        payload.aud = tokenEndpoint;
      },
    });
    await sign(as, metadata, body, headers);
  };
}

/**
 * Workload identity federation: a token another issuer gave this runner (a Kubernetes service
 * account token, a managed identity's token for api://AzureADTokenExchange), fetched again for
 * every request because its issuer rotates it.
 */
export function federatedAuth(assertion: () => Promise<string>): client.ClientAuth {
  return async (_as, metadata, body) => {
    const token = await assertion();
    body.set('client_id', metadata.client_id);
    body.set('client_assertion_type', JWT_BEARER);
    body.set('client_assertion', token);
  };
}
