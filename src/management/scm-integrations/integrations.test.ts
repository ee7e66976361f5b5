import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually, publishRunnerKey, startTestPlane, startTestRunner } from '../../../test/support/plane.ts';
import type { TestPlane, TestRunner } from '../../../test/support/plane.ts';
import { startEmulator } from '../../../emulator/index.ts';
import type { EmulatorHandle } from '../../../emulator/index.ts';
import { generateRunnerKeyPair, seal } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import { createCredentialStore } from '../../runner/credentials/store.ts';
import { createFieldCrypto } from '../../runner/keys/field-crypto.ts';

interface SaveResult {
  integration: {
    id: string;
    oauth: { issuerUrl: string; clientSecretSet: boolean; callbackUrl: string } | null;
    pat: { enabled: boolean };
    host: string;
    virtualDirectory: string;
  };
  test: { valid: boolean; hostError?: string; oauthError?: string; runnerError?: string };
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`SCM integrations: configure repository access and Save & Test (${kind})`, { skip }, () => {
    let plane: TestPlane;
    let emu: EmulatorHandle;
    let runner: TestRunner;
    let runnerId: string;
    let tenantId: string;
    let clientId: string;
    let clientSecret: string;
    let notAdo: FastifyInstance;
    let registeredApp: { redirectUris: string[] };
    const CANARY_SECRET = `Cs8Q~canary${randomUUID().replace(/-/g, '')}`;

    before(async () => {
      emu = await startEmulator();
      tenantId = emu.defaultTenant.id;
      const registered = emu.entra.addApp(tenantId, { displayName: 'Keyway', redirectUris: ['http://127.0.0.1/cb'] });
      registeredApp = registered.app;
      clientId = registered.app.clientId;
      clientSecret = registered.clientSecret;
      plane = await startTestPlane(kind, { entraAuthorityUrl: emu.urls.login });
      const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'integrations' } });
      runnerId = created.json().runner.id;
      runner = await startTestRunner(plane.url, created.json().exchangeToken, {
        endpoints: { services: emu.urls.services, vssps: emu.urls.vssps },
      });
      notAdo = Fastify();
      notAdo.get('/*', async () => ({ hello: 'world' }));
      await notAdo.listen({ port: 0, host: '127.0.0.1' });
    });
    after(async () => {
      await runner?.stop();
      await plane?.close();
      await emu?.close();
      await notAdo?.close();
    });

    const base = () => `/api/v1/runners/${runnerId}/scm-integrations`;
    const issuer = () => `${emu.urls.login}/${tenantId}/v2.0`;

    async function save(body: Record<string, unknown>, expected = 201): Promise<SaveResult> {
      // As an admin does: the callback is registered in Entra first (Save & Test checks it).
      const id = typeof body.id === 'string' ? body.id : `int_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      registeredApp.redirectUris.push(`${plane.url}/api/v1/oauth/callback/${id}`);
      const res = await plane.adminBrowser.request({ method: 'POST', url: base(), payload: { ...body, id } });
      assert.equal(res.statusCode, expected, res.body);
      return res.json() as SaveResult;
    }

    /** dev.azure.com through the app registered in the emulator's Entra, its secret in the clear. */
    const registeredOAuth = () => ({
      scmId: 'azure-devops',
      host: 'dev.azure.com',
      oauth: { clientId, clientSecret, issuerUrl: issuer() },
    });
    /** An OAuth-only integration on dev.azure.com, posted as is (no callback registered): for the answers that come before Save & Test. */
    const postOAuthIntegration = (oauth: Record<string, unknown>) =>
      plane.adminBrowser.request({
        method: 'POST',
        url: base(),
        payload: { scmId: 'azure-devops', host: 'dev.azure.com', oauth, pat: { enabled: false } },
      });

    it('Save & Test: a correct app on dev.azure.com is valid; the secret is sealed and never returned', async () => {
      const saved = await save({
        scmId: 'azure-devops',
        host: 'dev.azure.com',
        oauth: { clientId, clientSecret, issuerUrl: `${emu.urls.login}/${tenantId}/oauth2/v2.0/` },
        pat: { enabled: true },
      });
      assert.deepEqual(saved.test.valid, true, JSON.stringify(saved.test));
      assert.equal(saved.integration.oauth?.issuerUrl, issuer());
      assert.equal(saved.integration.oauth?.clientSecretSet, true);
      assert.equal(saved.integration.oauth?.callbackUrl, `${plane.url}/api/v1/oauth/callback/${saved.integration.id}`);
      const row = await plane.database.db
        .selectFrom('scm_integrations')
        .selectAll()
        .where('id', '=', saved.integration.id)
        .executeTakeFirstOrThrow();
      assert.match(row.oauth_client_secret_sealed ?? '', /^hpke1\./);
      assert.ok(!JSON.stringify(saved).includes(clientSecret));
      await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.integration.id}` });
    });

    it('every issuer form an admin pastes normalizes to one value; a bad one says what is expected', async () => {
      const forms = [
        `${emu.urls.login}/${tenantId}/v2.0`,
        `${emu.urls.login}/${tenantId}/v2.0/`,
        `${emu.urls.login}/${tenantId}/oauth2/v2.0`,
        `${emu.urls.login}/${tenantId}/oauth2/v2.0/`,
        `${emu.urls.login}/${tenantId}/v2.0/.well-known/openid-configuration`,
        `  ${emu.urls.login}/${tenantId.toUpperCase()}/v2.0  `,
      ];
      for (const form of forms) {
        const saved = await save({
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId, clientSecret, issuerUrl: form },
          pat: { enabled: false },
        });
        assert.equal(saved.integration.oauth?.issuerUrl, issuer(), form);
        await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.integration.id}` });
      }
      const bad = await plane.adminBrowser.request({
        method: 'POST',
        url: base(),
        payload: {
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId, clientSecret, issuerUrl: 'https://example.com/oauth' },
          pat: { enabled: false },
        },
      });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().error.field, 'oauth.issuerUrl');
      assert.match(bad.json().error.message, /expected https:\/\/login\.microsoftonline\.com\/\{tenant-id\}\/v2\.0/);
    });

    it('names the field at fault: wrong secret (AADSTS7000215), unknown app (AADSTS700016), unreachable host, a host that is not Azure DevOps', async () => {
      const wrong = await save({
        scmId: 'azure-devops',
        host: 'dev.azure.com',
        oauth: { clientId, clientSecret: 'not-the-secret', issuerUrl: issuer() },
        pat: { enabled: true },
      });
      assert.equal(wrong.test.valid, false);
      assert.match(wrong.test.oauthError ?? '', /client secret is wrong or expired \(AADSTS7000215\)/);
      assert.equal(wrong.test.hostError, undefined);
      await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${wrong.integration.id}` });

      const unknown = await save({
        scmId: 'azure-devops',
        host: 'dev.azure.com',
        oauth: { clientId: randomUUID(), clientSecret, issuerUrl: issuer() },
        pat: { enabled: false },
      });
      assert.match(unknown.test.oauthError ?? '', /no application with this client id .*AADSTS700016/);
      await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${unknown.integration.id}` });

      const unreachable = await save({
        scmId: 'azure-devops',
        host: 'http://127.0.0.1:9',
        virtualDirectory: '/tfs',
        pat: { enabled: true },
      });
      assert.equal(unreachable.test.valid, false);
      assert.match(unreachable.test.hostError ?? '', /unreachable from the runner/);

      const address = notAdo.server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      const plain = await save({ scmId: 'azure-devops', host: `http://127.0.0.1:${port}`, pat: { enabled: true } });
      assert.equal(plain.test.valid, false);
      assert.match(plain.test.hostError ?? '', /not Azure DevOps/);

      const server = await save({
        scmId: 'azure-devops',
        host: new URL(emu.urls.server).origin,
        virtualDirectory: '/tfs',
        pat: { enabled: true },
      });
      assert.equal(server.test.valid, true, JSON.stringify(server.test));
      assert.equal(server.integration.virtualDirectory, '/tfs');
      for (const id of [unreachable.integration.id, plain.integration.id, server.integration.id])
        await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${id}` });
    });

    it('accepts a secret sealed in the browser, and refuses one sealed for another key or another record', async () => {
      const runnerView = (await plane.adminBrowser.request({ method: 'GET', url: `/api/v1/runners/${runnerId}` })).json() as {
        publicKey: string;
      };
      const id = `int_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      const sealed = await seal(runnerView.publicKey, clientSecret, sealingContext.integrationClientSecret(id));
      const saved = await save({
        id,
        scmId: 'azure-devops',
        host: 'dev.azure.com',
        oauth: { clientId, sealedClientSecret: sealed, issuerUrl: issuer() },
        pat: { enabled: false },
      });
      assert.equal(saved.test.valid, true, JSON.stringify(saved.test));
      await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${id}` });

      // Sealed for this runner but bound to another record: the runner refuses to open it.
      const other = `int_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
      const moved = await save({
        id: other,
        scmId: 'azure-devops',
        host: 'dev.azure.com',
        oauth: { clientId, sealedClientSecret: sealed, issuerUrl: issuer() },
        pat: { enabled: false },
      });
      assert.equal(moved.test.valid, false);
      assert.match(moved.test.oauthError ?? '', /cannot be opened by this runner/);
      await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${other}` });

      const stranger = await generateRunnerKeyPair();
      const foreign = await seal(stranger.publicKey, clientSecret, sealingContext.integrationClientSecret(other));
      const res = await postOAuthIntegration({ clientId, sealedClientSecret: foreign, issuerUrl: issuer() });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error.code, 'sealed_for_another_key');
    });

    it('a member can list but not manage integrations; bad input gets a message naming the field', async () => {
      const denied = await plane.memberBrowser.request({
        method: 'POST',
        url: base(),
        payload: { scmId: 'azure-devops', host: 'dev.azure.com', pat: { enabled: true } },
      });
      assert.equal(denied.statusCode, 403);
      const list = await plane.memberBrowser.request({ method: 'GET', url: base() });
      assert.equal(list.statusCode, 200);
      for (const [body, field, pattern] of [
        [{ scmId: 'github', host: 'github.com', pat: { enabled: true } }, 'scmId', /not supported yet/],
        [{ scmId: 'svn', host: 'x', pat: { enabled: true } }, 'scmId', /unknown/],
        [{ scmId: 'azure-devops', host: 'http://169.254.169.254', pat: { enabled: true } }, 'host', /link-local/],
        [{ scmId: 'azure-devops', host: 'metadata.google.internal', pat: { enabled: true } }, 'host', /metadata/],
        [
          { scmId: 'azure-devops', host: 'dev.azure.com', virtualDirectory: '/tfs', pat: { enabled: true } },
          'virtualDirectory',
          /no virtual directory/,
        ],
        [
          { scmId: 'azure-devops', host: 'tfs.example.com', virtualDirectory: '/../etc', pat: { enabled: true } },
          'virtualDirectory',
          /must look like \/tfs/,
        ],
        [
          { scmId: 'azure-devops', host: 'dev.azure.com', oauth: { clientId: 'not-a-guid', clientSecret: 'x', issuerUrl: issuer() } },
          'oauth.clientId',
          /GUID/,
        ],
        [{ scmId: 'azure-devops', host: 'dev.azure.com', oauth: { clientId, issuerUrl: issuer() } }, 'oauth.clientSecret', /required/],
        [{ scmId: 'azure-devops', host: 'dev.azure.com', pat: { enabled: false } }, 'pat.enabled', /enable OAuth/],
      ] as const) {
        const res = await plane.adminBrowser.request({ method: 'POST', url: base(), payload: body });
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)} → ${res.body}`);
        assert.equal(res.json().error.field, field, res.body);
        assert.match(res.json().error.message, pattern);
      }
    });

    it('disabling a method or deleting the integration deletes the credentials it produced on the runner', async () => {
      const saved = await save({ ...registeredOAuth(), pat: { enabled: true } });
      const credentials = createCredentialStore(runner.store.database.db, createFieldCrypto(runner.store.keys));
      const held = (method: 'pat' | 'oauth', secret: string) =>
        credentials.insert({
          subject: { type: 'user', id: 'usr_x' },
          integrationId: saved.integration.id,
          host: 'dev.azure.com',
          method,
          secret,
        });
      const pat = await held('pat', 'pat-value');
      const oauth = await held('oauth', '{"refresh_token":"r"}');

      const patch = await plane.adminBrowser.request({
        method: 'PATCH',
        url: `${base()}/${saved.integration.id}`,
        payload: { pat: { enabled: false } },
      });
      assert.equal(patch.statusCode, 200, patch.body);
      assert.deepEqual(patch.json().purgedMethods, ['pat']);
      await eventually(async () => !(await credentials.get(pat.id)), 'PAT credential deleted');
      assert.ok(await credentials.get(oauth.id), 'OAuth credential stays');

      const del = await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.integration.id}` });
      assert.equal(del.statusCode, 204);
      await eventually(async () => !(await credentials.get(oauth.id)), 'OAuth credential deleted');
    });

    it('a failed test still saves, and says why; an offline runner is reported as such', async () => {
      await runner.runtime.agent.stop();
      await plane.database.db
        .updateTable('runners')
        .set({ last_seen_at: new Date(Date.now() - 3600_000).toISOString() })
        .where('id', '=', runnerId)
        .execute();
      const saved = await save({ scmId: 'azure-devops', host: 'dev.azure.com', pat: { enabled: true } });
      assert.equal(saved.test.valid, false);
      assert.match(saved.test.runnerError ?? '', /offline since/);
      const stored = await plane.adminBrowser.request({ method: 'GET', url: `${base()}/${saved.integration.id}` });
      assert.equal(stored.statusCode, 200);
      assert.equal(stored.json().lastTest.valid, false);
      await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.integration.id}` });
      runner.runtime.agent.start();
    });

    it('a new runner key clears the sealed secrets and says they must be entered again', async () => {
      const saved = await save({ ...registeredOAuth(), pat: { enabled: false } });
      assert.equal(saved.integration.oauth?.clientSecretSet, true);
      const { generateRunnerKeyPair } = await import('../../crypto/sealing.ts');
      const fresh = await generateRunnerKeyPair();
      const res = await publishRunnerKey(plane, runner, fresh.publicKey);
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().clearedSecrets, 1);
      assert.match(res.json().message, /must enter them again/);
      const after = await plane.adminBrowser.request({ method: 'GET', url: `${base()}/${saved.integration.id}` });
      assert.equal(after.json().oauth.clientSecretSet, false);
      const retest = await plane.adminBrowser.request({ method: 'POST', url: `${base()}/${saved.integration.id}/test` });
      assert.match(retest.json().oauthError, /enter the client secret again/);
      await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.integration.id}` });
      // Put the runner's real key back for the tests that follow.
      const view = (await plane.adminBrowser.request({ method: 'GET', url: `/api/v1/runners/${runnerId}` })).json();
      assert.equal(view.publicKey, fresh.publicKey);
      const { loadRunnerKey } = await import('../../runner/identity.ts');
      const own = await loadRunnerKey(runner.dataDir);
      await publishRunnerKey(plane, runner, own.keyPair.publicKey);
    });

    it('the plaintext secret never reaches the database file, logs, audit log or any response', async () => {
      const res = await postOAuthIntegration({ clientId, clientSecret: CANARY_SECRET, issuerUrl: issuer() });
      assert.equal(res.statusCode, 201);
      assert.ok(!res.body.includes(CANARY_SECRET));
      const id = res.json().integration.id as string;
      const again = await plane.adminBrowser.request({
        method: 'PATCH',
        url: `${base()}/${id}`,
        payload: { oauth: { clientId, clientSecret: CANARY_SECRET, issuerUrl: issuer() } },
      });
      assert.ok(!again.body.includes(CANARY_SECRET));
      const list = await plane.adminBrowser.request({ method: 'GET', url: base() });
      assert.ok(!list.body.includes(CANARY_SECRET));
      const audit = await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?limit=500' });
      assert.ok(!audit.body.includes(CANARY_SECRET));
      assert.ok(!plane.logs.text.includes(CANARY_SECRET), 'management logs');
      assert.ok(!runner.logs.text.includes(CANARY_SECRET), 'runner logs');
      if (kind === 'sqlite') {
        const file = plane.database.url.slice('sqlite:'.length);
        const dir = join(file, '..');
        for (const name of readdirSync(dir)) assert.ok(!readFileSync(join(dir, name)).includes(CANARY_SECRET), `${name} holds the secret`);
      } else {
        for (const table of ['scm_integrations', 'audit_events', 'runner_requests'] as const) {
          const rows = await plane.database.db.selectFrom(table).selectAll().execute();
          assert.ok(!JSON.stringify(rows).includes(CANARY_SECRET), table);
        }
      }
    });
  });
}
