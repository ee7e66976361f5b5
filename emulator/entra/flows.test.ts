// The three grants Keyway uses, driven end to end by openid-client v6 against the emulator.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { AZURE_DEVOPS_RESOURCE_ID } from './index.ts';
import { buildPkceRequest, codeFlow, discover, signIn, startedEntra } from './testkit.ts';

describe('Entra emulator: grants through openid-client', () => {
  const h = startedEntra();
  let config: client.Configuration;
  before(async () => (config = await discover(h)));

  test('authorization code + PKCE: state, nonce and ID token validation pass', async () => {
    const tokens = await codeFlow(h, config);
    assert.equal(tokens.token_type, 'bearer'); // openid-client lower-cases it
    assert.equal(tokens.expires_in, 3600);
    assert.equal(tokens.scope, `${AZURE_DEVOPS_RESOURCE_ID}/vso.code ${AZURE_DEVOPS_RESOURCE_ID}/vso.code_write`);
    assert.ok(tokens.refresh_token, 'offline_access yields a refresh token');
    const id = tokens.claims();
    assert.ok(id);
    assert.equal(id.iss, `${h.origin}/${h.tenant.id}/v2.0`);
    assert.equal(id.aud, h.app.clientId);
    assert.equal(id.tid, h.tenant.id);
    assert.equal(id.oid, h.user.oid);
    assert.equal(id.preferred_username, h.user.upn);
    assert.equal(id.name, 'Alice Example');
    assert.equal(id.ver, '2.0');
    assert.notEqual(id.sub, h.user.oid, 'sub is pairwise, not the object id');
    assert.equal((id.exp as number) - (id.iat as number), 3600);

    const at = decodeJwt(tokens.access_token);
    assert.equal(at.aud, AZURE_DEVOPS_RESOURCE_ID);
    assert.equal(at.iss, `https://sts.windows.net/${h.tenant.id}/`);
    assert.equal(at.ver, '1.0');
    assert.equal(at.scp, 'vso.code vso.code_write');
    assert.equal(at.appid, h.app.clientId);
    assert.equal(at.upn, h.user.upn);
    assert.equal(at.unique_name, h.user.upn);
    assert.equal(at.oid, h.user.oid);
    const header = decodeProtectedHeader(tokens.access_token);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.x5t, header.kid);

    const claims = await h.entra.verifyAccessToken(tokens.access_token);
    assert.deepEqual(
      { tid: claims.tid, oid: claims.oid, appid: claims.appid, scp: claims.scp, idtyp: claims.idtyp, upn: claims.upn, aud: claims.aud },
      {
        tid: h.tenant.id,
        oid: h.user.oid,
        appid: h.app.clientId,
        scp: 'vso.code vso.code_write',
        idtyp: 'user',
        upn: h.user.upn,
        aud: AZURE_DEVOPS_RESOURCE_ID,
      },
    );
  });

  test('sub is stable per app and differs between apps', async () => {
    const first = (await codeFlow(h, config)).claims()!.sub;
    const second = (await codeFlow(h, config)).claims()!.sub;
    assert.equal(first, second);
    const other = h.entra.addApp(h.tenant.id, { displayName: 'Other', redirectUris: [h.redirectUri] });
    const otherConfig = await discover(h, client.ClientSecretPost(other.clientSecret), other.app.clientId);
    assert.notEqual((await codeFlow(h, otherConfig)).claims()!.sub, first);
  });

  test('client_secret_basic authenticates too', async () => {
    const basic = await discover(h, client.ClientSecretBasic(h.clientSecret));
    const tokens = await codeFlow(h, basic);
    assert.ok(tokens.access_token);
  });

  test('refresh rotates: a new refresh token each time, the old one still works', async () => {
    const first = await codeFlow(h, config);
    const rt1 = first.refresh_token!;
    const second = await client.refreshTokenGrant(config, rt1);
    const rt2 = second.refresh_token!;
    assert.ok(rt2);
    assert.notEqual(rt2, rt1);
    assert.ok(second.id_token, 'openid was granted, so an ID token comes back');
    assert.equal(second.claims()!.nonce, undefined, 'no nonce on refresh');
    const third = await client.refreshTokenGrant(config, rt1);
    assert.ok(third.refresh_token);
    assert.notEqual(third.refresh_token, rt2);
    assert.equal(decodeJwt(third.access_token).scp, 'vso.code vso.code_write');
  });

  test('refreshReuseFails: reusing a rotated refresh token fails as invalid_grant', async () => {
    const first = await codeFlow(h, config);
    const rt1 = first.refresh_token!;
    const second = await client.refreshTokenGrant(config, rt1);
    h.entra.faults.setRefreshReuseFails(true);
    try {
      await assert.rejects(client.refreshTokenGrant(config, rt1), (err: unknown) => {
        assert.ok(err instanceof client.ResponseBodyError);
        assert.equal(err.error, 'invalid_grant');
        assert.match(err.error_description ?? '', /^AADSTS70008:/);
        return true;
      });
      // The newest token is still fine.
      assert.ok((await client.refreshTokenGrant(config, second.refresh_token!)).access_token);
    } finally {
      h.entra.faults.setRefreshReuseFails(false);
    }
  });

  test('refresh with the original scope sent again; without offline_access no refresh token', async () => {
    const first = await codeFlow(h, config);
    const same = await client.refreshTokenGrant(config, first.refresh_token!, {
      scope: `openid offline_access ${AZURE_DEVOPS_RESOURCE_ID}/vso.code ${AZURE_DEVOPS_RESOURCE_ID}/vso.code_write`,
    });
    assert.ok(same.refresh_token);
    const narrowed = await client.refreshTokenGrant(config, first.refresh_token!, { scope: `${AZURE_DEVOPS_RESOURCE_ID}/vso.code` });
    assert.equal(narrowed.refresh_token, undefined);
    assert.equal(narrowed.id_token, undefined);
    assert.equal(decodeJwt(narrowed.access_token).scp, 'vso.code');
  });

  test('refresh asking beyond the grant is consent_required (AADSTS65001)', async () => {
    const first = await codeFlow(h, config);
    await assert.rejects(
      client.refreshTokenGrant(config, first.refresh_token!, { scope: `offline_access ${AZURE_DEVOPS_RESOURCE_ID}/vso.code_manage` }),
      (err: unknown) => {
        assert.ok(err instanceof client.ResponseBodyError);
        assert.equal(err.error, 'invalid_grant');
        assert.match(err.error_description ?? '', /^AADSTS65001:/);
        assert.equal(err.cause.suberror, 'consent_required');
        return true;
      },
    );
  });

  test('refresh after revocation fails with AADSTS50173', async () => {
    const first = await codeFlow(h, config);
    h.entra.faults.revokeRefreshTokens({ userOid: h.user.oid });
    await assert.rejects(client.refreshTokenGrant(config, first.refresh_token!), (err: unknown) => {
      assert.ok(err instanceof client.ResponseBodyError);
      assert.equal(err.error, 'invalid_grant');
      assert.match(err.error_description ?? '', /^AADSTS50173:/);
      return true;
    });
    // A fresh sign-in gets a working refresh token again.
    const again = await codeFlow(h, config);
    assert.ok((await client.refreshTokenGrant(config, again.refresh_token!)).access_token);
  });

  test('refresh token older than 90 days: AADSTS700082', async () => {
    const first = await codeFlow(h, config);
    h.clock.advance(91 * 24 * 3600 * 1000);
    try {
      await assert.rejects(client.refreshTokenGrant(config, first.refresh_token!), (err: unknown) => {
        assert.ok(err instanceof client.ResponseBodyError);
        assert.equal(err.error, 'invalid_grant');
        assert.match(err.error_description ?? '', /^AADSTS700082:/);
        return true;
      });
    } finally {
      h.clock.advance(-91 * 24 * 3600 * 1000);
    }
  });

  test('client credentials with {resource}/.default (GUID and URI forms)', async () => {
    for (const [scope, aud] of [
      [`${AZURE_DEVOPS_RESOURCE_ID}/.default`, AZURE_DEVOPS_RESOURCE_ID],
      ['https://app.vssps.visualstudio.com/.default', 'https://app.vssps.visualstudio.com'],
    ] as const) {
      const tokens = await client.clientCredentialsGrant(config, { scope });
      assert.equal(tokens.refresh_token, undefined);
      assert.equal(tokens.id_token, undefined);
      assert.equal(tokens.scope, undefined, 'Entra sends no scope member for client credentials');
      const at = decodeJwt(tokens.access_token);
      assert.equal(at.aud, aud);
      assert.equal(at.scp, undefined);
      assert.equal(at.idtyp, 'app');
      assert.equal(at.oid, h.app.servicePrincipalObjectId);
      assert.equal(at.sub, h.app.servicePrincipalObjectId);
      const claims = await h.entra.verifyAccessToken(tokens.access_token);
      assert.equal(claims.idtyp, 'app');
      assert.equal(claims.oid, h.app.servicePrincipalObjectId);
      assert.equal(claims.aud, aud);
    }
  });

  test('client credentials without .default: invalid_scope AADSTS1002012', async () => {
    await assert.rejects(client.clientCredentialsGrant(config, { scope: `${AZURE_DEVOPS_RESOURCE_ID}/vso.code` }), (err: unknown) => {
      assert.ok(err instanceof client.ResponseBodyError);
      assert.equal(err.error, 'invalid_scope');
      assert.match(err.error_description ?? '', /^AADSTS1002012:/);
      return true;
    });
  });

  test('response_mode=form_post returns a self-submitting form carrying code and state', async () => {
    const req = await buildPkceRequest(config, h, { response_mode: 'form_post' });
    const res = await signIn(h, req.url);
    assert.equal(res.status, 200);
    assert.match(res.html, new RegExp(`<form method="POST" name="hiddenform" action="${h.redirectUri.replace(/[.]/g, '\\.')}">`));
    const fields = Object.fromEntries(
      [...res.html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1], m[2]]),
    );
    assert.equal(fields.state, req.state);
    assert.ok(fields.code);
    // openid-client accepts a POSTed callback as a Request.
    const callback = new Request(h.redirectUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields as Record<string, string>).toString(),
    });
    const tokens = await client.authorizationCodeGrant(config, callback, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
    });
    assert.ok(tokens.access_token);
  });

  test('sendIssParameter: the RFC 9207 iss parameter is sent and accepted', async () => {
    const t = h.entra.addTenant({ displayName: 'Fabrikam', sendIssParameter: true });
    const a = h.entra.addApp(t.id, { displayName: 'Keyway', redirectUris: [h.redirectUri] });
    h.entra.addUser(t.id, { upn: `alice@${t.domain}` });
    const cfg = await client.discovery(
      new URL(`${h.origin}/${t.id}/v2.0`),
      a.app.clientId,
      undefined,
      client.ClientSecretPost(a.clientSecret),
      {
        execute: [client.allowInsecureRequests],
      },
    );
    const req = await buildPkceRequest(cfg, h);
    const res = await signIn(h, req.url, { upn: `alice@${t.domain}` });
    const loc = new URL(res.location!);
    assert.equal(loc.searchParams.get('iss'), `${h.origin}/${t.id}/v2.0`);
    const tokens = await client.authorizationCodeGrant(cfg, loc, {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
    });
    assert.ok(tokens.access_token);
    // Default tenants send no iss.
    const plain = await signIn(h, (await buildPkceRequest(config, h)).url);
    assert.equal(new URL(plain.location!).searchParams.get('iss'), null);
  });

  test('counters count token requests per grant and authorize requests', async () => {
    h.entra.resetCounters();
    const tokens = await codeFlow(h, config);
    await client.refreshTokenGrant(config, tokens.refresh_token!);
    await client.clientCredentialsGrant(config, { scope: `${AZURE_DEVOPS_RESOURCE_ID}/.default` });
    assert.deepEqual(h.entra.counters(), {
      tokenRequests: 3,
      byGrant: { authorization_code: 1, refresh_token: 1, client_credentials: 1 },
      authorizeRequests: 1,
      byClientAuth: { client_secret: 3 },
    });
    h.entra.resetCounters();
    assert.deepEqual(h.entra.counters(), { tokenRequests: 0, byGrant: {}, authorizeRequests: 0, byClientAuth: {} });
  });
});
