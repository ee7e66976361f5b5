// The sign-in + consent page: what a browser (and Playwright) sees and may submit.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { buildPkceRequest, discover, parseForm, signIn, startedEntra } from './testkit.ts';

describe('Entra emulator: sign-in page', () => {
  const h = startedEntra();
  let config: client.Configuration;
  before(async () => (config = await discover(h)));

  test('lists the tenant users, the app and the scopes, with stable test ids and no external loads', async () => {
    h.entra.addUser(h.tenant.id, { upn: 'bob', displayName: 'Bob <b>Builder</b>' });
    const req = await buildPkceRequest(config, h);
    const res = await fetch(req.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const html = await res.text();
    assert.match(html, new RegExp(`data-testid="user-${h.user.upn.replace(/\./g, '\\.')}"`));
    assert.match(html, /data-testid="accept"/);
    assert.match(html, /data-testid="cancel"[^>]*formnovalidate/);
    assert.match(html, /<label for="user-0">/);
    assert.match(html, /data-testid="app-name">Keyway</);
    assert.match(html, /499b84ac-1321-427f-aa17-267ca6975798\/vso\.code_write/);
    assert.match(html, /Bob &lt;b&gt;Builder&lt;\/b&gt;/, 'names are escaped');
    assert.ok(!/<(script|link|img|iframe)\b/i.test(html), 'no scripts or external resources');
    assert.ok(!/\bsrc=/i.test(html));
    // Accept comes first in the DOM so Enter accepts.
    assert.ok(html.indexOf('id="accept"') < html.indexOf('id="cancel"'));
  });

  test('login_hint preselects the user', async () => {
    const req = await buildPkceRequest(config, h, { login_hint: h.user.upn });
    const html = await (await fetch(req.url)).text();
    assert.match(html, new RegExp(`data-testid="user-${h.user.upn.replace(/\./g, '\\.')}" required checked`));
  });

  test('a forged POST (unknown flow token) gets AADSTS50089, no redirect', async () => {
    const res = await fetch(`${h.origin}/${h.tenant.id}/oauth2/v2.0/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        flowToken: 'guess',
        client_id: h.app.clientId,
        redirect_uri: h.redirectUri,
        action: 'accept',
        login: h.user.upn,
      }).toString(),
    });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.match(await res.text(), /AADSTS50089/);
  });

  test('editing a carried field (redirect_uri, scope) voids the flow', async () => {
    for (const mutate of [
      (f: Record<string, string>) => void (f.redirect_uri = 'https://evil.example/cb'),
      (f: Record<string, string>) => void (f.scope = 'openid 499b84ac-1321-427f-aa17-267ca6975798/vso.code_full'),
    ]) {
      const res = await signIn(h, (await buildPkceRequest(config, h)).url, { mutate });
      assert.equal(res.status, 400);
      assert.equal(res.location, null);
      assert.match(res.html, /AADSTS50089/);
    }
  });

  test('a flow token works once', async () => {
    const html = await (await fetch((await buildPkceRequest(config, h)).url)).text();
    const { action, fields } = parseForm(html);
    const post = () =>
      fetch(new URL(action, h.origin), {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ ...fields, action: 'accept', login: h.user.upn }).toString(),
      });
    assert.equal((await post()).status, 302);
    assert.equal((await post()).status, 400);
  });

  test('password users: a wrong password re-renders with AADSTS50126, the right one signs in', async () => {
    const pw = `pw-${Math.random().toString(36).slice(2)}`;
    const carol = h.entra.addUser(h.tenant.id, { upn: 'carol', password: pw });
    const req = await buildPkceRequest(config, h);
    const wrong = await signIn(h, req.url, { upn: carol.upn, password: 'nope' });
    assert.equal(wrong.status, 200);
    assert.match(wrong.html, /role="alert"[^>]*>AADSTS50126/);
    assert.match(wrong.html, /data-testid="password"/);
    assert.ok(!wrong.html.includes(pw));
    const right = await signIn(h, req.url, { upn: carol.upn, password: pw });
    assert.equal(right.status, 302);
    const tokens = await client.authorizationCodeGrant(config, new URL(right.location!), {
      pkceCodeVerifier: req.verifier,
      expectedState: req.state,
      expectedNonce: req.nonce,
    });
    assert.equal(tokens.claims()!.oid, carol.oid);
  });

  test('no account picked: the page comes back asking for one', async () => {
    const res = await signIn(h, (await buildPkceRequest(config, h)).url, { mutate: (f) => void delete f.login });
    assert.equal(res.status, 200);
    assert.match(res.html, /Select an account/);
  });

  test('loopback redirect URIs match on any port, as in Entra', async () => {
    const req = await buildPkceRequest(config, h, { redirect_uri: 'http://127.0.0.1:6123/oauth/callback' });
    const res = await signIn(h, req.url);
    assert.equal(res.status, 302);
    assert.ok(res.location!.startsWith('http://127.0.0.1:6123/oauth/callback?code='));
  });

  test('fragment response mode', async () => {
    const req = await buildPkceRequest(config, h, { response_mode: 'fragment' });
    const res = await signIn(h, req.url);
    const hash = new URLSearchParams(new URL(res.location!).hash.slice(1));
    assert.ok(hash.get('code'));
    assert.equal(hash.get('state'), req.state);
    assert.ok(hash.get('session_state'));
  });
});
