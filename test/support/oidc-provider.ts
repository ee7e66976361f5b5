// A small, strict OpenID Connect provider for tests of "another OIDC provider" sign-in: discovery,
// JWKS, authorization code with PKCE (S256 only) and nonce, client_secret_post. The person who signs
// in is chosen by the test (`signInAs`), as if they had typed their password.
import { createHash, randomBytes } from 'node:crypto';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';

export interface OidcPerson {
  sub: string;
  email?: string;
  email_verified?: boolean;
  name?: string;
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  signInAs(person: OidcPerson): void;
  close(): Promise<void>;
}

export async function startTestOidcProvider(redirectUri: string): Promise<TestOidcProvider> {
  const app = Fastify();
  await app.register(formbody);
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const clientId = `client-${randomBytes(4).toString('hex')}`;
  const clientSecret = randomBytes(24).toString('base64url');
  let person: OidcPerson = { sub: 'nobody' };
  const codes = new Map<string, { person: OidcPerson; challenge: string; nonce: string; redirectUri: string }>();
  let issuer = '';

  app.get('/.well-known/openid-configuration', async () => ({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_post'],
    scopes_supported: ['openid', 'profile', 'email'],
  }));
  app.get('/jwks', async () => ({ keys: [jwk] }));

  app.get<{ Querystring: Record<string, string> }>('/authorize', async (req, reply) => {
    const q = req.query;
    if (q.client_id !== clientId || q.redirect_uri !== redirectUri) return reply.code(400).send('unknown client or redirect_uri');
    if (q.response_type !== 'code' || q.code_challenge_method !== 'S256' || !q.code_challenge || !q.nonce)
      return reply.code(400).send('PKCE S256 and a nonce are required');
    const code = randomBytes(24).toString('base64url');
    codes.set(code, { person, challenge: q.code_challenge, nonce: q.nonce, redirectUri: q.redirect_uri });
    const back = new URL(redirectUri);
    back.searchParams.set('code', code);
    if (q.state) back.searchParams.set('state', q.state);
    return reply.redirect(back.href, 302);
  });

  app.post<{ Body: Record<string, string> }>('/token', async (req, reply) => {
    const b = req.body;
    if (b.client_id !== clientId || b.client_secret !== clientSecret) return reply.code(401).send({ error: 'invalid_client' });
    const grant = codes.get(b.code ?? '');
    codes.delete(b.code ?? '');
    if (!grant || b.redirect_uri !== grant.redirectUri || b.grant_type !== 'authorization_code')
      return reply.code(400).send({ error: 'invalid_grant' });
    const challenge = createHash('sha256')
      .update(b.code_verifier ?? '')
      .digest('base64url');
    if (challenge !== grant.challenge)
      return reply.code(400).send({ error: 'invalid_grant', error_description: 'PKCE verification failed' });
    const idToken = await new SignJWT({ ...grant.person, nonce: grant.nonce })
      .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
      .setIssuer(issuer)
      .setAudience(clientId)
      .setSubject(grant.person.sub)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    return { access_token: randomBytes(16).toString('base64url'), token_type: 'Bearer', expires_in: 300, id_token: idToken };
  });

  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  issuer = address;
  return {
    issuer,
    clientId,
    clientSecret,
    signInAs: (next) => {
      person = next;
    },
    close: () => app.close(),
  };
}
