// A small OpenID Connect issuer standing in for a Kubernetes cluster's service-account issuer (the
// one AKS workload identity publishes): discovery and JWKS only, and projected service-account
// tokens minted by the test — `iss` the issuer URL, `sub` system:serviceaccount:{ns}:{name}, `aud`
// api://AzureADTokenExchange, an hour of life. The test writes them where AZURE_FEDERATED_TOKEN_FILE
// points, as the kubelet does.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import Fastify from 'fastify';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import type { CryptoKey } from 'jose';

export interface WorkloadIssuer {
  issuer: string;
  /** A service-account token; `overrides` change claims (another audience, an expired token). */
  token(options?: {
    namespace?: string;
    serviceAccount?: string;
    audience?: string;
    lifetimeSeconds?: number;
    issuedSecondsAgo?: number;
    signWithStrangerKey?: boolean;
  }): Promise<string>;
  /** Writes a fresh token to `path` (what the kubelet does before the old one expires). */
  writeToken(path: string, options?: Parameters<WorkloadIssuer['token']>[0]): Promise<string>;
  subject(namespace?: string, serviceAccount?: string): string;
  discoveryRequests(): number;
  close(): Promise<void>;
}

export async function startWorkloadIssuer(): Promise<WorkloadIssuer> {
  const app = Fastify();
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  const kid = randomBytes(8).toString('hex');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  let issuer = '';
  let discoveries = 0;
  app.get('/.well-known/openid-configuration', async () => {
    discoveries++;
    return {
      issuer,
      jwks_uri: `${issuer}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    };
  });
  app.get('/openid/v1/jwks', async () => ({ keys: [jwk] }));
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  issuer = address;
  const subject = (namespace = 'keyway', serviceAccount = 'keyway-runner') => `system:serviceaccount:${namespace}:${serviceAccount}`;

  const token: WorkloadIssuer['token'] = async (options = {}) => {
    const now = Math.floor(Date.now() / 1000) - (options.issuedSecondsAgo ?? 0);
    const key: CryptoKey = options.signWithStrangerKey ? stranger.privateKey : privateKey;
    return new SignJWT({
      'kubernetes.io': {
        namespace: options.namespace ?? 'keyway',
        serviceaccount: { name: options.serviceAccount ?? 'keyway-runner', uid: randomBytes(8).toString('hex') },
      },
    })
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(issuer)
      .setSubject(subject(options.namespace, options.serviceAccount))
      .setAudience([options.audience ?? 'api://AzureADTokenExchange'])
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + (options.lifetimeSeconds ?? 3600))
      .sign(key);
  };

  return {
    issuer,
    token,
    async writeToken(path, options) {
      const value = await token(options);
      writeFileSync(path, value, { mode: 0o600 });
      return value;
    },
    subject,
    discoveryRequests: () => discoveries,
    close: () => app.close(),
  };
}
