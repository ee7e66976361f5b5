// oauth app connections against the emulator: the instance-wide Entra app, a project owner's
// consent through the browser, the organization picked afterwards, syncs running on the delegated
// token (refreshed when it expires), and the attacks on the consent: another session, a replay, a
// mix-up, a callback at another address, an API token, someone who may not manage the connection.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually } from '../../../test/support/plane.ts';
import {
  createSync,
  plainAndSecretVariables,
  dumpManagementTables,
  expectStatus,
  startAutomationWorld,
} from '../../../test/support/automation.ts';
import type { AutomationWorld } from '../../../test/support/automation.ts';
import { consentAtEntra, deliverCallback } from '../../../test/support/oauth.ts';
import type { Browser } from '../../../test/support/management.ts';
import { createCredentialStore } from '../../runner/credentials/store.ts';
import { createFieldCrypto } from '../../runner/keys/field-crypto.ts';
import type { OAuthTokenSet } from '../../runner/oauth/code-flow.ts';
import { OAUTH_CALLBACK_PATH } from './service.ts';
import { expireStoredAccessToken } from '../../../test/support/runner-credentials.ts';

for (const { kind, skip } of await databaseKinds()) {
  describe(`oauth app connections (${kind})`, { skip }, () => {
    let w: AutomationWorld;
    // Filled in once the emulator runs: the plane reads the instance app through a function.
    const instanceApp: { clientId?: string; clientSecret?: string } = {};
    let tenantId: string;
    const base = () => `/api/v1/projects/${w.projectId}/app-connections`;
    const callbackHost = () => new URL(w.plane.url).host;

    before(async () => {
      w = await startAutomationWorld(kind, { azureDevOpsApp: instanceApp });
      tenantId = w.seeded.emu.defaultTenant.id;
      const { app, clientSecret } = w.seeded.emu.entra.addApp(tenantId, {
        displayName: 'Keyway app connections',
        redirectUris: [`${w.plane.url}${OAUTH_CALLBACK_PATH}`],
      });
      instanceApp.clientId = app.clientId;
      instanceApp.clientSecret = clientSecret;
    });
    after(async () => w?.close());

    const credentials = () => createCredentialStore(w.runner.store.database.db, createFieldCrypto(w.runner.store.keys));
    const refreshes = () => w.seeded.emu.entra.counters().byGrant.refresh_token ?? 0;

    async function createPending(body: Record<string, unknown> = {}) {
      const saved = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'POST',
          url: base(),
          payload: { runnerId: w.runnerId, name: `oauth ${randomUUID().slice(0, 8)}`, method: 'oauth', tenantId, ...body },
        }),
        201,
      ).json();
      return saved as {
        connection: { id: string; status: string; credentialSet: boolean; authorizeUrl: string };
        authorizeUrl: string;
        validation: { valid: boolean };
      };
    }

    /** The browser's round trip: Keyway's authorize route → Entra's consent page → the callback URL. */
    async function consent(browser: Browser, authorizeUrl: string, query = '', action: 'accept' | 'cancel' = 'accept') {
      const start = await browser.request({ method: 'GET', url: `${authorizeUrl}${query}` });
      assert.equal(start.statusCode, 302, start.body);
      const entra = String(start.headers.location);
      return { entra, callback: (await consentAtEntra(w.seeded.emu, entra, w.seeded.user.upn, action)).callback };
    }

    /** The owner's change to a connection, answered with `status`. */
    const update = async (id: string, payload: Record<string, unknown>, status: number) =>
      expectStatus(await w.plane.adminBrowser.request({ method: 'PATCH', url: `${base()}/${id}`, payload }), status).json();

    const runSync = (connectionId: string, groupName: string) =>
      createSync(w, {
        name: `sync ${groupName}`,
        connectionId,
        groupName,
        variables: plainAndSecretVariables(),
      });

    async function expireStoredToken(connectionId: string) {
      const [record] = await credentials().listForSubject({ type: 'app-connection', id: connectionId });
      assert.ok(record);
      await expireStoredAccessToken(w.runner.store.database.db, record.id);
      w.seeded.emu.entra.faults.expireAccessTokensNow();
    }

    it('connects through consent, offers the organizations to pick from, runs syncs on the delegated token and refreshes it once when it expires', async () => {
      const { connection, authorizeUrl, validation } = await createPending();
      assert.equal(validation.valid, true);
      assert.equal(connection.status, 'pending');
      assert.equal(connection.credentialSet, false);
      assert.equal(authorizeUrl, `${base()}/${connection.id}/oauth/authorize`);
      assert.equal(connection.authorizeUrl, authorizeUrl);
      const notYet = expectStatus(
        await w.plane.memberBrowser.request({ method: 'POST', url: `${base()}/${connection.id}/test` }),
        200,
      ).json();
      assert.equal(notYet.code, 'not_connected');
      const early = await update(connection.id, { organization: w.seeded.org }, 409);
      assert.equal(early.error.code, 'not_connected');

      const { entra, callback } = await consent(
        w.plane.adminBrowser,
        authorizeUrl,
        `?returnTo=${encodeURIComponent(`/projects/${w.projectId}`)}`,
      );
      const asked = new URL(entra);
      assert.equal(asked.searchParams.get('client_id'), instanceApp.clientId);
      assert.equal(asked.searchParams.get('redirect_uri'), `${w.plane.url}${OAUTH_CALLBACK_PATH}`);
      assert.equal(asked.searchParams.get('code_challenge_method'), 'S256');
      assert.match(asked.searchParams.get('scope') ?? '', /offline_access .*vso\.variablegroups_manage.*vso\.profile/);
      assert.ok(asked.pathname.startsWith(`/${tenantId}/`), 'the consent goes to the tenant the owner picked');
      assert.ok(callback.startsWith(`${w.plane.url}${OAUTH_CALLBACK_PATH}?`), callback);

      const back = await deliverCallback(w.plane.adminBrowser, callback, { keepHost: true });
      assert.equal(back.status, 200, back.message);
      assert.equal(back.code, 'connected');
      assert.match(back.message, new RegExp(`connected as ${w.seeded.user.upn.replace(/\./g, '\\.')}`));
      assert.equal(back.returnTo, `/projects/${w.projectId}?keyway_authorization=connected`);
      assert.equal(back.headers['referrer-policy'], 'no-referrer');

      const connected = expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: `${base()}/${connection.id}` }), 200).json();
      assert.equal(connected.status, 'active');
      assert.equal(connected.credentialSet, true);
      assert.equal(connected.organization, null);
      assert.deepEqual(connected.organizations, [w.seeded.org]);
      assert.equal(connected.identity.id, w.seeded.user.id);

      const held = await credentials().listForSubject({ type: 'app-connection', id: connection.id });
      assert.equal(held.length, 1);
      assert.equal(held[0]?.method, 'oauth');
      const tokenSet = JSON.parse((await credentials().readSecret(held[0]!.id)) ?? '{}') as OAuthTokenSet;
      assert.ok(tokenSet.refresh_token && tokenSet.access_token);

      const picked = await update(connection.id, { organization: w.seeded.org }, 200);
      assert.equal(picked.validation.valid, true, JSON.stringify(picked.validation));
      assert.equal(picked.connection.organization, w.seeded.org);

      const sync = await runSync(connection.id, 'oauth-group');
      const first = await sync.run();
      assert.equal(first.status, 'succeeded', JSON.stringify(first));
      assert.equal(first.counts.created + first.counts.unchanged, 2, JSON.stringify(first.counts));
      const group = w.seeded.emu.world
        .listVariableGroups(w.seeded.emu.world.requireOrganization(w.seeded.org))
        .find((g) => g.name === 'oauth-group');
      assert.equal(group?.variables.get('HELLO')?.value, 'world');

      // The access token expires: the next run refreshes it exactly once and goes on.
      await expireStoredToken(connection.id);
      const before = refreshes();
      const [again, alongside] = await Promise.all([
        sync.run(),
        w.plane.memberBrowser
          .request({ method: 'POST', url: `${base()}/${connection.id}/test` })
          .then((res) => expectStatus(res, 200).json() as { valid: boolean }),
      ]);
      assert.equal(again.status, 'succeeded', JSON.stringify(again));
      assert.equal(alongside.valid, true, JSON.stringify(alongside));
      assert.equal(refreshes() - before, 1);
      const rotated = JSON.parse(
        (await credentials().readSecret((await credentials().listForSubject({ type: 'app-connection', id: connection.id }))[0]!.id)) ??
          '{}',
      ) as OAuthTokenSet;
      assert.notEqual(rotated.access_token, tokenSet.access_token);

      // Nothing of the tokens or the instance app's secret is on the management plane.
      const tables = await dumpManagementTables(w.plane);
      for (const secret of [
        tokenSet.access_token,
        tokenSet.refresh_token ?? 'x',
        rotated.access_token,
        rotated.refresh_token ?? 'x',
        instanceApp.clientSecret ?? 'x',
      ]) {
        assert.ok(!tables.includes(secret), 'a token or the app secret reached a management table');
        assert.ok(!w.plane.logs.text.includes(secret), 'a token or the app secret reached the management log');
        assert.ok(!w.runner.logs.text.includes(secret), 'a token or the app secret reached the runner log');
      }

      // Revoked upstream: the test says to reconnect; reconnecting brings it back.
      w.seeded.emu.entra.faults.revokeRefreshTokens({ clientId: instanceApp.clientId });
      await expireStoredToken(connection.id);
      const revoked = expectStatus(
        await w.plane.memberBrowser.request({ method: 'POST', url: `${base()}/${connection.id}/test` }),
        200,
      ).json();
      assert.equal(revoked.valid, false);
      assert.equal(revoked.code, 'reauthorization_required');
      assert.match(revoked.message, /connected again \(Reconnect\)/);
      assert.equal(
        expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: `${base()}/${connection.id}` }), 200).json().status,
        'invalid',
      );
      const failedRun = await sync.run();
      assert.equal(failedRun.status, 'failed');
      assert.match(failedRun.error, /Reconnect/);

      const reconnect = await consent(w.plane.adminBrowser, authorizeUrl);
      const reconnected = await deliverCallback(w.plane.adminBrowser, reconnect.callback, { keepHost: true });
      assert.equal(reconnected.code, 'connected', reconnected.message);
      assert.equal(
        expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: `${base()}/${connection.id}` }), 200).json().status,
        'active',
      );
      assert.equal((await sync.run()).status, 'succeeded');
      assert.equal(
        (await credentials().listForSubject({ type: 'app-connection', id: connection.id })).length,
        1,
        'the reconnect replaced the tokens',
      );

      expectStatus(
        await w.plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/projects/${w.projectId}/syncs/${sync.syncId}` }),
        204,
      );
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${connection.id}` }), 204);
      await eventually(
        async () => (await credentials().listForSubject({ type: 'app-connection', id: connection.id })).length === 0,
        'runner forgets the tokens',
      );
    });

    it('an organization given at create is checked right after consent; one the account is not in is refused with the reason', async () => {
      w.seeded.emu.world.addOrganization('fabrikam-oauth');
      const { connection, authorizeUrl } = await createPending({ organization: 'fabrikam-oauth' });
      const { callback } = await consent(w.plane.adminBrowser, authorizeUrl);
      const back = await deliverCallback(w.plane.adminBrowser, callback, { keepHost: true });
      assert.equal(back.ok, false);
      assert.equal(back.code, 'organization_refused');
      assert.match(back.message, /organization &#39;fabrikam-oauth&#39; refused the account/);
      const row = expectStatus(await w.plane.adminBrowser.request({ method: 'GET', url: `${base()}/${connection.id}` }), 200).json();
      assert.equal(row.status, 'invalid');
      assert.equal(row.lastTest.code, 'organization_refused');
      // The consent was kept: picking the organization the account is in needs no second one.
      const picked = await update(connection.id, { organization: w.seeded.org }, 200);
      assert.equal(picked.validation.valid, true, JSON.stringify(picked.validation));
      assert.equal(picked.connection.status, 'active');
      const refused = await update(connection.id, { organization: 'fabrikam-oauth' }, 400);
      assert.equal(refused.error.code, 'organization_refused');
      assert.equal(refused.error.field, 'organization');
      assert.equal(
        expectStatus(await w.plane.adminBrowser.request({ method: 'GET', url: `${base()}/${connection.id}` }), 200).json().organization,
        w.seeded.org,
        'a refused change changes nothing',
      );
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${connection.id}` }), 204);
    });

    it('refuses, storing nothing: a callback in another session, a replay, a missing state, a foreign issuer, a declined consent', async () => {
      const { connection, authorizeUrl } = await createPending();
      const held = async () => (await credentials().listForSubject({ type: 'app-connection', id: connection.id })).length;

      // The member's browser delivers the admin's callback (login CSRF): refused, and the state is spent.
      const stolen = await consent(w.plane.adminBrowser, authorizeUrl);
      const other = await deliverCallback(w.plane.memberBrowser, stolen.callback, { keepHost: true });
      assert.equal(other.code, 'session_mismatch');
      const afterwards = await deliverCallback(w.plane.adminBrowser, stolen.callback, { keepHost: true });
      assert.equal(afterwards.code, 'unknown_state');
      assert.equal(await held(), 0);

      // A replayed callback after a good one.
      const good = await consent(w.plane.adminBrowser, authorizeUrl);
      assert.equal((await deliverCallback(w.plane.adminBrowser, good.callback, { keepHost: true })).code, 'connected');
      const replay = await deliverCallback(w.plane.adminBrowser, good.callback, { keepHost: true });
      assert.equal(replay.code, 'unknown_state');
      assert.equal(await held(), 1);
      const tokensBefore = await credentials().readSecret(
        (await credentials().listForSubject({ type: 'app-connection', id: connection.id }))[0]!.id,
      );

      // Mix-up: the response names another issuer than the request went to.
      const mixed = await consent(w.plane.adminBrowser, authorizeUrl);
      const url = new URL(mixed.callback);
      url.searchParams.set('iss', 'https://login.attacker.example/x/v2.0');
      assert.equal((await deliverCallback(w.plane.adminBrowser, url.href, { keepHost: true })).code, 'issuer_mismatch');

      // Declined at Entra: the connection keeps the tokens it had.
      const declined = await consent(w.plane.adminBrowser, authorizeUrl, '', 'cancel');
      const no = await deliverCallback(w.plane.adminBrowser, declined.callback, { keepHost: true });
      assert.equal(no.code, 'consent_denied');
      assert.match(no.message, /declined/);
      const [record] = await credentials().listForSubject({ type: 'app-connection', id: connection.id });
      assert.equal(await credentials().readSecret(record!.id), tokensBefore, 'a failed consent changed the stored tokens');
      assert.equal(
        expectStatus(await w.plane.adminBrowser.request({ method: 'GET', url: `${base()}/${connection.id}` }), 200).json().status,
        'active',
      );

      const missing = await w.plane.adminBrowser.request({
        method: 'GET',
        url: `${OAUTH_CALLBACK_PATH}?code=abc`,
        headers: { host: callbackHost() },
      });
      assert.equal(missing.statusCode, 400);
      assert.match(missing.body, /data-code="missing_state"/);
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${connection.id}` }), 204);
    });

    it('a callback reached at another address than KEYWAY_PUBLIC_URL says what to fix; returnTo never leaves Keyway', async () => {
      const { connection, authorizeUrl } = await createPending();
      const { callback } = await consent(w.plane.adminBrowser, authorizeUrl, `?returnTo=${encodeURIComponent('//evil.example/steal')}`);
      const elsewhere = new URL(callback);
      const wrongHost = await w.plane.adminBrowser.request({
        method: 'GET',
        url: `${elsewhere.pathname}${elsewhere.search}`,
        headers: { host: 'keyway.internal:8080' },
      });
      assert.equal(wrongHost.statusCode, 400);
      assert.match(wrongHost.body, /data-code="callback_mismatch"/);
      assert.match(
        wrongHost.body,
        /reached at http:\/\/keyway\.internal:8080, but KEYWAY_PUBLIC_URL says Keyway is at http:\/\/127\.0\.0\.1:\d+/,
      );
      assert.match(wrongHost.body, /behind a reverse proxy, set KEYWAY_TRUST_PROXY=true/);
      // The state was not spent by the misdirected request: the right address still completes it.
      const right = await deliverCallback(w.plane.adminBrowser, callback, { keepHost: true });
      assert.equal(right.code, 'connected', right.message);
      assert.equal(right.returnTo, `/projects/${w.projectId}?keyway_authorization=connected`);

      const refused = await w.plane.adminBrowser.request({
        method: 'GET',
        url: `${OAUTH_CALLBACK_PATH}?error=invalid_request&error_description=${encodeURIComponent('AADSTS50011: The redirect URI does not match')}`,
        headers: { host: callbackHost() },
      });
      assert.match(
        refused.body,
        /Entra ID refused the redirect URI: register http:\/\/127\.0\.0\.1:\d+\/organization\/app-connections\/azure-devops\/oauth\/callback/,
      );
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${connection.id}` }), 204);
    });

    it('only a project owner in a browser session may connect; another project cannot see it; oauth settings cannot be replaced by secrets', async () => {
      const { connection, authorizeUrl } = await createPending();
      const member = expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: authorizeUrl }), 403).json();
      assert.equal(member.error.code, 'forbidden');
      expectStatus(await w.outsider.request({ method: 'GET', url: authorizeUrl }), 404);
      expectStatus(await w.outsider.request({ method: 'GET', url: `${base()}/${connection.id}` }), 404);
      expectStatus(await w.outsider.request({ method: 'POST', url: `${base()}/${connection.id}/test` }), 404);
      const apiToken = expectStatus(
        await w.plane.adminBrowser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'automation' } }),
        201,
      ).json().token as string;
      const viaToken = await w.plane.app.inject({ method: 'GET', url: authorizeUrl, headers: { authorization: `Bearer ${apiToken}` } });
      assert.equal(viaToken.statusCode, 403);
      assert.match(viaToken.json().error.message, /browser session/);

      const secret = await update(connection.id, { clientSecret: 'not-for-oauth' }, 400);
      assert.equal(secret.error.code, 'field_not_for_method');
      const withSecret = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'POST',
          url: base(),
          payload: { runnerId: w.runnerId, name: 'x', method: 'oauth', tenantId, accessToken: 'nope' },
        }),
        400,
      ).json();
      assert.equal(withSecret.error.code, 'field_not_for_method');
      const noTenant = expectStatus(
        await w.plane.adminBrowser.request({ method: 'POST', url: base(), payload: { runnerId: w.runnerId, name: 'x', method: 'oauth' } }),
        400,
      ).json();
      assert.equal(noTenant.error.field, 'tenantId');
      const common = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'POST',
          url: base(),
          payload: { runnerId: w.runnerId, name: 'x', method: 'oauth', tenantId: 'common' },
        }),
        400,
      ).json();
      assert.equal(common.error.code, 'invalid_tenant_id');
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${connection.id}` }), 204);
    });
  });
}
