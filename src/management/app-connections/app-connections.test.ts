import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
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
import { generatePat } from '../../../emulator/index.ts';
import { seal } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import { createCredentialStore } from '../../runner/credentials/store.ts';
import { createFieldCrypto } from '../../runner/keys/field-crypto.ts';
import { createAppConnectionService, OAUTH_CALLBACK_PATH } from './service.ts';

const OAUTH_APP = { clientId: randomUUID(), clientSecret: `oauth-app-${randomUUID()}` };

for (const { kind, skip } of await databaseKinds()) {
  describe(`App connections: create, validate, use, delete (${kind})`, { skip }, () => {
    let w: AutomationWorld;
    const base = () => `/api/v1/projects/${w.projectId}/app-connections`;
    const canaries: string[] = [OAUTH_APP.clientSecret];

    before(async () => {
      w = await startAutomationWorld(kind, { azureDevOpsApp: OAUTH_APP });
      canaries.push(w.seeded.pat, w.seeded.clientSecret);
    });
    after(async () => w?.close());

    async function create(body: Record<string, unknown>, status = 201) {
      return expectStatus(
        await w.plane.adminBrowser.request({ method: 'POST', url: base(), payload: { runnerId: w.runnerId, ...body } }),
        status,
      ).json();
    }
    const credentials = () => createCredentialStore(w.runner.store.database.db, createFieldCrypto(w.runner.store.keys));

    async function runSync(connectionId: string, groupName: string) {
      const sync = await createSync(w, {
        name: `use ${groupName}`,
        connectionId,
        groupName,
        variables: plainAndSecretVariables(),
      });
      return { syncId: sync.syncId, run: await sync.run() };
    }

    it('access-token with an organization: validated (identity, scopes checked, the rest listed), held by the runner only, used, tested, deleted', async () => {
      const saved = await create({ name: 'ci pat', method: 'access-token', organization: w.seeded.org, accessToken: w.seeded.pat });
      assert.equal(saved.validation.valid, true, JSON.stringify(saved.validation));
      assert.equal(saved.validation.identity.id, w.seeded.user.id);
      assert.deepEqual(saved.validation.checkedScopes, ['vso.project', 'vso.variablegroups_write']);
      assert.ok(saved.validation.uncheckedScopes.includes('vso.release_execute'));
      assert.equal(saved.connection.credentialSet, true);
      assert.equal(saved.connection.organization, w.seeded.org);
      const id = saved.connection.id as string;

      const held = await credentials().listForSubject({ type: 'app-connection', id });
      assert.equal(held.length, 1);
      assert.equal(held[0]?.method, 'access-token');
      assert.equal(await credentials().readSecret(held[0]!.id), w.seeded.pat);

      const { syncId, run } = await runSync(id, 'pat-used');
      assert.equal(run.status, 'succeeded', JSON.stringify(run));

      const tested = expectStatus(await w.plane.memberBrowser.request({ method: 'POST', url: `${base()}/${id}/test` }), 200).json();
      assert.equal(tested.valid, true);
      const list = expectStatus(await w.plane.memberBrowser.request({ method: 'GET', url: base() }), 200).json();
      assert.ok(list.connections.some((c: { id: string }) => c.id === id));

      const inUse = expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${id}` }), 409).json();
      assert.equal(inUse.error.code, 'connection_in_use');
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/projects/${w.projectId}/syncs/${syncId}` }), 204);
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${id}` }), 204);
      await eventually(
        async () => (await credentials().listForSubject({ type: 'app-connection', id })).length === 0,
        'runner forgets the credential',
      );
      expectStatus(await w.plane.adminBrowser.request({ method: 'GET', url: `${base()}/${id}` }), 404);
    });

    it('access-token without an organization: checked through the profile, organizations offered to pick from; picking one validates again', async () => {
      const allOrgs = w.seeded.emu.world.createPat(w.seeded.user.id, {
        scopes: ['vso.profile', 'vso.project', 'vso.variablegroups_manage'],
        orgs: 'all',
      });
      canaries.push(allOrgs.token);
      const saved = await create({ name: 'profile pat', method: 'access-token', accessToken: allOrgs.token });
      assert.equal(saved.validation.valid, true, JSON.stringify(saved.validation));
      assert.deepEqual(saved.validation.organizations, [w.seeded.org]);
      assert.deepEqual(saved.connection.organizations, [w.seeded.org]);
      assert.equal(saved.connection.organization, null);
      const picked = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'PATCH',
          url: `${base()}/${saved.connection.id}`,
          payload: { organization: w.seeded.org },
        }),
        200,
      ).json();
      assert.equal(picked.connection.organization, w.seeded.org);
      assert.equal(picked.validation.valid, true);

      // A token limited to one organization cannot read the profile: the message says what to do.
      const limited = await create({ name: 'limited pat', method: 'access-token', accessToken: w.seeded.pat }, 400);
      assert.equal(limited.error.code, 'invalid_access_token');
      assert.equal(limited.error.field, 'accessToken');
      assert.match(limited.error.message, /Enter the organization the token is for/);
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.connection.id}` }), 204);
    });

    it('access-token mistakes get their own message: a wrong token, a token lacking the variable group scope, a token lacking project read', async () => {
      const wrong = await create(
        { name: 'wrong pat', method: 'access-token', organization: w.seeded.org, accessToken: generatePat() },
        400,
      );
      assert.equal(wrong.error.code, 'invalid_access_token');
      assert.equal(wrong.error.field, 'accessToken');
      assert.match(wrong.error.message, /did not accept the access token: it is wrong, expired or revoked/);

      const readOnly = w.seeded.emu.world.createPat(w.seeded.user.id, {
        scopes: ['vso.project', 'vso.variablegroups_read'],
        orgs: [w.seeded.org],
      });
      const noWrite = await create(
        { name: 'read pat', method: 'access-token', organization: w.seeded.org, accessToken: readOnly.token },
        400,
      );
      assert.equal(noWrite.error.code, 'missing_scopes');
      assert.equal(noWrite.error.field, 'accessToken');
      assert.match(noWrite.error.message, /lacks Variable Groups \(Read, create & manage\) \[vso\.variablegroups_manage\]/);
      assert.match(
        noWrite.error.message,
        /Release \(Read, write & execute\) \[vso\.release_execute\].*Service Connections \(Read & query\) \[vso\.serviceendpoint_query\]/,
      );

      const noProject = w.seeded.emu.world.createPat(w.seeded.user.id, { scopes: ['vso.variablegroups_manage'], orgs: [w.seeded.org] });
      const noRead = await create(
        { name: 'vg pat', method: 'access-token', organization: w.seeded.org, accessToken: noProject.token },
        400,
      );
      assert.equal(noRead.error.code, 'missing_scopes');
      assert.match(noRead.error.message, /lacks Project and Team \(Read\) \[vso\.project\]/);

      // Nothing was kept anywhere for refused credentials.
      const list = expectStatus(await w.plane.adminBrowser.request({ method: 'GET', url: base() }), 200).json();
      assert.ok(!list.connections.some((c: { name: string }) => ['wrong pat', 'read pat', 'vg pat'].includes(c.name)));
    });

    it('client-secret: client-credentials token cached until shortly before expiry; a wrong secret and a service principal outside the organization say so', async () => {
      const { emu } = w.seeded;
      const tenantId = emu.defaultTenant.id;
      const sp = emu.entra.addApp(tenantId, { displayName: 'Keyway sync principal' });
      canaries.push(sp.clientSecret);
      emu.world.addServicePrincipalToOrg(w.seeded.org, { clientId: sp.app.clientId });

      const wrong = await create(
        {
          name: 'sp wrong',
          method: 'client-secret',
          organization: w.seeded.org,
          tenantId,
          clientId: sp.app.clientId,
          clientSecret: 'not-the-secret',
        },
        400,
      );
      assert.equal(wrong.error.field, 'clientSecret');
      assert.match(wrong.error.message, /client secret is wrong or expired \(AADSTS7000215\)/);

      const stranger = emu.entra.addApp(tenantId, { displayName: 'Not in the organization' });
      const outside = await create(
        {
          name: 'sp outside',
          method: 'client-secret',
          organization: w.seeded.org,
          tenantId,
          clientId: stranger.app.clientId,
          clientSecret: stranger.clientSecret,
        },
        400,
      );
      assert.equal(outside.error.code, 'service_principal_not_member');
      assert.equal(outside.error.field, 'organization');
      assert.match(outside.error.message, /the service principal is not a member of the organization/);

      const unknownApp = await create(
        {
          name: 'sp unknown',
          method: 'client-secret',
          organization: w.seeded.org,
          tenantId,
          clientId: randomUUID(),
          clientSecret: sp.clientSecret,
        },
        400,
      );
      assert.equal(unknownApp.error.field, 'clientId');
      assert.match(unknownApp.error.message, /AADSTS700016/);

      const missing = await create(
        { name: 'sp no org', method: 'client-secret', tenantId, clientId: sp.app.clientId, clientSecret: sp.clientSecret },
        400,
      );
      assert.equal(missing.error.field, 'organization');

      const saved = await create({
        name: 'sp',
        method: 'client-secret',
        organization: w.seeded.org,
        tenantId,
        clientId: sp.app.clientId,
        clientSecret: sp.clientSecret,
      });
      assert.equal(saved.validation.valid, true, JSON.stringify(saved.validation));
      assert.equal(saved.connection.clientId, sp.app.clientId.toLowerCase());

      const tokensBefore = emu.entra.counters().byGrant.client_credentials ?? 0;
      const first = await runSync(saved.connection.id, 'sp-used');
      assert.equal(first.run.status, 'succeeded', JSON.stringify(first.run));
      const second = expectStatus(
        await w.plane.adminBrowser.request({ method: 'POST', url: `/api/v1/projects/${w.projectId}/syncs/${first.syncId}/run` }),
        200,
      ).json();
      assert.equal(second.status, 'succeeded');
      assert.equal(second.writes, 0);
      assert.equal((emu.entra.counters().byGrant.client_credentials ?? 0) - tokensBefore, 1, 'one token for two runs');

      // Re-entering a wrong secret is refused and leaves the working one in place.
      const reentered = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'PATCH',
          url: `${base()}/${saved.connection.id}`,
          payload: { clientSecret: 'still-wrong' },
        }),
        400,
      ).json();
      assert.equal(reentered.error.field, 'clientSecret');
      const again = expectStatus(
        await w.plane.adminBrowser.request({ method: 'POST', url: `${base()}/${saved.connection.id}/test` }),
        200,
      ).json();
      assert.equal(again.valid, true);

      expectStatus(
        await w.plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/projects/${w.projectId}/syncs/${first.syncId}` }),
        204,
      );
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.connection.id}` }), 204);
    });

    it('a credential sealed in the browser is accepted; one sealed for another connection is refused by the runner', async () => {
      const runner = expectStatus(
        await w.plane.adminBrowser.request({ method: 'GET', url: `/api/v1/runners/${w.runnerId}` }),
        200,
      ).json() as { publicKey: string };
      const id = `conn_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      const sealed = await seal(runner.publicKey, w.seeded.pat, sealingContext.appConnectionSecret(id));
      const saved = await create({ id, name: 'sealed pat', method: 'access-token', organization: w.seeded.org, sealedAccessToken: sealed });
      assert.equal(saved.validation.valid, true);
      const moved = await create(
        {
          id: `conn_${randomUUID().replace(/-/g, '').slice(0, 16)}`,
          name: 'moved pat',
          method: 'access-token',
          organization: w.seeded.org,
          sealedAccessToken: sealed,
        },
        400,
      );
      assert.equal(moved.error.code, 'sealed_secret_unusable');
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${id}` }), 204);
    });

    it('oauth: the configuration names the redirect URI to register; a callback reached at another address than the public URL says so', async () => {
      const config = expectStatus(
        await w.plane.memberBrowser.request({ method: 'GET', url: '/api/v1/app-connections/oauth/configuration' }),
        200,
      ).json();
      assert.equal(config.configured, true, JSON.stringify(config));
      assert.equal(config.redirectUri, `${w.plane.url}${OAUTH_CALLBACK_PATH}`);
      assert.equal(config.clientId, OAUTH_APP.clientId);

      const mismatch = await w.plane.app.inject({
        method: 'GET',
        url: `${OAUTH_CALLBACK_PATH}?code=abc&state=def`,
        headers: { host: 'keyway.other.example:8443' },
      });
      assert.equal(mismatch.statusCode, 400);
      assert.match(
        mismatch.body,
        /this callback was reached at http:\/\/keyway\.other\.example:8443, but KEYWAY_PUBLIC_URL says Keyway is at http:\/\/127\.0\.0\.1:\d+/,
      );
      const refused = await w.plane.app.inject({
        method: 'GET',
        url: `${OAUTH_CALLBACK_PATH}?error=invalid_request&error_description=${encodeURIComponent('AADSTS50011: The redirect URI does not match')}`,
        headers: { host: new URL(w.plane.url).host },
      });
      assert.match(
        refused.body,
        /Entra ID refused the redirect URI: register http:\/\/127\.0\.0\.1:\d+\/organization\/app-connections\/azure-devops\/oauth\/callback/,
      );

      // The app registration does not list Keyway's callback: Entra ID would refuse every consent (AADSTS50011).
      const tenantId = w.seeded.emu.defaultTenant.id;
      const unknownApp = await create({ name: 'oauth', method: 'oauth', tenantId }, 400);
      assert.equal(unknownApp.error.code, 'unknown_client');
      assert.match(unknownApp.error.message, /AADSTS700016/);
      const registered = w.seeded.emu.entra.addApp(w.seeded.emu.defaultTenant.id, {
        displayName: 'Keyway app connections',
        clientId: OAUTH_APP.clientId,
        redirectUris: ['https://keyway.elsewhere.example/organization/app-connections/azure-devops/oauth/callback'],
      });
      const mismatched = await create({ name: 'oauth', method: 'oauth', tenantId }, 400);
      assert.equal(mismatched.error.code, 'callback_mismatch');
      assert.match(
        mismatched.error.message,
        /does not list Keyway's redirect URI http:\/\/127\.0\.0\.1:\d+\/organization\/app-connections\/azure-devops\/oauth\/callback \(AADSTS50011\)/,
      );
      const probed = expectStatus(
        await w.plane.adminBrowser.request({ method: 'GET', url: `/api/v1/app-connections/oauth/configuration?runnerId=${w.runnerId}` }),
        200,
      ).json();
      assert.equal(probed.configured, false);
      assert.match(probed.problems.join(' '), /AADSTS50011/);

      registered.app.redirectUris.push(config.redirectUri);
      // Registered: the connection is created, pending until someone consents (oauth.test.ts goes on from here).
      const pending = await create({ name: 'oauth', method: 'oauth', tenantId });
      assert.equal(pending.connection.status, 'pending');
      assert.equal(pending.authorizeUrl, `${base()}/${pending.connection.id}/oauth/authorize`);
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${pending.connection.id}` }), 204);

      // Without the instance-wide app, or behind a plain-http public URL, the configuration says what to fix.
      const bare = createAppConnectionService({
        db: w.plane.database.db,
        runners: w.plane.core.runners,
        control: w.plane.core.control,
        projects: { require: async () => assert.fail('not called') },
        publicUrl: () => 'http://keyway.example.com',
        entraAuthorityUrl: w.seeded.emu.urls.login,
        oauthApp: () => ({}),
        allowInsecureHosts: false,
      }).oauthConfiguration();
      assert.equal(bare.configured, false);
      assert.match(bare.problems.join('\n'), /KEYWAY_AZURE_DEVOPS_CLIENT_ID is not set/);
      assert.match(bare.problems.join('\n'), /KEYWAY_AZURE_DEVOPS_CLIENT_SECRET is not set/);
      assert.match(bare.problems.join('\n'), /KEYWAY_PUBLIC_URL must use https/);
    });

    it("another project's member cannot see, use or test the connection; a project member may use but not manage it", async () => {
      const saved = await create({ name: 'private pat', method: 'access-token', organization: w.seeded.org, accessToken: w.seeded.pat });
      const id = saved.connection.id as string;
      for (const [method, url] of [
        ['GET', base()],
        ['GET', `${base()}/${id}`],
        ['POST', `${base()}/${id}/test`],
        ['DELETE', `${base()}/${id}`],
        ['GET', `/api/v1/projects/${w.projectId}/syncs`],
      ] as const) {
        const res = await w.outsider.request({ method, url });
        assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
        assert.ok(!res.body.includes(id), 'nothing of the connection leaks');
      }
      const own = expectStatus(
        await w.outsider.request({ method: 'GET', url: `/api/v1/projects/${w.otherProjectId}/app-connections` }),
        200,
      ).json();
      assert.deepEqual(own.connections, []);
      const misuse = expectStatus(
        await w.outsider.request({
          method: 'POST',
          url: `/api/v1/projects/${w.otherProjectId}/syncs`,
          payload: { name: 'steal', connectionId: id, project: w.seeded.project, groupName: 'x' },
        }),
        400,
      ).json();
      assert.equal(misuse.error.code, 'unknown_connection');
      const projects = expectStatus(await w.outsider.request({ method: 'GET', url: '/api/v1/projects' }), 200).json();
      assert.deepEqual(
        projects.projects.map((p: { id: string }) => p.id),
        [w.otherProjectId],
      );

      const denied = expectStatus(await w.plane.memberBrowser.request({ method: 'DELETE', url: `${base()}/${id}` }), 403).json();
      assert.match(denied.error.message, /only the project's owners/);
      expectStatus(
        await w.plane.memberBrowser.request({
          method: 'POST',
          url: base(),
          payload: { runnerId: w.runnerId, name: 'x', method: 'access-token', organization: w.seeded.org, accessToken: w.seeded.pat },
        }),
        403,
      );
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${id}` }), 204);
    });

    it('no API response, log line, audit event or management-plane row holds a credential; the runner store holds them encrypted', async () => {
      const saved = await create({ name: 'canary pat', method: 'access-token', organization: w.seeded.org, accessToken: w.seeded.pat });
      const responses = [
        JSON.stringify(saved),
        (await w.plane.adminBrowser.request({ method: 'GET', url: base() })).body,
        (await w.plane.adminBrowser.request({ method: 'GET', url: `${base()}/${saved.connection.id}` })).body,
        (await w.plane.adminBrowser.request({ method: 'POST', url: `${base()}/${saved.connection.id}/test` })).body,
        (await w.plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?limit=500' })).body,
      ];
      const tables = await dumpManagementTables(w.plane);
      for (const canary of canaries) {
        for (const body of responses) assert.ok(!body.includes(canary), 'a response holds a credential');
        assert.ok(!tables.includes(canary), 'a management-plane row holds a credential');
        assert.ok(!w.plane.logs.text.includes(canary), 'management log');
        assert.ok(!w.runner.logs.text.includes(canary), 'runner log');
        for (const name of readdirSync(w.runner.dataDir)) {
          if (name.endsWith('.db') || name.endsWith('-wal'))
            assert.ok(!readFileSync(join(w.runner.dataDir, name)).includes(canary), `runner ${name} holds a credential in clear`);
        }
      }
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.connection.id}` }), 204);
    });
  });
}
