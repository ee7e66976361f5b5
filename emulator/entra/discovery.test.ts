// Discovery and keys: the document Entra serves per tenant, and why Keyway must use
// tenant-specific issuers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { X509Certificate, createHash } from 'node:crypto';
import { startedEntra } from './testkit.ts';

const opts = { execute: [client.allowInsecureRequests] };

describe('Entra emulator: discovery', () => {
  const h = startedEntra();

  test('tenant-specific document', async () => {
    const res = await fetch(`${h.origin}/${h.tenant.id}/v2.0/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const doc = (await res.json()) as Record<string, unknown>;
    const base = `${h.origin}/${h.tenant.id}`;
    assert.equal(doc.issuer, `${base}/v2.0`);
    assert.equal(doc.authorization_endpoint, `${base}/oauth2/v2.0/authorize`);
    assert.equal(doc.token_endpoint, `${base}/oauth2/v2.0/token`);
    assert.equal(doc.end_session_endpoint, `${base}/oauth2/v2.0/logout`);
    assert.equal(doc.jwks_uri, `${base}/discovery/v2.0/keys`);
    assert.deepEqual(doc.token_endpoint_auth_methods_supported, ['client_secret_post', 'private_key_jwt', 'client_secret_basic']);
    assert.deepEqual(doc.id_token_signing_alg_values_supported, ['RS256']);
    assert.deepEqual(doc.response_modes_supported, ['query', 'fragment', 'form_post']);
    assert.deepEqual(doc.scopes_supported, ['openid', 'profile', 'email', 'offline_access']);
    assert.equal(doc.userinfo_endpoint, `${h.origin}/oidc/userinfo`);
    assert.ok(!('code_challenge_methods_supported' in doc), 'Entra does not advertise PKCE methods');
  });

  test('a domain resolves to the same tenant; the document is written with the tenant id', async () => {
    const res = await fetch(`${h.origin}/${h.tenant.domain}/v2.0/.well-known/openid-configuration`);
    const doc = (await res.json()) as Record<string, unknown>;
    assert.equal(doc.issuer, `${h.origin}/${h.tenant.id}/v2.0`);
    assert.equal(doc.token_endpoint, `${h.origin}/${h.tenant.id}/oauth2/v2.0/token`);
    // So openid-client, which compares the issuer to the URL it was given, refuses a domain URL.
    await assert.rejects(
      client.discovery(new URL(`${h.origin}/${h.tenant.domain}/v2.0`), h.app.clientId, h.clientSecret, undefined, opts),
      /issuer/i,
    );
  });

  test('openid-client accepts the tenant-id issuer', async () => {
    const config = await client.discovery(new URL(`${h.origin}/${h.tenant.id}/v2.0`), h.app.clientId, h.clientSecret, undefined, opts);
    assert.equal(config.serverMetadata().issuer, `${h.origin}/${h.tenant.id}/v2.0`);
  });

  test('common / organizations: templated issuer, which openid-client refuses', async () => {
    for (const alias of ['common', 'organizations']) {
      const doc = (await (await fetch(`${h.origin}/${alias}/v2.0/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(doc.issuer, `${h.origin}/{tenantid}/v2.0`);
      assert.equal(doc.authorization_endpoint, `${h.origin}/${alias}/oauth2/v2.0/authorize`);
      assert.equal(doc.jwks_uri, `${h.origin}/${alias}/discovery/v2.0/keys`);
      // Keyway must use a tenant-specific issuer (or substitute the token's tid deliberately):
      // openid-client compares issuers exactly (panva/openid-client issues 742, 893).
      await assert.rejects(
        client.discovery(new URL(`${h.origin}/${alias}/v2.0`), h.app.clientId, h.clientSecret, undefined, opts),
        (err: unknown) => {
          assert.ok(err instanceof client.ClientError);
          assert.match(err.message, /issuer/i);
          return true;
        },
      );
    }
  });

  test('unknown tenant: 400 invalid_tenant AADSTS90002', async () => {
    const res = await fetch(`${h.origin}/nowhere.onmicrosoft.com/v2.0/.well-known/openid-configuration`);
    assert.equal(res.status, 400);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.error, 'invalid_tenant');
    assert.deepEqual(body.error_codes, [90002]);
    assert.match(String(body.error_description), /^AADSTS90002: Tenant 'nowhere\.onmicrosoft\.com' not found\./);
  });

  test('JWKS: tenant and common paths, kid = x5t, issuer member', async () => {
    const tenantKeys = (await (await fetch(`${h.origin}/${h.tenant.id}/discovery/v2.0/keys`)).json()) as { keys: Record<string, string>[] };
    assert.equal(tenantKeys.keys.length, 2);
    for (const k of tenantKeys.keys) {
      assert.equal(k.kty, 'RSA');
      assert.equal(k.use, 'sig');
      assert.equal(k.kid, k.x5t);
      assert.equal(k.issuer, `${h.origin}/${h.tenant.id}/v2.0`);
      assert.ok(!('d' in k), 'never the private part');
    }
    const common = (await (await fetch(`${h.origin}/common/discovery/v2.0/keys`)).json()) as { keys: Record<string, string>[] };
    assert.deepEqual(
      common.keys.map((k) => k.kid),
      tenantKeys.keys.map((k) => k.kid),
    );
    assert.equal(common.keys[0]!.issuer, `${h.origin}/{tenantid}/v2.0`);
  });

  test('logout page, and redirect to a registered post_logout_redirect_uri', async () => {
    const page = await fetch(`${h.origin}/${h.tenant.id}/oauth2/v2.0/logout`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /data-testid="signed-out"/);
    const ok = await fetch(
      `${h.origin}/${h.tenant.id}/oauth2/v2.0/logout?client_id=${h.app.clientId}&post_logout_redirect_uri=${encodeURIComponent(h.redirectUri)}&state=xyz`,
      { redirect: 'manual' },
    );
    assert.equal(ok.status, 302);
    assert.equal(ok.headers.get('location'), `${h.redirectUri}?state=xyz`);
    const evil = await fetch(
      `${h.origin}/${h.tenant.id}/oauth2/v2.0/logout?client_id=${h.app.clientId}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F`,
      {
        redirect: 'manual',
      },
    );
    assert.equal(evil.status, 200);
  });

  test('every key carries its certificate (x5c) as Entra publishes it; kid and x5t are its SHA-1 thumbprint', async () => {
    const { keys } = (await (await fetch(`${h.origin}/${h.tenant.id}/discovery/v2.0/keys`)).json()) as {
      keys: Array<Record<string, string | string[]>>;
    };
    for (const k of keys) {
      assert.ok(Array.isArray(k.x5c) && k.x5c.length === 1, 'x5c present');
      const der = Buffer.from(k.x5c[0]!, 'base64');
      const cert = new X509Certificate(der);
      const jwk = cert.publicKey.export({ format: 'jwk' });
      assert.equal(jwk.n, k.n);
      assert.equal(jwk.e, k.e);
      assert.equal(k.x5t, createHash('sha1').update(der).digest('base64url'));
      assert.equal(k.kid, k.x5t);
      assert.match(cert.subject, /CN=accounts\.accesscontrol\.windows\.net/);
      assert.ok(cert.verify(cert.publicKey), 'self-signed');
    }
  });

  test("discovery lists the endpoints Entra lists (device code, Kerberos), and they refuse in Entra's shape", async () => {
    const doc = (await (await fetch(`${h.origin}/${h.tenant.id}/v2.0/.well-known/openid-configuration`)).json()) as Record<string, string>;
    assert.equal(doc.device_authorization_endpoint, `${h.origin}/${h.tenant.id}/oauth2/v2.0/devicecode`);
    assert.equal(doc.kerberos_endpoint, `${h.origin}/${h.tenant.id}/kerberos`);
    const res = await fetch(doc.device_authorization_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `client_id=${h.app.clientId}&scope=openid`,
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: string; error_codes: number[] };
    assert.equal(typeof body.error, 'string');
    assert.ok(Array.isArray(body.error_codes));
  });

  test('error lookup page', async () => {
    const res = await fetch(`${h.origin}/error?code=54005`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.match(html, /AADSTS54005/);
    assert.match(html, /already redeemed/);
  });
});
