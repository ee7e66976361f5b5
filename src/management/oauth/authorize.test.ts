import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { databaseKinds } from '../../../test/support/databases.ts';
import { Browser } from '../../../test/support/management.ts';
import { startPlaneWithRunner } from '../../../test/support/plane.ts';
import type { TestPlane, TestRunner } from '../../../test/support/plane.ts';
import { consentAtEntra, deliverCallback, saveOAuthIntegration, startConnect } from '../../../test/support/oauth.ts';
import { startEmulator } from '../../../emulator/index.ts';
import type { EmulatorHandle, User } from '../../../emulator/index.ts';
import { createAzureDevOpsClient } from '../../azure-devops/client.ts';

for (const { kind, skip } of await databaseKinds()) {
  describe(`authorize: OAuth Connect and PATs, and the attacks on them (${kind})`, { skip }, () => {
    let plane: TestPlane;
    let emu: EmulatorHandle;
    let runner: TestRunner;
    let integrationId: string;
    let runnerId: string;
    let adoUser: User;
    let otherAdoUser: User;
    const org = 'fabrikam';

    before(async () => {
      emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
      emu.world.addOrganization(org);
      emu.world.addProject(org, 'Web');
      adoUser = emu.world.addUser({ upn: `member@${emu.defaultTenant.domain}`, displayName: 'Member' });
      otherAdoUser = emu.world.addUser({ upn: `admin@${emu.defaultTenant.domain}`, displayName: 'Admin' });
      emu.world.addMember(org, adoUser.id);
      emu.world.addMember(org, otherAdoUser.id);
      await emu.world.createRepository(org, 'Web', 'web', { commits: 1, createdBy: adoUser.id });
      const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway', redirectUris: [], requirePkce: true });

      ({ plane, runner, runnerId } = await startPlaneWithRunner(kind, emu, { name: 'auth' }));
      // The admin registers the callback URL Keyway shows in the Entra app, then saves (Save & Test checks it).
      ({ integrationId } = await saveOAuthIntegration(plane, emu, runnerId, { app: registered, pat: true }));
    });
    after(async () => {
      await runner?.stop();
      await plane?.close();
      await emu?.close();
    });

    async function connect(browser: Browser, upn: string, query = '') {
      const authorizeUrl = await startConnect(browser, integrationId, query);
      const { callback } = await consentAtEntra(emu, authorizeUrl, upn);
      return deliverCallback(browser, callback);
    }

    async function storedOAuth(userId: string) {
      return (await runner.runtime.credentials.listForSubject({ type: 'user', id: userId })).filter((c) => c.method === 'oauth');
    }

    it('CheckAuthenticationForHost offers what the admin enabled, with a PAT deep link for the organization', async () => {
      const res = await plane.memberBrowser.request({
        method: 'GET',
        url: `/api/v1/scm/authentication?host=dev.azure.com&organization=${org}&returnTo=/open`,
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.authenticated, false);
      assert.equal(body.scmName, 'Azure DevOps');
      assert.equal(body.supportsOauth2.authUrl, `${plane.url}/api/v1/oauth/authorize/${integrationId}?returnTo=%2Fopen`);
      assert.equal(body.supportsPat.createUrl, `https://dev.azure.com/${org}/_usersSettings/tokens`);
      assert.deepEqual(
        body.supportsPat.requiredScopes.map((s: { scope: string }) => s.scope),
        ['vso.code_write'],
      );
      assert.equal(body.supportsPat.suggestedExpiryDays, 30);
    });

    it('the full OAuth journey ends with a stored, usable token, and the callback leaks nothing', async () => {
      const result = await connect(plane.memberBrowser, adoUser.upn, '?returnTo=/repositories&display=page');
      assert.equal(result.ok, true, result.message);
      assert.equal(result.status, 200);
      assert.equal(result.headers['referrer-policy'], 'no-referrer');
      assert.match(String(result.headers['content-security-policy']), /default-src 'none'/);
      assert.ok(!/src="https?:|href="https?:/.test(result.body), 'the callback page loads nothing from elsewhere');
      assert.equal(result.returnTo, '/repositories?keyway_authorization=connected');

      const token = await runner.runtime.tokens.getAccessToken(plane.member.id, integrationId);
      assert.equal(token.kind, 'bearer');
      const ado = createAzureDevOpsClient({
        target: { kind: 'services', organization: org },
        endpoints: { services: emu.urls.services, vssps: emu.urls.vssps },
        credential: { kind: 'bearer', token: token.token },
      });
      const repositories = await ado.listRepositories('Web');
      assert.deepEqual(
        repositories.items.map((r) => r.name),
        ['web'],
      );

      const check = await plane.memberBrowser.request({ method: 'GET', url: `/api/v1/scm/authentication?integrationId=${integrationId}` });
      assert.equal(check.json().authenticated, true);
      const listed = await plane.memberBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' });
      const [auth] = listed.json().authorizations;
      assert.equal(auth.method, 'oauth');
      assert.equal(auth.identity, adoUser.upn);
      assert.ok(auth.scopes.some((s: string) => s.endsWith('vso.code_write')));
      assert.ok(!listed.body.includes(token.token), 'the listing never carries the token');

      // Nothing from the callback URL reached a log line.
      for (const line of plane.logs.lines) {
        assert.ok(!/[?&](code|state)=[^&[]/.test(line) || line.includes('[redacted]'), `a log line carries OAuth parameters: ${line}`);
      }
      assert.ok(!plane.logs.text.includes(token.token) && !runner.logs.text.includes(token.token), 'no token in logs');
      const rows =
        JSON.stringify(await plane.database.db.selectFrom('audit_events').selectAll().execute()) +
        JSON.stringify(await plane.database.db.selectFrom('oauth_states').selectAll().execute());
      assert.ok(!rows.includes(token.token));
    });

    it("refuses missing, unknown, reused and expired state, and state from another user's session; nothing is stored", async () => {
      const authorizeUrl = await startConnect(plane.adminBrowser, integrationId);
      const { callback } = await consentAtEntra(emu, authorizeUrl, otherAdoUser.upn);
      const callbackUrl = new URL(callback);

      const missing = new URL(callbackUrl);
      missing.searchParams.delete('state');
      assert.equal((await deliverCallback(plane.adminBrowser, missing.href)).code, 'missing_state');
      const wrong = new URL(callbackUrl);
      wrong.searchParams.set('state', 'forged-state-value');
      assert.equal((await deliverCallback(plane.adminBrowser, wrong.href)).code, 'unknown_state');

      // The member's browser presents the admin's callback: the state is bound to the admin's session.
      const stolen = await deliverCallback(plane.memberBrowser, callback);
      assert.equal(stolen.ok, false);
      assert.equal(stolen.code, 'session_mismatch');
      // Consumed by that attempt: the real owner cannot reuse it either.
      const reused = await deliverCallback(plane.adminBrowser, callback);
      assert.equal(reused.code, 'unknown_state');
      assert.deepEqual(await storedOAuth(plane.admin.id), []);

      const second = await startConnect(plane.adminBrowser, integrationId);
      const { callback: late } = await consentAtEntra(emu, second, otherAdoUser.upn);
      await plane.database.db
        .updateTable('oauth_states')
        .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
        .execute();
      assert.equal((await deliverCallback(plane.adminBrowser, late)).code, 'expired_state');
      // Anonymous: no session at all.
      const anon = new Browser(plane.app);
      const third = await startConnect(plane.adminBrowser, integrationId);
      const { callback: anonymous } = await consentAtEntra(emu, third, otherAdoUser.upn);
      assert.equal((await deliverCallback(anon, anonymous)).code, 'session_mismatch');
      assert.deepEqual(await storedOAuth(plane.admin.id), []);
    });

    it('refuses a replayed code, a wrong PKCE verifier and a wrong nonce; nothing is stored', async () => {
      // Code replay: a completed flow's code presented again with a fresh state.
      const first = await startConnect(plane.adminBrowser, integrationId);
      const { callback: firstCallback } = await consentAtEntra(emu, first, otherAdoUser.upn);
      assert.equal((await deliverCallback(plane.adminBrowser, firstCallback)).ok, true);
      const usedCode = new URL(firstCallback).searchParams.get('code') ?? '';
      await runner.runtime.credentials.delete((await storedOAuth(plane.admin.id))[0]?.id ?? '');

      const replay = await startConnect(plane.adminBrowser, integrationId);
      const { callback: replayCallback } = await consentAtEntra(emu, replay, otherAdoUser.upn);
      const forged = new URL(replayCallback);
      forged.searchParams.set('code', usedCode);
      const replayed = await deliverCallback(plane.adminBrowser, forged.href);
      assert.equal(replayed.ok, false);
      assert.match(replayed.message, /AADSTS54005|already used/);

      // Wrong verifier: the runner's stored verifier is replaced before the callback arrives.
      const pkce = await startConnect(plane.adminBrowser, integrationId);
      const { callback: pkceCallback } = await consentAtEntra(emu, pkce, otherAdoUser.upn);
      const { encryptField } = await import('../../crypto/index.ts');
      for (const row of await runner.store.database.db.selectFrom('oauth_pending').selectAll().execute()) {
        await runner.store.database.db
          .updateTable('oauth_pending')
          .set({
            verifier: encryptField(runner.store.keys.current(), 'x'.repeat(43), {
              table: 'oauth_pending',
              column: 'verifier',
              rowId: row.state_hash,
            }),
          })
          .where('state_hash', '=', row.state_hash)
          .execute();
      }
      const badPkce = await deliverCallback(plane.adminBrowser, pkceCallback);
      assert.equal(badPkce.ok, false);
      assert.match(badPkce.message, /AADSTS50148|code_verifier/i);

      // Wrong nonce: the ID token's nonce no longer matches what the runner expects.
      const nonce = await startConnect(plane.adminBrowser, integrationId);
      const { callback: nonceCallback } = await consentAtEntra(emu, nonce, otherAdoUser.upn);
      await runner.store.database.db.updateTable('oauth_pending').set({ nonce: 'another-nonce' }).execute();
      const badNonce = await deliverCallback(plane.adminBrowser, nonceCallback);
      assert.equal(badNonce.ok, false);
      assert.equal(badNonce.code, 'id_token_invalid');
      assert.deepEqual(await storedOAuth(plane.admin.id), []);
    });

    it("mix-up defence: a response on another integration's callback, or naming another issuer, is refused", async () => {
      const authorizeUrl = await startConnect(plane.adminBrowser, integrationId);
      const { callback } = await consentAtEntra(emu, authorizeUrl, otherAdoUser.upn);
      const other = new URL(callback);
      other.pathname = `/api/v1/oauth/callback/int_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      assert.equal((await deliverCallback(plane.adminBrowser, other.href)).code, 'callback_mismatch');

      const again = await startConnect(plane.adminBrowser, integrationId);
      const { callback: second } = await consentAtEntra(emu, again, otherAdoUser.upn);
      const withIss = new URL(second);
      withIss.searchParams.set('iss', 'https://login.evil.example/tenant/v2.0');
      assert.equal((await deliverCallback(plane.adminBrowser, withIss.href)).code, 'issuer_mismatch');
      assert.deepEqual(await storedOAuth(plane.admin.id), []);
    });

    it('consent denied and the organization forbidding OAuth apps give clear errors', async () => {
      const denied = await startConnect(plane.adminBrowser, integrationId);
      const { callback } = await consentAtEntra(emu, denied, otherAdoUser.upn, 'cancel');
      const result = await deliverCallback(plane.adminBrowser, callback);
      assert.equal(result.code, 'consent_denied');
      assert.match(result.message, /declined the consent/);

      emu.world.setOAuthPolicy(org, false);
      try {
        const blocked = await startConnect(plane.adminBrowser, integrationId);
        const { callback: blockedCallback } = await consentAtEntra(emu, blocked, otherAdoUser.upn);
        const outcome = await deliverCallback(plane.adminBrowser, blockedCallback);
        assert.equal(outcome.code, 'oauth_blocked');
        assert.match(outcome.message, /Third-party application access via OAuth/);
      } finally {
        emu.world.setOAuthPolicy(org, true);
      }
    });

    it("returnTo cannot redirect elsewhere; another organization's integration cannot be used", async () => {
      const authorizeUrl = await startConnect(plane.adminBrowser, integrationId, `?returnTo=${encodeURIComponent('//evil.example/x')}`);
      const { callback } = await consentAtEntra(emu, authorizeUrl, otherAdoUser.upn);
      const result = await deliverCallback(plane.adminBrowser, callback);
      assert.equal(result.ok, true);
      assert.equal(result.returnTo, '/?keyway_authorization=connected');

      // An operator gives the member a second organization (members cannot create one).
      const org2 = await plane.core.identity.createOrganization(`Elsewhere ${randomUUID().slice(0, 6)}`, plane.member.id);
      await plane.memberBrowser.request({ method: 'PUT', url: '/api/v1/me/organization', payload: { organizationId: org2.id } });
      const foreign = await plane.memberBrowser.request({ method: 'GET', url: `/api/v1/oauth/authorize/${integrationId}` });
      assert.equal(foreign.statusCode, 404);
      const pat = await plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId, organization: org, token: 'x' },
      });
      assert.equal(pat.statusCode, 404);
      await plane.memberBrowser.request({
        method: 'PUT',
        url: '/api/v1/me/organization',
        payload: { organizationId: plane.organizationId },
      });

      // API tokens cannot run a browser flow.
      const apiToken = (await plane.memberBrowser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'x' } })).json()
        .token as string;
      const viaToken = await plane.app.inject({
        method: 'GET',
        url: `/api/v1/oauth/authorize/${integrationId}`,
        headers: { authorization: `Bearer ${apiToken}` },
      });
      assert.equal(viaToken.statusCode, 403);
    });

    it('PAT journey: a good PAT is checked and stored; a wrong or under-scoped one is refused with the reason and nothing is stored', async () => {
      const good = emu.world.createPat(otherAdoUser.id, { scopes: ['vso.code_write'], orgs: [org] });
      const res = await plane.adminBrowser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId, organization: org, token: good.token, expiresAt: new Date(Date.now() + 3 * 86_400_000).toISOString() },
      });
      assert.equal(res.statusCode, 201, res.body);
      assert.ok(!res.body.includes(good.token));
      const token = await runner.runtime.tokens.getAccessToken(plane.admin.id, integrationId);
      assert.deepEqual({ kind: token.kind, token: token.token }, { kind: 'pat', token: good.token });
      const listed = (await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' })).json();
      const pat = listed.authorizations.find((a: { method: string }) => a.method === 'pat');
      assert.deepEqual(pat.warnings, ['expires-soon']);

      const before = (await runner.runtime.credentials.listForSubject({ type: 'user', id: plane.member.id })).length;
      const wrong = await plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId, organization: org, token: 'w'.repeat(52) },
      });
      assert.equal(wrong.statusCode, 422, wrong.body);
      assert.equal(wrong.json().error.code, 'pat_rejected');
      assert.match(wrong.json().error.message, /did not accept the token/);
      const weak = emu.world.createPat(adoUser.id, { scopes: ['vso.project'], orgs: [org] });
      const underScoped = await plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId, organization: org, token: weak.token },
      });
      assert.equal(underScoped.json().error.code, 'pat_rejected');
      assert.match(underScoped.json().error.message, /Code \(Read & write\)/);
      assert.equal((await runner.runtime.credentials.listForSubject({ type: 'user', id: plane.member.id })).length, before);
      const all =
        plane.logs.text + runner.logs.text + JSON.stringify(await plane.database.db.selectFrom('audit_events').selectAll().execute());
      for (const secret of [good.token, weak.token]) assert.ok(!all.includes(secret), 'a PAT reached a log or the audit log');
    });

    it('deleting an authorization removes it; another user cannot delete mine', async () => {
      const listed = (await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' })).json();
      const target = listed.authorizations[0];
      const bySomeoneElse = await plane.memberBrowser.request({
        method: 'DELETE',
        url: `/api/v1/scm/authorizations/${runnerId}/${target.id}`,
      });
      assert.equal(bySomeoneElse.statusCode, 404);
      const mine = await plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/scm/authorizations/${runnerId}/${target.id}` });
      assert.equal(mine.statusCode, 200);
      assert.equal(await runner.runtime.credentials.get(target.id), undefined);
    });
  });
}
