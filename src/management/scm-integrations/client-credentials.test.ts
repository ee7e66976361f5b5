// An integration whose Entra app authenticates with no client secret (issue 19), end to end against
// the emulator: the runner makes the key pair and certificate, the API offers the certificate for
// upload, Save & Test proves it registered (and says what is wrong when it is not), a user's OAuth
// Connect, a refresh and a clone run on certificate assertions; rotation to the next certificate;
// workload identity federation and a managed identity as the app's federated credential.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import { startEmulator } from '../../../emulator/index.ts';
import type { EmulatorHandle } from '../../../emulator/index.ts';
import type { User } from '../../../emulator/ado/world.ts';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually, publishRunnerKey, settledEnvironment, startTestPlane, startTestRunner } from '../../../test/support/plane.ts';
import type { TestPlane, TestRunner } from '../../../test/support/plane.ts';
import { consentAtEntra, deliverCallback, startConnect } from '../../../test/support/oauth.ts';
import { startWorkloadIssuer } from '../../../test/support/workload-issuer.ts';
import { CanaryScan } from '../../../test/resilience/support/canary.ts';
import { recordResponses, watchRunnerPrivateKeys } from '../../../test/support/private-key-canary.ts';
import type { WorkloadIssuer } from '../../../test/support/workload-issuer.ts';
import { generateClientCertificate } from '../../entra/certificate.ts';
import { generateRunnerKeyPair } from '../../crypto/sealing.ts';
import { createCredentialStore } from '../../runner/credentials/store.ts';
import { createFieldCrypto } from '../../runner/keys/field-crypto.ts';

const ORG = 'fabrikam';

for (const { kind, skip } of await databaseKinds()) {
  describe(`Integrations without a client secret (${kind})`, { skip }, () => {
    let emu: EmulatorHandle;
    let plane: TestPlane;
    let runner: TestRunner;
    let runnerId: string;
    let user: User;
    let issuer: WorkloadIssuer;
    let tokenFile: string;
    const issuerUrl = () => `${emu.urls.login}/${emu.defaultTenant.id}/v2.0`;
    const base = () => `/api/v1/runners/${runnerId}/scm-integrations`;

    const scan = new CanaryScan();

    before(async () => {
      emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
      emu.world.addOrganization(ORG);
      emu.world.addProject(ORG, 'Web');
      user = emu.world.addUser({ upn: `member@${emu.defaultTenant.domain}`, displayName: 'Member' });
      emu.world.addMember(ORG, user.id);
      await emu.world.createRepository(ORG, 'Web', 'web', { commits: 3, createdBy: user.id });
      issuer = await startWorkloadIssuer();
      tokenFile = join(mkdtempSync(join(tmpdir(), 'keyway-wif-')), 'token');
      plane = await startTestPlane(kind, { entraAuthorityUrl: emu.urls.login, azureDevOpsServicesUrl: emu.urls.services });
      const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'secretless' } });
      runnerId = created.json().runner.id;
      runner = await startTestRunner(plane.url, created.json().exchangeToken, {
        endpoints: { services: emu.urls.services, vssps: emu.urls.vssps },
        extra: {
          environmentOptions: { progressIntervalMs: 0 },
          clientCredentials: { federatedTokenFile: () => tokenFile, imdsUrl: emu.urls.imds },
        },
      });
      recordResponses(scan, plane.adminBrowser, 'admin');
      recordResponses(scan, plane.memberBrowser, 'member');
    });
    after(async () => {
      await runner?.stop();
      await plane?.close();
      await issuer?.close();
      await emu?.close();
    });

    /** An app registration with Keyway's callback, and an integration of it saved with `credential`. */
    /** A runner has one integration per host: each case starts from none. */
    async function clear() {
      for (const old of (await plane.adminBrowser.request({ method: 'GET', url: base() })).json().integrations as { id: string }[]) {
        assert.equal((await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${old.id}` })).statusCode, 204);
      }
    }

    async function integration(credential: string, extra: Record<string, unknown> = {}) {
      await clear();
      const id = `int_${randomBytes(9).toString('base64url')}`;
      const app = emu.entra.addApp(emu.defaultTenant.id, {
        displayName: `Keyway ${credential}`,
        redirectUris: [`${plane.url}/api/v1/oauth/callback/${id}`],
        requirePkce: true,
      });
      const res = await plane.adminBrowser.request({
        method: 'POST',
        url: base(),
        payload: {
          id,
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId: app.app.clientId, issuerUrl: issuerUrl(), credential, ...extra },
          pat: { enabled: false },
        },
      });
      assert.equal(res.statusCode, 201, res.body);
      await watchRunnerPrivateKeys(scan, runner);
      return { id, clientId: app.app.clientId, saved: res.json() };
    }

    const test = async (id: string) => {
      const res = await plane.adminBrowser.request({ method: 'POST', url: `${base()}/${id}/test` });
      assert.equal(res.statusCode, 200, res.body);
      await watchRunnerPrivateKeys(scan, runner);
      return res.json();
    };
    const download = async (id: string, query = '') =>
      plane.adminBrowser.request({ method: 'GET', url: `${base()}/${id}/client-credential/certificate${query}` });
    const upload = (clientId: string, der: Buffer, options: { endDate?: number; identifiedAs?: string } = {}) =>
      emu.entra.addCertificate(emu.defaultTenant.id, clientId, { certificate: der.toString('base64'), ...options });

    it('certificate: born on the runner, offered for upload with its thumbprint; Save & Test says it is not uploaded, then proves it is; Connect, refresh and clone sign with it', async () => {
      const { id, clientId, saved } = await integration('certificate');
      assert.equal(saved.integration.oauth.credential, 'certificate');
      assert.equal(saved.integration.oauth.clientSecretSet, false);
      assert.equal(saved.test.valid, false);
      assert.match(saved.test.oauthError, /no certificate with the thumbprint this runner signs with .* not uploaded yet/);
      const [active] = saved.integration.oauth.credentialState.certificates;
      assert.equal(active.status, 'active');
      assert.match(active.thumbprintSha1, /^[0-9A-F]{40}$/);
      assert.match(active.certificatePem, /^-----BEGIN CERTIFICATE-----/);
      assert.ok(Date.parse(active.notAfter) - Date.now() > 300 * 86_400_000, 'valid for a year');

      const cer = await download(id);
      assert.equal(cer.statusCode, 200);
      assert.equal(cer.headers['content-type'], 'application/pkix-cert');
      assert.match(String(cer.headers['content-disposition']), /attachment; filename="keyway-int_.*\.cer"/);
      const parsed = new X509Certificate(cer.rawPayload);
      assert.equal(parsed.fingerprint.replace(/:/g, ''), active.thumbprintSha1, 'the file is the certificate the thumbprint names');
      const pem = await download(id, '?format=pem');
      assert.equal(pem.body.trim(), active.certificatePem.trim());
      assert.equal((await download(id, '?status=next')).statusCode, 404);

      const uploaded = upload(clientId, cer.rawPayload);
      const passed = await test(id);
      assert.equal(passed.valid, true, JSON.stringify(passed));

      // A user's Connect: the code is redeemed with a certificate assertion.
      emu.resetCounters();
      const { callback } = await consentAtEntra(emu, await startConnect(plane.memberBrowser, id), user.upn);
      const connected = await deliverCallback(plane.memberBrowser, callback);
      assert.equal(connected.ok, true, connected.message);
      assert.equal(emu.entra.counters().byClientAuth.client_secret ?? 0, 0, 'no client secret was ever sent');
      assert.ok((emu.entra.counters().byClientAuth.certificate ?? 0) >= 1);

      // A refresh: the stored access token is due; the refresh_token grant signs with the certificate.
      const credentials = createCredentialStore(runner.store.database.db, createFieldCrypto(runner.store.keys));
      const record = await credentials.findForIntegration({ type: 'user', id: plane.member.id }, id);
      assert.ok(record);
      await credentials.setStatus(record.id, 'active', {
        ...record.metadata,
        accessTokenExpiresAt: new Date(Date.now() - 1000).toISOString(),
      });
      const refreshesBefore = emu.entra.counters().byGrant.refresh_token ?? 0;
      const token = await runner.runtime.tokens.getAccessToken(plane.member.id, id);
      assert.equal(token.kind, 'bearer');
      assert.equal(emu.entra.counters().byGrant.refresh_token, refreshesBefore + 1);
      assert.equal((await emu.entra.verifyAccessToken(token.token)).appid, clientId);

      // A clone through the environment's credential helper, with the user's token.
      const env = await plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/environments',
        payload: { contextUrl: `https://dev.azure.com/${ORG}/Web/_git/web`, runnerId },
      });
      assert.equal(env.statusCode, 201, env.body);
      const ready = await settledEnvironment(plane.memberBrowser, env.json().id, 'the clone');
      assert.equal(ready.status, 'ready', JSON.stringify(ready.error));
      assert.ok(existsSync(join(ready.workspacePath, '.git')));
      assert.equal(emu.entra.counters().byClientAuth.client_secret ?? 0, 0);

      // The certificate removed from the app registration: a refresh says the app's credential was
      // refused (an admin's to fix), not "try again shortly".
      emu.entra.removeCertificate(emu.defaultTenant.id, clientId, uploaded.keyId);
      const again = (await credentials.findForIntegration({ type: 'user', id: plane.member.id }, id))!;
      await credentials.setStatus(again.id, 'active', {
        ...again.metadata,
        accessTokenExpiresAt: new Date(Date.now() - 1000).toISOString(),
      });
      await assert.rejects(runner.runtime.tokens.getAccessToken(plane.member.id, id), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'app_credential_refused');
        assert.match(err.message, /refused the integration's app credential .*not uploaded yet.*an admin must fix the integration/);
        return true;
      });
    });

    it('Save & Test names each certificate failure: not uploaded, a wrong thumbprint, expired, a replayed assertion', async () => {
      const { id, clientId, saved } = await integration('certificate');
      assert.match(saved.test.oauthError, /not uploaded yet.*Upload certificate/);

      // Registered under this runner's thumbprint, but holding another key (a manifest edit gone wrong).
      const stranger = await generateClientCertificate({ commonName: 'someone else', validityDays: 30 });
      const own = (await download(id)).rawPayload;
      const wrong = upload(clientId, Buffer.from(new X509Certificate(stranger.certificatePem).raw), {
        identifiedAs: own.toString('base64'),
      });
      const mismatch = await test(id);
      assert.match(
        mismatch.oauthError,
        /is not this runner's certificate: its key does not verify the runner's signature \(AADSTS700027\)/,
      );
      emu.entra.removeCertificate(emu.defaultTenant.id, clientId, wrong.keyId);

      const expired = upload(clientId, own, { endDate: Date.now() - 60_000 });
      const old = await test(id);
      assert.match(old.oauthError, /has expired in Entra ID \(AADSTS700027\): upload the runner's next certificate/);
      emu.entra.removeCertificate(emu.defaultTenant.id, clientId, expired.keyId);

      upload(clientId, own);
      emu.entra.assertionFaults.replayNext();
      const replayed = await test(id);
      assert.match(replayed.oauthError, /already used \(AADSTS50013, a replay\)/);
      assert.equal((await test(id)).valid, true, 'a new assertion works');
    });

    it('rotation: a next certificate is made on request, shown for upload, and takes over once Entra ID accepts it', async () => {
      const { id, clientId } = await integration('certificate');
      upload(clientId, (await download(id)).rawPayload);
      assert.equal((await test(id)).valid, true);
      const activeBefore = (await plane.adminBrowser.request({ method: 'GET', url: `${base()}/${id}/client-credential` })).json()
        .certificates[0];

      const prepared = await plane.adminBrowser.request({ method: 'POST', url: `${base()}/${id}/client-credential/next-certificate` });
      assert.equal(prepared.statusCode, 200, prepared.body);
      const next = prepared.json().certificates.find((c: { status: string }) => c.status === 'next');
      assert.ok(next);
      assert.notEqual(next.thumbprintSha1, activeBefore.thumbprintSha1);
      const waiting = await test(id);
      assert.equal(waiting.valid, true, 'the active certificate keeps working');
      assert.match(waiting.credentialNote, /next certificate .* is not accepted by Entra ID yet: upload it/);

      upload(clientId, (await download(id, '?status=next')).rawPayload);
      const promoted = await test(id);
      assert.equal(promoted.valid, true);
      assert.match(promoted.credentialNote, /accepted the next certificate .* signs with it from now on/);
      const after = (await plane.adminBrowser.request({ method: 'GET', url: `${base()}/${id}` })).json();
      assert.deepEqual(
        after.oauth.credentialState.certificates.map((c: { status: string; thumbprintSha1: string }) => [c.status, c.thumbprintSha1]),
        [['active', next.thumbprintSha1]],
        'the next certificate is the active one; the old key is gone',
      );
      const event = await eventually(
        async () =>
          (await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?action=client_certificate.next_prepared' })).json()
            .events[0],
        'the audit event',
      );
      assert.equal(event.details.thumbprint, next.thumbprintSha1);
    });

    it('deleting the integration deletes its key pair on the runner', async () => {
      const { id } = await integration('certificate');
      const rows = () => runner.store.database.db.selectFrom('client_certificates').select('id').where('owner_id', '=', id).execute();
      assert.equal((await rows()).length, 1);
      const deleted = await plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${id}` });
      assert.equal(deleted.statusCode, 204);
      await eventually(async () => (await rows()).length === 0, 'the runner deletes the key pair');
    });

    it("workload identity federation: the values to enter in Entra come from the runner's token; a missing file, a wrong subject or audience each say so", async () => {
      const missing = await integration('workload-identity');
      assert.match(missing.saved.test.oauthError, /federated token file .*token .*cannot be read by the runner \(ENOENT\)/);
      assert.match(missing.saved.integration.oauth.credentialState.federated.error, /cannot be read/);

      await issuer.writeToken(tokenFile);
      const { id, clientId } = await integration('workload-identity');
      const shown = (await plane.adminBrowser.request({ method: 'GET', url: `${base()}/${id}/client-credential` })).json();
      assert.deepEqual(
        shown.federated && { issuer: shown.federated.issuer, subject: shown.federated.subject, audience: shown.federated.audience },
        { issuer: issuer.issuer, subject: issuer.subject(), audience: 'api://AzureADTokenExchange' },
      );

      const noCredential = await test(id);
      assert.match(noCredential.oauthError, /no federated credential of the app registration trusts the issuer .* \(AADSTS700211\)/);
      emu.entra.addFederatedCredential(emu.defaultTenant.id, clientId, {
        issuer: issuer.issuer,
        subject: 'system:serviceaccount:keyway:someone-else',
      });
      assert.match((await test(id)).oauthError, /does not name the subject 'system:serviceaccount:keyway:keyway-runner' \(AADSTS700213\)/);
      emu.entra.addFederatedCredential(emu.defaultTenant.id, clientId, {
        issuer: issuer.issuer,
        subject: issuer.subject(),
        audiences: ['api://other-audience'],
      });
      assert.match((await test(id)).oauthError, /does not accept the audience 'api:\/\/AzureADTokenExchange' \(AADSTS700212\)/);
      emu.entra.addFederatedCredential(emu.defaultTenant.id, clientId, { issuer: issuer.issuer, subject: issuer.subject() });
      assert.equal((await test(id)).valid, true);

      // The file is read at every use: a rotated token is picked up, an expired one is refused with its own message.
      await issuer.writeToken(tokenFile, { issuedSecondsAgo: 7200 });
      assert.match((await test(id)).oauthError, /federated token in .* expired at/);
      await issuer.writeToken(tokenFile);
      assert.equal((await test(id)).valid, true);
    });

    it("managed identity as the app's federated credential: issuer and subject come from the identity's token", async () => {
      const identity = emu.entra.managedIdentities.create(emu.defaultTenant.id, { displayName: 'runner vm' });
      emu.entra.managedIdentities.assign(identity.clientId, 'user');
      const { id, clientId, saved } = await integration('managed-identity', { managedIdentityClientId: identity.clientId });
      assert.deepEqual(
        {
          issuer: saved.integration.oauth.credentialState.federated.issuer,
          subject: saved.integration.oauth.credentialState.federated.subject,
        },
        { issuer: `${emu.urls.login}/${emu.defaultTenant.id}/v2.0`, subject: identity.principalId },
      );
      assert.match(saved.test.oauthError, /AADSTS700211/);
      emu.entra.addFederatedCredential(emu.defaultTenant.id, clientId, {
        issuer: `${emu.urls.login}/${emu.defaultTenant.id}/v2.0`,
        subject: identity.principalId,
      });
      assert.equal((await test(id)).valid, true);
      assert.equal(saved.integration.oauth.managedIdentityClientId, identity.clientId);
    });

    it('refuses a client secret with a credential that has none, and an unknown credential, before anything is saved', async () => {
      await clear();
      const app = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'x' });
      const withSecret = await plane.adminBrowser.request({
        method: 'POST',
        url: base(),
        payload: {
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId: app.app.clientId, issuerUrl: issuerUrl(), credential: 'certificate', clientSecret: app.clientSecret },
        },
      });
      assert.equal(withSecret.statusCode, 400);
      assert.deepEqual([withSecret.json().error.code, withSecret.json().error.field], ['field_not_for_credential', 'oauth.clientSecret']);
      assert.ok(!withSecret.body.includes(app.clientSecret));
      const unknown = await plane.adminBrowser.request({
        method: 'POST',
        url: base(),
        payload: {
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: { clientId: app.app.clientId, issuerUrl: issuerUrl(), credential: 'password' },
        },
      });
      assert.equal(unknown.statusCode, 400);
      const badMi = await plane.adminBrowser.request({
        method: 'POST',
        url: base(),
        payload: {
          scmId: 'azure-devops',
          host: 'dev.azure.com',
          oauth: {
            clientId: app.app.clientId,
            issuerUrl: issuerUrl(),
            credential: 'managed-identity',
            managedIdentityClientId: '../../metadata?x=1',
          },
        },
      });
      assert.deepEqual([badMi.statusCode, badMi.json().error.field], [400, 'oauth.managedIdentityClientId']);
    });

    it('canary: no private key material in either database (beyond ciphertext), the logs or any answer', async () => {
      // Keys were watched as they were made (some are deleted by now with their integrations).
      await watchRunnerPrivateKeys(scan, runner);
      scan.database('management database', plane.database.db as never, plane.database.schema);
      scan.database('runner store', runner.store.database.db as never);
      scan.source('logs', 'management plane logs', () => plane.logs.text);
      scan.source('logs', 'runner logs', () => runner.logs.text);
      const { scanned, canaries } = await scan.assertClean();
      assert.ok(canaries >= 5 * 6, `${canaries} canaries: the keys of every case above`);
      assert.ok(scanned.responses > 0 && scanned.database > 0 && scanned.logs > 0, JSON.stringify(scanned));
    });

    // Last: it changes the runner's published key.
    it('a runner key change keeps the certificate credential (it is not sealed to the key) and says so; its test stays current', async () => {
      const { id, clientId } = await integration('certificate');
      upload(clientId, (await download(id)).rawPayload);
      assert.equal((await test(id)).valid, true);
      const fresh = await generateRunnerKeyPair();
      const rotated = await publishRunnerKey(plane, runner, fresh.publicKey);
      assert.equal(rotated.statusCode, 200, rotated.body);
      assert.deepEqual([rotated.json().clearedSecrets, rotated.json().keptCredentials], [0, 1]);
      assert.match(rotated.json().message, /1 credential\(s\) without secret .* are not sealed to the key and keep working/);
      const after = (await plane.adminBrowser.request({ method: 'GET', url: `${base()}/${id}` })).json();
      assert.equal(after.lastTest.stale, undefined, 'nothing sealed to the old key was part of this test');
      assert.equal((await test(id)).valid, true, 'the runner still signs with its certificate');
      const audit = (await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?action=runner.key_rotate' })).json()
        .events[0];
      assert.equal(audit.details.keptCredentials, 1);
    });
  });
}
