// Cases 2, 3, 5, 6 and 9 of issue 14: configuration that cannot be wrong. Save & Test finds where
// an Azure DevOps Server collection starts, catches an unregistered callback (AADSTS50011), says
// what Entra said (AADSTS90002), resolves a domain to its tenant and refuses common/organizations
// before saving; and a change is tested before it replaces a configuration that works.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually, startTestRunner } from '../../../test/support/plane.ts';
import type { TestRunner } from '../../../test/support/plane.ts';
import { seedWebRepository, startIntegrationBed } from '../../../test/support/integration-bed.ts';
import type { IntegrationBed } from '../../../test/support/integration-bed.ts';
import type { User } from '../../../emulator/index.ts';
import { HandlerError } from '../../runner/agent.ts';
import { createAppConnectionTokens } from '../../runner/app-connections/tokens.ts';
import { parseHostQuery, pickByHost } from './host-lookup.ts';

const ORG = 'contoso';
const COLLECTION = 'DefaultCollection';

interface Saved {
  integration: {
    id: string;
    host: string;
    virtualDirectory: string;
    oauth: { issuerUrl: string; clientId: string } | null;
    lastTest: { valid: boolean } | null;
    draft?: { test: { valid: boolean; oauthError?: string }; wouldPurge: string[]; oauth: { issuerUrl: string } | null } | null;
  };
  test: {
    valid: boolean;
    hostError?: string;
    oauthError?: string;
    redirectUriError?: string;
    hostNote?: string;
    serverLayout?: { virtualDirectory: string; collection: string };
  };
  applied?: boolean;
  forced?: boolean;
  purgedMethods?: string[];
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`Save & Test: configuration that cannot be wrong (${kind})`, { skip }, () => {
    let bed: IntegrationBed;
    let alice: User;
    let serverOrigin: string;
    // A second runner for new dev.azure.com integrations (a runner has one per host).
    let scratch: TestRunner;
    let scratchId: string;
    const base = () => `/api/v1/runners/${bed.runnerId}/scm-integrations`;
    const scratchBase = () => `/api/v1/runners/${scratchId}/scm-integrations`;
    const issuer = (tenant: string) => `${bed.emu.urls.login}/${tenant}/v2.0`;
    const newId = () => `int_${randomBytes(9).toString('base64url')}`;
    const callback = (id: string) => `${bed.plane.url}/api/v1/oauth/callback/${id}`;

    before(async () => {
      bed = await startIntegrationBed(kind, async (emu) => {
        alice = await seedWebRepository(emu, ORG);
        emu.world.addOrganization(COLLECTION, { server: true });
        emu.world.addProject(COLLECTION, 'Demo');
        emu.world.addMember(COLLECTION, alice.id);
        await emu.world.createRepository(COLLECTION, 'Demo', 'demo-app', { commits: 2, createdBy: alice.id });
      });
      serverOrigin = new URL(bed.emu.urls.server).origin;
      await bed.connectOAuth(bed.plane.memberBrowser, alice.upn);
      const created = await bed.plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'scratch' } });
      scratchId = created.json().runner.id;
      scratch = await startTestRunner(bed.plane.url, created.json().exchangeToken, {
        endpoints: { services: bed.emu.urls.services, vssps: bed.emu.urls.vssps },
      });
    });
    after(async () => {
      await scratch?.stop();
      await bed?.close();
    });

    async function post(body: Record<string, unknown>, expected = 201, at = base()): Promise<Saved> {
      const res = await bed.plane.adminBrowser.request({ method: 'POST', url: at, payload: body });
      assert.equal(res.statusCode, expected, res.body);
      return res.json() as Saved;
    }
    const remove = (id: string, at = base()) => bed.plane.adminBrowser.request({ method: 'DELETE', url: `${at}/${id}` });
    const access = () =>
      bed.plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/context/access',
        payload: { url: `https://dev.azure.com/${ORG}/Web/_git/web` },
      });
    const credentialsOnRunner = () =>
      bed.runner.store.database.db
        .selectFrom('credentials')
        .select(['id', 'method'])
        .where('integration_id', '=', bed.integrationId)
        .execute();

    it('an app registration without the callback: AADSTS50011 on the redirect URI field, with the exact value to register', async () => {
      const app = bed.emu.entra.addApp(bed.emu.defaultTenant.id, { displayName: 'No callback' });
      const id = newId();
      const saved = await post(
        {
          id,
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId: app.app.clientId, clientSecret: app.clientSecret, issuerUrl: issuer(bed.emu.defaultTenant.id) },
          pat: { enabled: false },
        },
        201,
        scratchBase(),
      );
      assert.equal(saved.test.valid, false);
      assert.equal(saved.test.oauthError, undefined, 'the secret itself is fine');
      assert.match(saved.test.redirectUriError ?? '', /AADSTS50011/);
      assert.ok(saved.test.redirectUriError?.includes(callback(id)), saved.test.redirectUriError);
      // Registered: the next test passes.
      app.app.redirectUris.push(callback(id));
      const again = await bed.plane.adminBrowser.request({ method: 'POST', url: `${scratchBase()}/${id}/test` });
      assert.equal(again.json().valid, true, again.body);
      await remove(id, scratchBase());
    });

    it("a wrong tenant: Entra's own error (AADSTS90002, no tenant with this ID), for integrations and client-secret app connections", async () => {
      const tenant = randomUUID();
      const id = newId();
      const saved = await post(
        {
          id,
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId: bed.clientId, clientSecret: bed.clientSecret, issuerUrl: issuer(tenant) },
          pat: { enabled: false },
        },
        201,
        scratchBase(),
      );
      assert.equal(saved.test.valid, false);
      assert.match(saved.test.oauthError ?? '', /no tenant with this ID \(AADSTS90002\)/);
      assert.doesNotMatch(saved.test.oauthError ?? '', /unexpected HTTP response status code/);
      await remove(id, scratchBase());

      const tokens = createAppConnectionTokens({
        credentials: { listForSubject: async () => [], readSecret: async () => undefined },
        allowInsecure: true,
        oauth: { accessToken: async () => '' },
      });
      await assert.rejects(
        tokens.requestToken(
          {
            id: 'conn_x',
            method: 'client-secret',
            issuerUrl: issuer(tenant),
            clientId: bed.clientId,
            tenantId: tenant,
            organization: ORG,
          } as never,
          bed.clientSecret,
        ),
        (err: unknown) =>
          err instanceof HandlerError && err.field === 'tenantId' && /no tenant with this ID \(AADSTS90002\)/.test(err.message),
      );
    });

    it("an issuer by domain is resolved once to its tenant ID; an unknown domain is refused with Entra's answer", async () => {
      const id = newId();
      bed.app.redirectUris.push(callback(id));
      const saved = await post(
        {
          id,
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId: bed.clientId, clientSecret: bed.clientSecret, issuerUrl: issuer(bed.emu.defaultTenant.domain.toUpperCase()) },
          pat: { enabled: false },
        },
        201,
        scratchBase(),
      );
      assert.equal(saved.integration.oauth?.issuerUrl, issuer(bed.emu.defaultTenant.id));
      assert.equal(saved.test.oauthError, undefined, JSON.stringify(saved.test));
      await remove(id, scratchBase());
      const unknown = await bed.plane.adminBrowser.request({
        method: 'POST',
        url: scratchBase(),
        payload: {
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId: bed.clientId, clientSecret: bed.clientSecret, issuerUrl: issuer('nobody.onmicrosoft.com') },
          pat: { enabled: false },
        },
      });
      assert.equal(unknown.statusCode, 422, unknown.body);
      assert.equal(unknown.json().error.field, 'oauth.issuerUrl');
      assert.match(unknown.json().error.message, /no tenant with this ID or domain/);
    });

    it('common and organizations are refused before anything is saved or purged, with the form to use', async () => {
      const before = (await bed.plane.adminBrowser.request({ method: 'GET', url: scratchBase() })).json().integrations.length;
      for (const tenant of ['common', 'organizations', 'consumers']) {
        const res = await bed.plane.adminBrowser.request({
          method: 'POST',
          url: scratchBase(),
          payload: {
            scmId: 'azure-devops',
            host: 'dev.azure.com',
            oauth: { clientId: bed.clientId, clientSecret: bed.clientSecret, issuerUrl: issuer(tenant) },
            pat: { enabled: false },
          },
        });
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().error.code, 'multi_tenant_issuer');
        assert.equal(res.json().error.field, 'oauth.issuerUrl');
        assert.match(res.json().error.message, /\{tenant-id\}\/v2\.0/);
        const patch = await bed.plane.adminBrowser.request({
          method: 'PATCH',
          url: `${base()}/${bed.integrationId}`,
          payload: { oauth: { clientId: bed.clientId, issuerUrl: issuer(tenant) } },
        });
        assert.equal(patch.statusCode, 400, patch.body);
      }
      assert.equal((await bed.plane.adminBrowser.request({ method: 'GET', url: scratchBase() })).json().integrations.length, before);
      assert.equal((await credentialsOnRunner()).length, 1, "the user's authorization is untouched");
    });

    it('a failing change to a working integration keeps it serving; the change is a rejected draft, audited as a failure', async () => {
      const res = await bed.plane.adminBrowser.request({
        method: 'PATCH',
        url: `${base()}/${bed.integrationId}`,
        payload: { oauth: { clientId: bed.clientId, clientSecret: 'not-the-secret', issuerUrl: issuer(bed.emu.defaultTenant.id) } },
      });
      assert.equal(res.statusCode, 200, res.body);
      const saved = res.json() as Saved;
      assert.equal(saved.applied, false, res.body);
      assert.equal(saved.test.valid, false);
      assert.match(saved.integration.draft?.test.oauthError ?? '', /AADSTS7000215/);
      assert.equal(saved.integration.lastTest?.valid, true, 'the working configuration and its test stay');
      // Still serving: the user's access works, with the secret that works.
      assert.equal((await access()).json().hasAccess, true);
      const [event] = await bed.audit('scm_integration.update');
      assert.equal(event?.outcome, 'failure');
      assert.equal(event?.details.applied, false);
      assert.equal(event?.details.testValid, false);
      // Discarded, nothing changes.
      assert.equal(
        (await bed.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${bed.integrationId}/draft` })).statusCode,
        204,
      );
      assert.equal((await bed.plane.adminBrowser.request({ method: 'GET', url: `${base()}/${bed.integrationId}` })).json().draft, null);
    });

    it("a change that would purge users' credentials waits for a passing test, or the admin's explicit decision", async () => {
      const otherTenant = bed.emu.entra.addTenant({ displayName: 'Elsewhere' });
      const res = await bed.plane.adminBrowser.request({
        method: 'PATCH',
        url: `${base()}/${bed.integrationId}`,
        payload: { oauth: { clientId: bed.clientId, issuerUrl: issuer(otherTenant.id) } },
      });
      const saved = res.json() as Saved;
      assert.equal(saved.applied, false, res.body);
      assert.deepEqual(saved.integration.draft?.wouldPurge, ['oauth']);
      assert.equal(saved.integration.oauth?.issuerUrl, issuer(bed.emu.defaultTenant.id));
      assert.equal((await credentialsOnRunner()).length, 1, 'nothing purged');
      // The admin applies it anyway: now the purge happens, and the audit log says it was forced.
      const forced = await bed.plane.adminBrowser.request({ method: 'POST', url: `${base()}/${bed.integrationId}/draft/apply` });
      assert.equal(forced.statusCode, 200, forced.body);
      assert.equal(forced.json().applied, true);
      assert.equal(forced.json().forced, true);
      assert.equal(forced.json().integration.oauth.issuerUrl, issuer(otherTenant.id));
      await eventually(async () => (await credentialsOnRunner()).length === 0, 'the OAuth credentials purged');
      const [event] = await bed.audit('scm_integration.draft_apply');
      assert.equal(event?.details.forced, true);
      assert.deepEqual(event?.details.purgedMethods, ['oauth']);
      await bed.auditEventually('credentials.purged', (e) => e.details.integrationId === bed.integrationId);
      // And back, with a change that passes: applied at once.
      const back = await bed.plane.adminBrowser.request({
        method: 'PATCH',
        url: `${base()}/${bed.integrationId}`,
        payload: { oauth: { clientId: bed.clientId, clientSecret: bed.clientSecret, issuerUrl: issuer(bed.emu.defaultTenant.id) } },
      });
      assert.equal(back.json().applied, true, back.body);
      assert.equal(back.json().test.valid, true);
      assert.equal((await bed.audit('scm_integration.update'))[0]?.outcome, 'success');
      await bed.connectOAuth(bed.plane.memberBrowser, alice.upn);
    });

    it('an integration that never worked takes a change at once (nothing to protect); force applies over a working one', async () => {
      const id = newId();
      const broken = await post({
        id,
        scmId: 'azure-devops',
        host: 'http://127.0.0.1:9',
        virtualDirectory: '/tfs',
        pat: { enabled: true },
      });
      assert.equal(broken.test.valid, false);
      const change = await bed.plane.adminBrowser.request({
        method: 'PATCH',
        url: `${base()}/${id}`,
        payload: { host: 'http://127.0.0.1:7', virtualDirectory: '/tfs' },
      });
      assert.equal(change.json().applied, true, change.body);
      assert.equal(change.json().integration.host, '127.0.0.1:7');
      await remove(id);
      const forced = await bed.plane.adminBrowser.request({
        method: 'PATCH',
        url: `${base()}/${bed.integrationId}`,
        payload: {
          oauth: { clientId: bed.clientId, clientSecret: 'not-the-secret', issuerUrl: issuer(bed.emu.defaultTenant.id) },
          force: true,
        },
      });
      assert.equal(forced.json().applied, true, forced.body);
      assert.equal(forced.json().forced, true);
      assert.equal((await bed.audit('scm_integration.update'))[0]?.details.forced, true);
      const fixed = await bed.plane.adminBrowser.request({
        method: 'PATCH',
        url: `${base()}/${bed.integrationId}`,
        payload: { oauth: { clientId: bed.clientId, clientSecret: bed.clientSecret, issuerUrl: issuer(bed.emu.defaultTenant.id) } },
      });
      assert.equal(fixed.json().applied, true, fixed.body);
    });

    it('a Server collection URL pasted as the host: Save & Test splits virtual directory and collection; URLs and the PAT link follow', async () => {
      const saved = await post({ scmId: 'azure-devops', host: `${serverOrigin}/tfs/${COLLECTION}`, pat: { enabled: true } });
      assert.equal(saved.test.valid, true, JSON.stringify(saved.test));
      assert.equal(saved.integration.virtualDirectory, '/tfs');
      assert.deepEqual(saved.test.serverLayout, { virtualDirectory: '/tfs', collection: COLLECTION });
      assert.match(saved.test.hostNote ?? '', /names collection "DefaultCollection"/);
      const id = saved.integration.id;
      // The PAT link is the collection's, once.
      const auth = await bed.plane.memberBrowser.request({
        method: 'GET',
        url: `/api/v1/scm/authentication?integrationId=${id}&organization=${COLLECTION}`,
      });
      assert.equal(auth.json().supportsPat.createUrl, `${serverOrigin}/tfs/${COLLECTION}/_usersSettings/tokens`);
      // A repository URL on the server parses to collection, project and repository.
      const pat = bed.emu.world.createPat(alice.id, { scopes: ['vso.code_write'], orgs: [COLLECTION] });
      const stored = await bed.plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId: id, organization: COLLECTION, token: pat.token },
      });
      assert.equal(stored.statusCode, 201, stored.body);
      const parsed = await bed.plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/context/parse',
        payload: { url: `${serverOrigin}/tfs/${COLLECTION}/Demo/_git/demo-app` },
      });
      assert.equal(parsed.statusCode, 200, parsed.body);
      assert.deepEqual(
        [parsed.json().context.collection, parsed.json().context.project, parsed.json().context.repository],
        [COLLECTION, 'Demo', 'demo-app'],
      );
      // A host lookup with the collection's path finds the server's integration.
      const byHost = await bed.plane.memberBrowser.request({
        method: 'GET',
        url: `/api/v1/scm/authentication?host=${encodeURIComponent(`${new URL(serverOrigin).host}/tfs/${COLLECTION}`)}`,
      });
      assert.equal(byHost.json().integrationId, id, byHost.body);
      // The same host again, by collection URL: it is the same integration.
      const duplicate = await bed.plane.adminBrowser.request({
        method: 'POST',
        url: base(),
        payload: { scmId: 'azure-devops', host: `${serverOrigin}/tfs/${COLLECTION}`, pat: { enabled: true } },
      });
      assert.equal(duplicate.statusCode, 409, duplicate.body);
      assert.equal(duplicate.json().error.code, 'integration_exists');
      await remove(id);
    });

    it('a Server path that goes past the collection, or a host without the virtual directory, is refused with the form to use', async () => {
      const deep = await post({ scmId: 'azure-devops', host: `${serverOrigin}/tfs/${COLLECTION}/Demo`, pat: { enabled: true } });
      assert.equal(deep.test.valid, false);
      assert.match(deep.test.hostError ?? '', /enter host .* with virtual directory \/tfs/);
      await remove(deep.integration.id);
      const bare = await post({ scmId: 'azure-devops', host: serverOrigin, pat: { enabled: true } });
      assert.equal(bare.test.valid, false);
      assert.match(bare.test.hostError ?? '', /no Azure DevOps Server answers at .*\/_apis\/connectionData/);
      await remove(bare.integration.id);
    });
  });
}

describe('host lookups pick the longest matching virtual directory', () => {
  const rows = [
    { id: 'a', host: 'ado.example.local', virtual_directory: '/tfs/DefaultCollection' },
    { id: 'b', host: 'ado.example.local', virtual_directory: '/tfs' },
    { id: 'c', host: 'other.example.local', virtual_directory: '' },
  ];
  const q = (value: string) => parseHostQuery(value, (h) => h === 'dev.azure.com');
  it('by path, by the only candidate, and never silently among several', () => {
    assert.equal(pickByHost(rows, q('ado.example.local/tfs/DefaultCollection/Demo'))?.id, 'a');
    assert.equal(pickByHost(rows, q('https://ADO.example.local/tfs/Other'))?.id, 'b');
    assert.equal(pickByHost(rows, q('other.example.local'))?.id, 'c');
    assert.equal(pickByHost(rows, q('ado.example.local/elsewhere')), undefined);
    assert.throws(
      () => pickByHost(rows, q('ado.example.local')),
      (err: Error & { code?: string }) => err.code === 'ambiguous_host' && /add the virtual directory/.test(err.message),
    );
  });
});
