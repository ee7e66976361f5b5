// The client assertions Keyway sends, read off the wire at a token endpoint that records what it
// gets: the header and claims Microsoft's certificate-credentials reference prescribes, a fresh jti
// per request, a federated token read again for every request, and no secret anywhere.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import formbody from '@fastify/formbody';
import * as client from 'openid-client';
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';
import { generateClientCertificate } from './certificate.ts';
import type { GeneratedCertificate } from './certificate.ts';
import { certificateAuth, federatedAuth, importSigningKey, JWT_BEARER } from './client-auth.ts';
import { FederatedTokenError, readFederatedToken } from './federated-token.ts';

describe('client assertions on the wire', () => {
  const app = Fastify();
  const seen: Record<string, string>[] = [];
  let origin = '';
  let cert: GeneratedCertificate;

  before(async () => {
    await app.register(formbody);
    app.get('/tenant/v2.0/.well-known/openid-configuration', async () => ({
      issuer: `${origin}/tenant/v2.0`,
      token_endpoint: `${origin}/tenant/oauth2/v2.0/token`,
      authorization_endpoint: `${origin}/tenant/oauth2/v2.0/authorize`,
      jwks_uri: `${origin}/keys`,
    }));
    app.post('/tenant/oauth2/v2.0/token', async (req) => {
      seen.push(req.body as Record<string, string>);
      return { access_token: 'at', token_type: 'Bearer', expires_in: 3600 };
    });
    origin = await app.listen({ port: 0, host: '127.0.0.1' });
    cert = await generateClientCertificate({ commonName: 'Keyway integration int_test', validityDays: 365 });
  });
  after(() => app.close());

  const discover = (auth: client.ClientAuth) =>
    client.discovery(new URL(`${origin}/tenant/v2.0`), '11111111-2222-3333-4444-555555555555', undefined, auth, {
      execute: [client.allowInsecureRequests],
    });

  it('a certificate assertion: PS256, typ JWT, x5t#S256 and no kid; aud the token endpoint (not the issuer), iss = sub = client id, a fresh jti each time, a short life', async () => {
    const key = await importSigningKey(cert.privateKeyPem);
    const x5tS256 = Buffer.from(cert.thumbprintSha256, 'hex').toString('base64url');
    const config = await discover(certificateAuth(async () => ({ key, x5tS256 })));
    seen.length = 0;
    await client.clientCredentialsGrant(config, { scope: 'x/.default' });
    await client.clientCredentialsGrant(config, { scope: 'x/.default' });
    const [first, second] = seen;
    assert.ok(first && second);
    assert.equal(first.client_assertion_type, JWT_BEARER);
    assert.equal(first.client_secret, undefined);
    assert.equal(first.client_id, '11111111-2222-3333-4444-555555555555');
    const header = decodeProtectedHeader(first.client_assertion!);
    assert.deepEqual(header, { alg: 'PS256', typ: 'JWT', 'x5t#S256': x5tS256 });
    assert.equal(
      x5tS256,
      Buffer.from(new X509Certificate(cert.certificatePem).fingerprint256.replace(/:/g, ''), 'hex').toString('base64url'),
      'the SHA-256 thumbprint of the DER',
    );
    const claims = decodeJwt(first.client_assertion!);
    assert.equal(claims.aud, `${origin}/tenant/oauth2/v2.0/token`);
    assert.equal(claims.iss, '11111111-2222-3333-4444-555555555555');
    assert.equal(claims.sub, claims.iss);
    assert.ok(typeof claims.jti === 'string' && claims.jti.length >= 22);
    assert.notEqual(claims.jti, decodeJwt(second.client_assertion!).jti, 'every assertion has its own jti');
    assert.ok(typeof claims.nbf === 'number' && typeof claims.exp === 'number' && claims.exp - claims.nbf <= 600);
    // Signed by the certificate's key.
    await compactVerify(first.client_assertion!, createPublicKey(cert.certificatePem), { algorithms: ['PS256'] });
  });

  it('the signing key cannot be exported again from the process', async () => {
    const key = await importSigningKey(cert.privateKeyPem);
    assert.equal(key.extractable, false);
    await assert.rejects(crypto.subtle.exportKey('pkcs8', key));
  });

  it('a federated assertion is the token in the file, read again for every request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyway-fed-'));
    const file = join(dir, 'token');
    const jwt = (sub: string) =>
      `${Buffer.from(JSON.stringify({ alg: 'RS256' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://issuer.example', sub, aud: ['api://AzureADTokenExchange'], exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.c2ln`;
    writeFileSync(file, `${jwt('first')}\n`);
    const config = await discover(federatedAuth(async () => (await readFederatedToken(file)).token));
    seen.length = 0;
    await client.clientCredentialsGrant(config, { scope: 'x/.default' });
    writeFileSync(file, jwt('rotated'));
    await client.clientCredentialsGrant(config, { scope: 'x/.default' });
    assert.deepEqual(
      seen.map((b) => [b.client_assertion_type, decodeJwt(b.client_assertion!).sub]),
      [
        [JWT_BEARER, 'first'],
        [JWT_BEARER, 'rotated'],
      ],
    );
    assert.deepEqual((await readFederatedToken(file)).claims, {
      issuer: 'https://issuer.example',
      subject: 'rotated',
      audiences: ['api://AzureADTokenExchange'],
      expiresAt: (await readFederatedToken(file)).claims.expiresAt,
    });
  });

  it('a federated token file that is unset, missing, not a JWT or expired: each its own problem, never the token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyway-fed-'));
    const problem = async (path: string | undefined) => {
      try {
        await readFederatedToken(path);
      } catch (err) {
        assert.ok(err instanceof FederatedTokenError);
        return err.problem;
      }
      return 'none';
    };
    assert.equal(await problem(undefined), 'not_configured');
    assert.equal(await problem(join(dir, 'absent')), 'unreadable');
    writeFileSync(join(dir, 'garbage'), 'not-a-token-kwcanaryfederated0123456789');
    assert.equal(await problem(join(dir, 'garbage')), 'malformed');
    await assert.rejects(readFederatedToken(join(dir, 'garbage')), (err: Error) => !err.message.includes('kwcanaryfederated'));
    const expired = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://i', sub: 's', exp: 1 })).toString('base64url')}.c2ln`;
    writeFileSync(join(dir, 'expired'), expired);
    assert.equal(await problem(join(dir, 'expired')), 'expired');
  });
});
