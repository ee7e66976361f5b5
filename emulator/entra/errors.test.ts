// Each failure reaches the client the way Entra sends it: the error, the AADSTS code first in
// error_description, and Entra's body shape.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { AZURE_DEVOPS_RESOURCE_ID } from './index.ts';
import { buildPkceRequest, codeFlow, discover, postToken, signIn, startedEntra } from './testkit.ts';

function rejectsWith(error: string, code: number) {
  return (err: unknown) => {
    assert.ok(err instanceof client.ResponseBodyError, `expected ResponseBodyError, got ${String(err)}`);
    assert.equal(err.error, error);
    assert.match(err.error_description ?? '', new RegExp(`^AADSTS${code}: `));
    assert.deepEqual(err.cause.error_codes, [code]);
    return true;
  };
}

function authorizeRejects(error: string, code: number) {
  return (err: unknown) => {
    assert.ok(err instanceof client.AuthorizationResponseError, `expected AuthorizationResponseError, got ${String(err)}`);
    assert.equal(err.error, error);
    assert.match(err.error_description ?? '', new RegExp(`^AADSTS${code}: `));
    return true;
  };
}

describe('Entra emulator: errors as Entra sends them', () => {
  const h = startedEntra();
  let config: client.Configuration;
  before(async () => (config = await discover(h)));

  test('error body shape: CRLF trailer, codes, ids, timestamp, error_uri', async () => {
    const correlation = '0b7f3c54-1e0d-4a8b-9c61-2f1d7c9a0e11';
    const res = await postToken(
      h,
      {
        grant_type: 'client_credentials',
        client_id: h.app.clientId,
        client_secret: 'not-the-secret',
        scope: `${AZURE_DEVOPS_RESOURCE_ID}/.default`,
      },
      { 'client-request-id': correlation },
    );
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), null);
    assert.match(res.headers.get('cache-control') ?? '', /no-store/);
    const b = res.body;
    assert.deepEqual(Object.keys(b).sort(), [
      'correlation_id',
      'error',
      'error_codes',
      'error_description',
      'error_uri',
      'timestamp',
      'trace_id',
    ]);
    assert.equal(b.error, 'invalid_client');
    assert.deepEqual(b.error_codes, [7000215]);
    assert.equal(b.correlation_id, correlation);
    assert.match(String(b.timestamp), /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
    assert.match(String(b.trace_id), /^[0-9a-f-]{36}$/);
    assert.equal(b.error_uri, `${h.origin}/error?code=7000215`);
    const lines = String(b.error_description).split('\r\n');
    assert.equal(lines.length, 4);
    assert.match(lines[0]!, /^AADSTS7000215: Invalid client secret provided\./);
    assert.equal(lines[1], `Trace ID: ${b.trace_id}`);
    assert.equal(lines[2], `Correlation ID: ${correlation}`);
    assert.equal(lines[3], `Timestamp: ${b.timestamp}`);
    assert.ok(!String(b.error_description).includes('not-the-secret'), 'the presented secret is never echoed');
  });

  test('invalid client secret: 401 invalid_client AADSTS7000215 (also for the secret id)', async () => {
    const wrong = await discover(h, client.ClientSecretPost('x'.repeat(40)));
    await assert.rejects(codeFlow(h, wrong), rejectsWith('invalid_client', 7000215));
    const idInstead = await discover(h, client.ClientSecretPost(h.app.secrets[0]!.id));
    await assert.rejects(
      client.clientCredentialsGrant(idInstead, { scope: `${AZURE_DEVOPS_RESOURCE_ID}/.default` }),
      rejectsWith('invalid_client', 7000215),
    );
  });

  test('expired client secret: AADSTS7000222; a newer secret works', async () => {
    const a = h.entra.addApp(h.tenant.id, { displayName: 'Old secret' });
    h.entra.addClientSecret(h.tenant.id, a.app.clientId, { expiresAt: Date.now() + 3_600_000 });
    a.app.secrets[0]!.expiresAt = Date.now() - 1000;
    const cfg = await discover(h, client.ClientSecretPost(a.clientSecret), a.app.clientId);
    await assert.rejects(
      client.clientCredentialsGrant(cfg, { scope: `${AZURE_DEVOPS_RESOURCE_ID}/.default` }),
      rejectsWith('invalid_client', 7000222),
    );
    const fresh = await discover(h, client.ClientSecretPost(a.app.secrets[1]!.value), a.app.clientId);
    assert.ok((await client.clientCredentialsGrant(fresh, { scope: `${AZURE_DEVOPS_RESOURCE_ID}/.default` })).access_token);
  });

  test('missing client secret: invalid_client AADSTS7000218', async () => {
    const res = await postToken(h, {
      grant_type: 'client_credentials',
      client_id: h.app.clientId,
      scope: `${AZURE_DEVOPS_RESOURCE_ID}/.default`,
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_client');
    assert.deepEqual(res.body.error_codes, [7000218]);
  });

  test('unknown application at the token endpoint: unauthorized_client AADSTS700016', async () => {
    const cfg = await discover(h, client.ClientSecretPost(h.clientSecret), '11111111-2222-4333-8444-555555555555');
    await assert.rejects(
      client.clientCredentialsGrant(cfg, { scope: `${AZURE_DEVOPS_RESOURCE_ID}/.default` }),
      rejectsWith('unauthorized_client', 700016),
    );
  });

  test("unknown application at authorize: AADSTS700016 on Entra's page, no redirect", async () => {
    const url = new URL(`${h.origin}/${h.tenant.id}/oauth2/v2.0/authorize`);
    url.search = new URLSearchParams({
      client_id: '11111111-2222-4333-8444-555555555555',
      response_type: 'code',
      redirect_uri: h.redirectUri,
      scope: 'openid',
    }).toString();
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(
      await res.text(),
      /AADSTS700016: Application with identifier &#39;11111111-2222-4333-8444-555555555555&#39; was not found/,
    );
  });

  test('authorization code reuse: invalid_grant AADSTS54005', async () => {
    const req = await buildPkceRequest(config, h);
    const res = await signIn(h, req.url);
    const checks = { pkceCodeVerifier: req.verifier, expectedState: req.state, expectedNonce: req.nonce };
    await client.authorizationCodeGrant(config, new URL(res.location!), checks);
    await assert.rejects(client.authorizationCodeGrant(config, new URL(res.location!), checks), rejectsWith('invalid_grant', 54005));
  });

  test('expired authorization code (over 10 minutes): invalid_grant AADSTS70008', async () => {
    const req = await buildPkceRequest(config, h);
    const res = await signIn(h, req.url);
    h.clock.advance(10 * 60 * 1000 + 1000);
    try {
      await assert.rejects(
        client.authorizationCodeGrant(config, new URL(res.location!), {
          pkceCodeVerifier: req.verifier,
          expectedState: req.state,
          expectedNonce: req.nonce,
        }),
        rejectsWith('invalid_grant', 70008),
      );
    } finally {
      h.clock.advance(-(10 * 60 * 1000 + 1000));
    }
  });

  test('wrong or missing PKCE verifier: invalid_grant AADSTS50148', async () => {
    const req = await buildPkceRequest(config, h);
    const res = await signIn(h, req.url);
    await assert.rejects(
      client.authorizationCodeGrant(config, new URL(res.location!), {
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
        expectedState: req.state,
        expectedNonce: req.nonce,
      }),
      rejectsWith('invalid_grant', 50148),
    );
    await assert.rejects(
      client.authorizationCodeGrant(config, new URL(res.location!), { expectedState: req.state, expectedNonce: req.nonce }),
      rejectsWith('invalid_grant', 50148),
    );
    // A failed verifier does not burn the code.
    const ok = await client.authorizationCodeGrant(config, new URL(res.location!), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
    });
    assert.ok(ok.access_token);
  });

  test('PKCE required by the app: authorize without a challenge is invalid_request AADSTS9002325', async () => {
    const url = client.buildAuthorizationUrl(config, { redirect_uri: h.redirectUri, scope: 'openid', state: 's1' });
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    await assert.rejects(
      client.authorizationCodeGrant(config, new URL(res.headers.get('location')!), { expectedState: 's1' }),
      authorizeRejects('invalid_request', 9002325),
    );
  });

  test('redirect URI not registered: AADSTS50011 page, never a redirect', async () => {
    const req = await buildPkceRequest(config, h, { redirect_uri: 'https://evil.example/cb' });
    const res = await fetch(req.url, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    const html = await res.text();
    assert.match(html, /data-code="50011"/);
    assert.match(html, /AADSTS50011: The redirect URI &#39;https:\/\/evil\.example\/cb&#39; specified in the request does not match/);
    assert.ok(!html.includes('name="flowToken"'));
  });

  test('redirect URI at the token endpoint differs from the authorize one: AADSTS500112 / 50011', async () => {
    const req = await buildPkceRequest(config, h);
    const res = await signIn(h, req.url);
    const code = new URL(res.location!).searchParams.get('code')!;
    const base = {
      grant_type: 'authorization_code',
      client_id: h.app.clientId,
      client_secret: h.clientSecret,
      code,
      code_verifier: req.verifier,
    };
    const other = await postToken(h, { ...base, redirect_uri: 'https://keyway.example/oauth/callback' });
    assert.equal(other.body.error, 'invalid_grant');
    assert.deepEqual(other.body.error_codes, [500112]);
    const unregistered = await postToken(h, { ...base, redirect_uri: 'https://evil.example/cb' });
    assert.equal(unregistered.body.error, 'invalid_grant');
    assert.deepEqual(unregistered.body.error_codes, [50011]);
    const missing = await postToken(h, base);
    assert.deepEqual(missing.body.error_codes, [900144]);
  });

  test('invalid scope: redirect with invalid_scope AADSTS70011', async () => {
    const req = await buildPkceRequest(config, h, { scope: `openid ${AZURE_DEVOPS_RESOURCE_ID}/vso.nonexistent` });
    const res = await fetch(req.url, { redirect: 'manual' });
    assert.equal(res.status, 302);
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.origin + loc.pathname, h.redirectUri);
    assert.equal(loc.searchParams.get('state'), req.state);
    assert.equal(loc.searchParams.get('error_uri'), `${h.origin}/error?code=70011`);
    await assert.rejects(
      client.authorizationCodeGrant(config, loc, { pkceCodeVerifier: req.verifier, expectedState: req.state }),
      authorizeRejects('invalid_scope', 70011),
    );
  });

  test('scopes for two resources: AADSTS28000; unknown resource: invalid_resource AADSTS500011', async () => {
    const two = await fetch((await buildPkceRequest(config, h, { scope: `${AZURE_DEVOPS_RESOURCE_ID}/vso.code User.Read` })).url, {
      redirect: 'manual',
    });
    assert.equal(new URL(two.headers.get('location')!).searchParams.get('error'), 'invalid_scope');
    assert.match(new URL(two.headers.get('location')!).searchParams.get('error_description')!, /^AADSTS28000:/);
    const unknown = await fetch((await buildPkceRequest(config, h, { scope: 'api://nowhere/read' })).url, { redirect: 'manual' });
    assert.equal(new URL(unknown.headers.get('location')!).searchParams.get('error'), 'invalid_resource');
  });

  test('organization blocks third-party OAuth: the sign-in ends in invalid_scope', async () => {
    h.blocked.on = true;
    try {
      const req = await buildPkceRequest(config, h);
      const res = await signIn(h, req.url);
      assert.equal(res.status, 302);
      await assert.rejects(
        client.authorizationCodeGrant(config, new URL(res.location!), { pkceCodeVerifier: req.verifier, expectedState: req.state }),
        authorizeRejects('invalid_scope', 70011),
      );
      // Graph-only sign-ins do not touch Azure DevOps and are not blocked.
      const graph = await signIn(h, (await buildPkceRequest(config, h, { scope: 'openid profile' })).url);
      assert.ok(new URL(graph.location!).searchParams.get('code'));
    } finally {
      h.blocked.on = false;
    }
  });

  test('Cancel: access_denied AADSTS65004', async () => {
    const req = await buildPkceRequest(config, h);
    const res = await signIn(h, req.url, { action: 'cancel' });
    await assert.rejects(
      client.authorizationCodeGrant(config, new URL(res.location!), { pkceCodeVerifier: req.verifier, expectedState: req.state }),
      authorizeRejects('access_denied', 65004),
    );
  });

  test('prompt=none: login_required AADSTS50058 without login_hint, a code with one', async () => {
    const req = await buildPkceRequest(config, h, { prompt: 'none' });
    const res = await fetch(req.url, { redirect: 'manual' });
    const loc = new URL(res.headers.get('location')!);
    assert.equal(loc.searchParams.get('error'), 'login_required');
    assert.match(loc.searchParams.get('error_description')!, /^AADSTS50058:/);
    const hinted = await buildPkceRequest(config, h, { prompt: 'none', login_hint: h.user.upn });
    const ok = await fetch(hinted.url, { redirect: 'manual' });
    const tokens = await client.authorizationCodeGrant(config, new URL(ok.headers.get('location')!), {
      pkceCodeVerifier: hinted.verifier,
      expectedState: hinted.state,
      expectedNonce: hinted.nonce,
    });
    assert.equal(tokens.claims()!.oid, h.user.oid);
  });

  test('single-tenant app through /common: AADSTS50194', async () => {
    const res = await postToken(
      h,
      {
        grant_type: 'client_credentials',
        client_id: h.app.clientId,
        client_secret: h.clientSecret,
        scope: `${AZURE_DEVOPS_RESOURCE_ID}/.default`,
      },
      {},
      'common',
    );
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.error_codes, [50194]);
  });

  test('unknown tenant, unsupported grant, GET on the token endpoint, duplicated parameter', async () => {
    const tenant = await postToken(h, { grant_type: 'client_credentials' }, {}, 'nowhere.onmicrosoft.com');
    assert.deepEqual(tenant.body.error_codes, [90002]);
    const grant = await postToken(h, { grant_type: 'password', client_id: h.app.clientId, client_secret: h.clientSecret });
    assert.equal(grant.body.error, 'unsupported_grant_type');
    assert.deepEqual(grant.body.error_codes, [70003]);
    const get = await fetch(`${h.origin}/${h.tenant.id}/oauth2/v2.0/token`);
    assert.equal(get.status, 400);
    assert.deepEqual(((await get.json()) as { error_codes: number[] }).error_codes, [900561]);
    const dup = await fetch(`${h.origin}/${h.tenant.id}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=a&scope=b',
    });
    assert.deepEqual(((await dup.json()) as { error_codes: number[] }).error_codes, [9000411]);
    const missing = await postToken(h, { client_id: h.app.clientId });
    assert.deepEqual(missing.body.error_codes, [900144]);
  });

  test('a code redeemed by another client: invalid_grant', async () => {
    const other = h.entra.addApp(h.tenant.id, { displayName: 'Other', redirectUris: [h.redirectUri] });
    const req = await buildPkceRequest(config, h);
    const res = await signIn(h, req.url);
    const code = new URL(res.location!).searchParams.get('code')!;
    const r = await postToken(h, {
      grant_type: 'authorization_code',
      client_id: other.app.clientId,
      client_secret: other.clientSecret,
      code,
      redirect_uri: h.redirectUri,
      code_verifier: req.verifier,
    });
    assert.equal(r.body.error, 'invalid_grant');
  });
});
