// Client assertions at the emulator's token endpoint, as Entra checks them: certificates registered
// on the app (signature, thumbprint header, aud, iss/sub, time, jti replay, expired or unknown
// keys), federated credentials (issuer, subject, audience matched exactly, signature by the
// issuer's published keys) and the Instance Metadata Service. Assertions are made by hand with jose,
// so each attack can be shaped exactly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomUUID, X509Certificate } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import { generateClientCertificate } from '../../src/entra/certificate.ts';
import type { GeneratedCertificate } from '../../src/entra/certificate.ts';
import { startWorkloadIssuer } from '../../test/support/workload-issuer.ts';
import type { WorkloadIssuer } from '../../test/support/workload-issuer.ts';
import { postToken, startHarness, type Harness } from './testkit.ts';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ADO_DEFAULT = '499b84ac-1321-427f-aa17-267ca6975798/.default';

interface AssertionShape {
  alg?: 'PS256' | 'RS256';
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  key?: GeneratedCertificate;
  noThumbprint?: boolean;
  lifetimeSeconds?: number;
  /** The app the assertion speaks for (iss and sub); the harness's app unless named. */
  clientId?: string;
}

describe('Entra emulator: client assertions', () => {
  let h: Harness;
  let cert: GeneratedCertificate;
  let stranger: GeneratedCertificate;
  let issuer: WorkloadIssuer;
  const tokenEndpoint = () => `${h.origin}/${h.tenant.id}/oauth2/v2.0/token`;
  const x5tS256 = (c: GeneratedCertificate) => createHash('sha256').update(new X509Certificate(c.certificatePem).raw).digest('base64url');

  before(async () => {
    h = await startHarness();
    [cert, stranger] = await Promise.all([
      generateClientCertificate({ commonName: 'runner', validityDays: 30 }),
      generateClientCertificate({ commonName: 'stranger', validityDays: 30 }),
    ]);
    h.entra.addCertificate(h.tenant.id, h.app.clientId, { certificate: cert.certificatePem });
    issuer = await startWorkloadIssuer();
  });
  after(async () => {
    await issuer.close();
    await h.close();
  });

  async function assertion(shape: AssertionShape = {}): Promise<string> {
    const signer = shape.key ?? cert;
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: shape.alg ?? 'PS256', typ: 'JWT', ...(shape.noThumbprint ? {} : { 'x5t#S256': x5tS256(cert) }), ...shape.header };
    return new SignJWT({
      aud: tokenEndpoint(),
      iss: shape.clientId ?? h.app.clientId,
      sub: shape.clientId ?? h.app.clientId,
      jti: randomUUID(),
      nbf: now,
      iat: now,
      exp: now + (shape.lifetimeSeconds ?? 600),
      ...shape.claims,
    })
      .setProtectedHeader(header as { alg: string })
      .sign(createPrivateKey(signer.privateKeyPem));
  }

  const grant = (clientAssertion: string, extra: Record<string, string> = {}) =>
    postToken(h, {
      grant_type: 'client_credentials',
      client_id: h.app.clientId,
      scope: ADO_DEFAULT,
      client_assertion_type: JWT_BEARER,
      client_assertion: clientAssertion,
      ...extra,
    });

  const refusal = (res: Awaited<ReturnType<typeof postToken>>) => ({
    status: res.status,
    error: res.body.error,
    code: (res.body.error_codes as number[] | undefined)?.[0],
    text: String(res.body.error_description ?? '').split('\r\n')[0] ?? '',
  });

  test('a certificate assertion as Microsoft prescribes (PS256, x5t#S256, aud = token endpoint) gets an app token', async () => {
    const res = await grant(await assertion());
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const claims = await h.entra.verifyAccessToken(String(res.body.access_token));
    assert.equal(claims.appid, h.app.clientId);
    assert.equal(claims.idtyp, 'app');
    // client_id may be left out: the assertion's issuer names the client.
    const noClientId = await postToken(h, {
      grant_type: 'client_credentials',
      scope: ADO_DEFAULT,
      client_assertion_type: JWT_BEARER,
      client_assertion: await assertion(),
    });
    assert.equal(noClientId.status, 200, JSON.stringify(noClientId.body));
  });

  test('the legacy x5t header (SHA-1) with RS256 finds the certificate too', async () => {
    const x5t = createHash('sha1').update(new X509Certificate(cert.certificatePem).raw).digest('base64url');
    const res = await grant(await assertion({ alg: 'RS256', noThumbprint: true, header: { x5t } }));
    assert.equal(res.status, 200, JSON.stringify(res.body));
  });

  test('an unregistered certificate: AADSTS700027 "the key was not found", with the thumbprint the client used', async () => {
    const other = await assertion({ key: stranger, header: { 'x5t#S256': x5tS256(stranger) } });
    const r = refusal(await grant(other));
    assert.deepEqual([r.status, r.error, r.code], [401, 'invalid_client', 700027]);
    assert.match(r.text, /Reason - The key was not found\., Thumbprint of key used by client: '[0-9A-F]{64}'/);
  });

  test('a thumbprint that names a registered certificate but a signature by another key: "Key was found, but … failed"', async () => {
    const forged = await assertion({ key: stranger });
    const r = refusal(await grant(forged));
    assert.deepEqual([r.status, r.code], [401, 700027]);
    assert.match(r.text, /Key was found, but use of the key to verify the signature failed/);
    // The same when the key credential's identifier and its value disagree (a manifest edit).
    const app = h.entra.addApp(h.tenant.id, { displayName: 'manifest' });
    h.entra.addCertificate(h.tenant.id, app.app.clientId, { certificate: stranger.certificatePem, identifiedAs: cert.certificatePem });
    const mine = await assertion({ clientId: app.app.clientId, lifetimeSeconds: 60 });
    const res = await grant(mine, { client_id: app.app.clientId });
    assert.match(refusal(res).text, /Key was found/);
  });

  test('an expired key credential: AADSTS700027 "The key used is expired"', async () => {
    const app = h.entra.addApp(h.tenant.id, { displayName: 'expired' });
    h.entra.addCertificate(h.tenant.id, app.app.clientId, { certificate: cert.certificatePem, endDate: Date.now() - 1000 });
    const a = await assertion({ clientId: app.app.clientId, lifetimeSeconds: 60 });
    const r = refusal(await grant(a, { client_id: app.app.clientId }));
    assert.equal(r.code, 700027);
    assert.match(r.text, /The key used is expired/);
  });

  test('aud must be the token endpoint (the issuer, which openid-client would send, is refused: AADSTS50012)', async () => {
    const r = refusal(await grant(await assertion({ claims: { aud: `${h.origin}/${h.tenant.id}/v2.0` } })));
    assert.deepEqual([r.status, r.code], [401, 50012]);
    const byDomain = await grant(await assertion({ claims: { aud: `${h.origin}/${h.tenant.domain}/oauth2/v2.0/token` } }));
    assert.equal(byDomain.status, 200, 'the tenant named by its domain is the same endpoint');
  });

  test('time, jti and identity claims: expired (700024), not yet valid (700024), replayed (50013), no jti, no thumbprint, sub ≠ iss, another app (700021)', async () => {
    const now = Math.floor(Date.now() / 1000);
    assert.equal(refusal(await grant(await assertion({ claims: { nbf: now - 1200, exp: now - 600 } }))).code, 700024);
    assert.equal(refusal(await grant(await assertion({ claims: { nbf: now + 600, exp: now + 1200 } }))).code, 700024);

    const once = await assertion();
    assert.equal((await grant(once)).status, 200);
    const replay = refusal(await grant(once));
    assert.deepEqual([replay.status, replay.code], [401, 50013]);
    assert.match(replay.text, /already presented \(replay\)/);

    assert.match(refusal(await grant(await assertion({ claims: { jti: undefined } }))).text, /no jti claim/);
    const noThumbprint = refusal(await grant(await assertion({ noThumbprint: true })));
    assert.deepEqual(
      [noThumbprint.code, noThumbprint.text],
      [50027, 'AADSTS50027: Invalid JWT token. No certificate thumbprint specified in token header.'],
    );
    assert.equal(refusal(await grant(await assertion({ claims: { sub: randomUUID() } }))).code, 50048);
    const otherApp = h.entra.addApp(h.tenant.id, { displayName: 'other' });
    assert.equal(
      refusal(await grant(await assertion({ claims: { iss: otherApp.app.clientId, sub: otherApp.app.clientId } }))).code,
      700021,
    );
    assert.match(
      refusal(
        await grant(await assertion({ alg: 'RS256', header: { alg: 'RS256' }, claims: {} }), {
          client_assertion_type: 'urn:example:other',
        }),
      ).text,
      /client_assertion_type/,
    );
    const both = refusal(await grant(await assertion(), { client_secret: h.clientSecret }));
    assert.equal(both.status, 400);
  });

  test('the replay fault answers the next assertion as a replay, once', async () => {
    h.entra.assertionFaults.replayNext();
    assert.equal(refusal(await grant(await assertion())).code, 50013);
    assert.equal((await grant(await assertion())).status, 200);
  });

  test("federated credentials: issuer, subject and audience matched exactly, the token verified with the issuer's published keys", async () => {
    const app = h.entra.addApp(h.tenant.id, { displayName: 'workload' });
    h.entra.addFederatedCredential(h.tenant.id, app.app.clientId, { issuer: issuer.issuer, subject: issuer.subject() });
    const exchange = (token: string) =>
      postToken(h, {
        grant_type: 'client_credentials',
        client_id: app.app.clientId,
        scope: ADO_DEFAULT,
        client_assertion_type: JWT_BEARER,
        client_assertion: token,
      });

    const ok = await exchange(await issuer.token());
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(decodeJwt(String(ok.body.access_token)).appid, app.app.clientId);
    assert.ok(issuer.discoveryRequests() >= 1, 'the issuer was discovered');
    // Federated tokens are reused until they expire (no jti replay check).
    const token = await issuer.token();
    assert.equal((await exchange(token)).status, 200);
    assert.equal((await exchange(token)).status, 200);

    const wrongSubject = refusal(await exchange(await issuer.token({ serviceAccount: 'other' })));
    assert.deepEqual([wrongSubject.status, wrongSubject.code], [401, 700213]);
    assert.match(wrongSubject.text, /presented assertion subject 'system:serviceaccount:keyway:other'/);
    const caseDiffers = refusal(await exchange(await issuer.token({ serviceAccount: 'Keyway-Runner' })));
    assert.equal(caseDiffers.code, 700213, 'matching is case-sensitive');
    const wrongAudience = refusal(await exchange(await issuer.token({ audience: 'api://other' })));
    assert.deepEqual([wrongAudience.code, /assertion audience 'api:\/\/other'/.test(wrongAudience.text)], [700212, true]);
    const expired = refusal(await exchange(await issuer.token({ issuedSecondsAgo: 7200 })));
    assert.equal(expired.code, 700024);
    const forged = refusal(await exchange(await issuer.token({ signWithStrangerKey: true })));
    assert.equal(forged.code, 50027);
    assert.match(forged.text, /failed signature verification/);

    const unknownIssuer = await startWorkloadIssuer();
    try {
      const r = refusal(await exchange(await unknownIssuer.token()));
      assert.equal(r.code, 700211);
      assert.match(r.text, new RegExp(`assertion issuer '${unknownIssuer.issuer.replace(/[.]/g, '\\.')}'`));
      assert.equal(unknownIssuer.discoveryRequests(), 0, 'an issuer no credential trusts is never contacted');
    } finally {
      await unknownIssuer.close();
    }
  });

  test('IMDS: Metadata header required, identities picked by client id, tokens for Azure DevOps and for token exchange', async () => {
    const imds = (query: string, headers: Record<string, string> = { Metadata: 'true' }) =>
      fetch(`${h.origin}/metadata/identity/oauth2/token?${query}`, { headers });
    const noHeader = await imds('api-version=2018-02-01&resource=499b84ac-1321-427f-aa17-267ca6975798', {});
    assert.equal(noHeader.status, 400);
    assert.match(JSON.stringify(await noHeader.json()), /Required metadata header not specified/);
    const forwarded = await imds('api-version=2018-02-01&resource=x', { Metadata: 'true', 'X-Forwarded-For': '10.0.0.1' });
    assert.equal(forwarded.status, 400);
    const none = await imds('api-version=2018-02-01&resource=499b84ac-1321-427f-aa17-267ca6975798');
    assert.match(JSON.stringify(await none.json()), /Identity not found/);

    const system = h.entra.managedIdentities.create(h.tenant.id, { displayName: 'vm' });
    const user = h.entra.managedIdentities.create(h.tenant.id, { displayName: 'uami' });
    h.entra.managedIdentities.assign(system.clientId, 'system');
    h.entra.managedIdentities.assign(user.clientId, 'user');
    const res = await imds('api-version=2018-02-01&resource=499b84ac-1321-427f-aa17-267ca6975798');
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(typeof body.expires_in, 'string', 'IMDS sends numbers as strings');
    assert.equal((await h.entra.verifyAccessToken(String(body.access_token))).appid, system.clientId);
    const picked = (await (
      await imds(`api-version=2018-02-01&resource=499b84ac-1321-427f-aa17-267ca6975798&client_id=${user.clientId}`)
    ).json()) as Record<string, unknown>;
    assert.equal(decodeJwt(String(picked.access_token)).appid, user.clientId);
    const unassigned = await imds(`api-version=2018-02-01&resource=499b84ac-1321-427f-aa17-267ca6975798&client_id=${randomUUID()}`);
    assert.equal(unassigned.status, 400);

    // A managed identity as an app's federated credential: issuer the tenant's v2 issuer, subject its principal id.
    const app = h.entra.addApp(h.tenant.id, { displayName: 'trusts the identity' });
    h.entra.addFederatedCredential(h.tenant.id, app.app.clientId, { issuer: `${h.origin}/${h.tenant.id}/v2.0`, subject: user.principalId });
    const exchange = (await (
      await imds(`api-version=2018-02-01&resource=api://AzureADTokenExchange&client_id=${user.clientId}`)
    ).json()) as Record<string, unknown>;
    const claims = decodeJwt(String(exchange.access_token));
    assert.deepEqual([claims.aud, claims.sub], ['api://AzureADTokenExchange', user.principalId]);
    const viaMi = await postToken(h, {
      grant_type: 'client_credentials',
      client_id: app.app.clientId,
      scope: ADO_DEFAULT,
      client_assertion_type: JWT_BEARER,
      client_assertion: String(exchange.access_token),
    });
    assert.equal(viaMi.status, 200, JSON.stringify(viaMi.body));
    const systemExchange = (await (await imds('api-version=2018-02-01&resource=api://AzureADTokenExchange')).json()) as Record<
      string,
      unknown
    >;
    const other = await postToken(h, {
      grant_type: 'client_credentials',
      client_id: app.app.clientId,
      scope: ADO_DEFAULT,
      client_assertion_type: JWT_BEARER,
      client_assertion: String(systemExchange.access_token),
    });
    assert.equal(refusal(other).code, 700213, "another identity's token names another subject");
  });
});
