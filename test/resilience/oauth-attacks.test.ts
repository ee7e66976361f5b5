// The attacks on Connect (OAuth authorization code + PKCE) from the authorization issue, end to end
// against the emulator: open redirects through returnTo, forged, missing, replayed and stolen state,
// a response delivered to another integration's callback, a mix-up `iss`, and Connect started with
// an API token instead of a browser session. Nothing may be stored by a refused callback.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { safeReturnTo } from '../../src/management/oauth/return-to.ts';
import { consentAtEntra, deliverCallback, startConnect } from '../support/oauth.ts';
import { Browser } from '../support/management.ts';
import { preferredKind, startWorld } from './support/world.ts';
import type { World } from './support/world.ts';

const OPEN_REDIRECTS = [
  '//evil.test',
  '///evil.test',
  '/\\evil.test',
  '\\\\evil.test',
  'https://evil.test/',
  'http:evil.test',
  'javascript:alert(1)',
  'data:text/html,<script>alert(1)</script>',
  '/%2f%2fevil.test',
  '/%2F%2Fevil.test',
  '%2f%2fevil.test',
  '/%5cevil.test',
  '/%5c%5cevil.test',
  '/\t/evil.test',
  '/%09/evil.test',
  '/%0d%0aLocation:%20https://evil.test',
  '/x\r\nSet-Cookie: a=b',
  ' //evil.test',
  '/.//evil.test',
  '/a/..//evil.test',
  '/%2e//evil.test',
  `/${'a'.repeat(2000)}`,
];

describe('returnTo: never anywhere but a path on this origin', () => {
  for (const value of OPEN_REDIRECTS) {
    it(`${JSON.stringify(value.slice(0, 60))} → a same-origin path`, () => {
      const out = safeReturnTo(value);
      assert.ok(out.startsWith('/') && !out.startsWith('//') && !out.startsWith('/\\'), out);
      assert.equal(new URL(out, 'https://keyway.example').origin, 'https://keyway.example');
      // eslint-disable-next-line no-control-regex -- control characters are what must not pass
      assert.ok(!/[\u0000-\u001f]/.test(out), JSON.stringify(out));
    });
  }
  it('keeps ordinary paths and their queries', () => {
    assert.equal(safeReturnTo('/repositories?tab=mine#top'), '/repositories?tab=mine#top');
  });
});

const kind = await preferredKind();
describe(`Connect under attack, end to end (${kind})`, () => {
  let world: World;
  let secondIntegration: string;

  before(async () => {
    world = await startWorld(kind, { runnerName: 'oauth-attacks' });
    // A second integration on the same runner, with its own callback path.
    const registered = world.emu.entra.addApp(world.emu.defaultTenant.id, { displayName: 'Second', redirectUris: [] });
    world.canaries.watch(registered.clientSecret, 'second client secret');
    const saved = await world.plane.adminBrowser.request({
      method: 'POST',
      url: `/api/v1/runners/${world.runnerId}/scm-integrations`,
      payload: {
        scmId: 'azure-devops',
        host: 'tfs.example.com',
        oauth: {
          clientId: registered.app.clientId,
          clientSecret: registered.clientSecret,
          issuerUrl: `${world.emu.urls.login}/${world.emu.defaultTenant.id}/v2.0`,
        },
        pat: { enabled: false },
      },
    });
    assert.equal(saved.statusCode, 201, saved.body);
    secondIntegration = saved.json().integration.id;
  });
  after(async () => world?.close());

  const stored = async (userId: string) =>
    (await world.runner.runtime.credentials.listForSubject({ type: 'user', id: userId })).filter((c) => c.method === 'oauth');

  async function consent(browser: Browser, query = '') {
    const authorizeUrl = await startConnect(browser, world.integrationId, query);
    return (await consentAtEntra(world.emu, authorizeUrl, world.adoUser.upn)).callback;
  }

  async function deliver(browser: Browser, callback: string) {
    const result = await deliverCallback(browser, callback);
    world.canaries.response(`callback ${result.code}`, { status: result.status, headers: result.headers, body: result.body });
    return result;
  }

  it('open redirects through returnTo end on a path of Keyway', async () => {
    for (const returnTo of ['//evil.test', '/%2f%2fevil.test', 'https://evil.test', '/\\evil.test']) {
      const callback = await consent(world.plane.memberBrowser, `?returnTo=${encodeURIComponent(returnTo)}`);
      const result = await deliver(world.plane.memberBrowser, callback);
      assert.equal(result.ok, true, result.message);
      assert.ok(
        result.returnTo.startsWith('/') && !result.returnTo.startsWith('//') && !result.returnTo.includes('evil.test'),
        result.returnTo,
      );
    }
  });

  it('missing, forged and replayed state are refused, and nothing is stored', async () => {
    const callback = new URL(await consent(world.plane.adminBrowser));
    const missing = new URL(callback);
    missing.searchParams.delete('state');
    assert.equal((await deliver(world.plane.adminBrowser, missing.href)).code, 'missing_state');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'attacker-chosen-state');
    assert.equal((await deliver(world.plane.adminBrowser, forged.href)).code, 'unknown_state');
    assert.equal((await deliver(world.plane.adminBrowser, callback.href)).ok, true);
    // The same response again (a replayed code and state).
    assert.equal((await deliver(world.plane.adminBrowser, callback.href)).code, 'unknown_state');
    assert.equal((await stored(world.plane.admin.id)).length, 1);
  });

  it("a victim's callback delivered in the attacker's session (login CSRF) or with no session is refused", async () => {
    const before = (await stored(world.plane.member.id)).length;
    const victims = await consent(world.plane.adminBrowser);
    const attacker = world.plane.memberBrowser;
    assert.equal((await deliver(attacker, victims)).code, 'session_mismatch');
    const anonymous = await consent(world.plane.adminBrowser);
    assert.equal((await deliver(new Browser(world.plane.app), anonymous)).code, 'session_mismatch');
    assert.equal((await stored(world.plane.member.id)).length, before);
  });

  it("a response delivered to another integration's callback path is refused as a mix-up", async () => {
    const callback = new URL(await consent(world.plane.adminBrowser));
    callback.pathname = `/api/v1/oauth/callback/${secondIntegration}`;
    assert.equal((await deliver(world.plane.adminBrowser, callback.href)).code, 'callback_mismatch');
  });

  it('a response naming another issuer (iss) is refused as a mix-up', async () => {
    const callback = new URL(await consent(world.plane.adminBrowser));
    callback.searchParams.set('iss', 'https://login.evil.test/common/v2.0');
    const result = await deliver(world.plane.adminBrowser, callback.href);
    assert.equal(result.ok, false);
    assert.equal(result.code, 'issuer_mismatch');
  });

  it('Connect needs a browser session: an API token cannot start it', async () => {
    const token = (
      await world.plane.memberBrowser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'oauth-attacks' } })
    ).json().token as string;
    world.canaries.watch(token, 'member API token', ['responses']);
    const res = await world.plane.app.inject({
      method: 'GET',
      url: `/api/v1/oauth/authorize/${world.integrationId}`,
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.statusCode, 403, res.body);
  });

  it('the callback page loads nothing from elsewhere and leaks no referrer', async () => {
    const result = await deliver(world.plane.memberBrowser, await consent(world.plane.memberBrowser));
    assert.equal(result.headers['referrer-policy'], 'no-referrer');
    assert.match(String(result.headers['content-security-policy']), /default-src 'none'/);
    assert.ok(!/(src|href)="https?:/.test(result.body));
  });

  it('no secret canary (client secrets, tokens, passwords) in logs, responses or the management database', async () => {
    // The tokens the runner now holds must not have reached the management plane.
    for (const userId of [world.plane.admin.id, world.plane.member.id]) {
      for (const c of await stored(userId)) {
        const set = JSON.parse((await world.runner.runtime.credentials.readSecret(c.id)) ?? '{}') as Record<string, string>;
        world.canaries.watch(set.access_token, 'access token');
        world.canaries.watch(set.refresh_token, 'refresh token');
        world.canaries.watch(set.id_token, 'ID token');
      }
    }
    await world.canaries.assertClean();
  });
});
