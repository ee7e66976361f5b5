// verifyAccessToken: what the Azure DevOps emulator relies on to accept or refuse a bearer token.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { AZURE_DEVOPS_RESOURCE_ID, EntraTokenError } from './index.ts';
import { codeFlow, discover, startHarness, startedEntra, type Harness } from './testkit.ts';

const reason = (r: EntraTokenError['reason']) => (err: unknown) => {
  assert.ok(err instanceof EntraTokenError, `expected EntraTokenError, got ${String(err)}`);
  assert.equal(err.reason, r);
  return true;
};

/** A vso.code token for the harness's user and app, straight from the emulator (no sign-in). */
const userToken = (harness: Harness, extra: { lifetimeSeconds?: number } = {}) =>
  harness.entra.issueAccessTokenForTest({
    tenantId: harness.tenant.id,
    userOid: harness.user.oid,
    clientId: harness.app.clientId,
    scopes: ['vso.code'],
    ...extra,
  });

describe('Entra emulator: access token verification', () => {
  const h = startedEntra();

  test('a token from the code flow verifies', async () => {
    const tokens = await codeFlow(h, await discover(h));
    const claims = await h.entra.verifyAccessToken(tokens.access_token);
    assert.equal(claims.oid, h.user.oid);
    const expected = Math.floor(Date.now() / 1000) + 3600;
    assert.ok(Math.abs(claims.exp - expected) <= 5, `exp ${claims.exp} is about an hour away`);
  });

  test('expireAccessTokensNow: every token issued so far is expired, later ones are not', async () => {
    const before = await userToken(h);
    await h.entra.verifyAccessToken(before);
    h.entra.faults.expireAccessTokensNow();
    await assert.rejects(h.entra.verifyAccessToken(before), reason('expired'));
    const after = await userToken(h);
    assert.equal((await h.entra.verifyAccessToken(after)).scp, 'vso.code');
  });

  test('expiry by the clock', async () => {
    const t = await userToken(h, { lifetimeSeconds: 60 });
    h.clock.advance(61_000);
    try {
      await assert.rejects(h.entra.verifyAccessToken(t), reason('expired'));
    } finally {
      h.clock.advance(-61_000);
    }
  });

  test('tampered payload or signature: invalid', async () => {
    const t = await userToken(h);
    const [head, payload, sig] = t.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    claims.scp = 'vso.code_full';
    const forged = `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
    await assert.rejects(h.entra.verifyAccessToken(forged), reason('invalid'));
    const flipped = sig.slice(0, -2) + (sig.endsWith('AA') ? 'BB' : 'AA');
    await assert.rejects(h.entra.verifyAccessToken(`${head}.${payload}.${flipped}`), reason('invalid'));
    await assert.rejects(h.entra.verifyAccessToken('not-a-jwt'), reason('invalid'));
  });

  test('a token for another emulator instance (other keys) is invalid', async () => {
    const other = await startHarness();
    try {
      const t = await userToken(other);
      await assert.rejects(h.entra.verifyAccessToken(t), reason('invalid'));
    } finally {
      await other.close();
    }
  });

  test('a Microsoft Graph token is not an Azure DevOps token', async () => {
    const config = await discover(h);
    const tokens = await codeFlow(h, config, { scope: 'openid profile' });
    await assert.rejects(h.entra.verifyAccessToken(tokens.access_token), reason('invalid'));
    // It is good for UserInfo, whose sub matches the ID token's.
    const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
    assert.equal(info.name, 'Alice Example');
  });

  test('app-only test tokens', async () => {
    const t = await h.entra.issueAccessTokenForTest({ tenantId: h.tenant.id, clientId: h.app.clientId, scopes: [] });
    const claims = await h.entra.verifyAccessToken(t);
    assert.equal(claims.idtyp, 'app');
    assert.equal(claims.scp, undefined);
    assert.equal(claims.aud, AZURE_DEVOPS_RESOURCE_ID);
    assert.equal(claims.oid, h.app.servicePrincipalObjectId);
  });
});
