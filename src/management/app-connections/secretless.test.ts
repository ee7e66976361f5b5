// Service-principal app connections with no client secret (issue 19), end to end against the
// emulator: each syncs a variable group — with the runner's certificate, with a federated token
// file, with the machine's managed identity — and each failure at create or Test has its own
// message: certificate not uploaded, federated file missing, wrong subject, wrong audience, IMDS
// unreachable, an identity not assigned, a principal outside the organization.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually, startTestRunner } from '../../../test/support/plane.ts';
import { createSync, expectStatus, startAutomationWorld } from '../../../test/support/automation.ts';
import type { AutomationWorld } from '../../../test/support/automation.ts';
import { startWorkloadIssuer } from '../../../test/support/workload-issuer.ts';
import type { WorkloadIssuer } from '../../../test/support/workload-issuer.ts';
import { CanaryScan } from '../../../test/resilience/support/canary.ts';
import { recordResponses, watchRunnerPrivateKeys } from '../../../test/support/private-key-canary.ts';

/** A port nothing listens on: what a machine without IMDS offers. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`App connections without a client secret (${kind})`, { skip }, () => {
    let w: AutomationWorld;
    let issuer: WorkloadIssuer;
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'keyway-wif-')), 'azure-identity-token');
    const base = () => `/api/v1/projects/${w.projectId}/app-connections`;
    const scan = new CanaryScan();

    before(async () => {
      issuer = await startWorkloadIssuer();
      w = await startAutomationWorld(kind, {}, (seeded) => ({
        clientCredentials: { federatedTokenFile: () => tokenFile, imdsUrl: seeded.emu.urls.imds },
      }));
      recordResponses(scan, w.plane.adminBrowser, 'admin');
      recordResponses(scan, w.plane.memberBrowser, 'member');
    });
    after(async () => {
      await w?.close();
      await issuer?.close();
    });

    async function create(body: Record<string, unknown>, status = 201) {
      const res = expectStatus(
        await w.plane.adminBrowser.request({
          method: 'POST',
          url: base(),
          payload: { runnerId: w.runnerId, organization: w.seeded.org, ...body },
        }),
        status,
      ).json();
      await watchRunnerPrivateKeys(scan, w.runner);
      return res;
    }
    const testConnection = async (id: string) =>
      expectStatus(await w.plane.adminBrowser.request({ method: 'POST', url: `${base()}/${id}/test` }), 200).json();

    /** An app registration the organization has as a service principal, and an owner's connection to it with no secret. */
    async function principalConnection(method: 'certificate' | 'workload-identity', name: string, displayName: string) {
      const { emu } = w.seeded;
      const sp = emu.entra.addApp(emu.defaultTenant.id, { displayName });
      emu.world.addServicePrincipalToOrg(w.seeded.org, { clientId: sp.app.clientId });
      const saved = await create({ name, method, tenantId: emu.defaultTenant.id, clientId: sp.app.clientId });
      return { sp, saved };
    }

    /** A sync through the connection, run once: what a service principal is for. */
    async function syncWith(connectionId: string, groupName: string) {
      const sync = await createSync(w, {
        name: `via ${groupName}`,
        connectionId,
        groupName,
        variables: [
          { name: 'REGION', value: 'westeurope' },
          { name: 'API_KEY', value: `k-${randomUUID()}`, isSecret: true },
        ],
      });
      const run = await sync.run();
      assert.equal(run.status, 'succeeded', JSON.stringify(run));
      // The group exists in Azure DevOps with the value, written by the connection's principal.
      assert.ok(run.groupId, JSON.stringify(run));
      assert.equal(w.seeded.emu.world.readVariable(w.seeded.org, run.groupId, 'REGION'), 'westeurope');
      return { syncId: sync.syncId, run };
    }

    it('certificate: kept pending with the certificate to upload; once uploaded the connection tests valid and syncs a variable group', async () => {
      const { emu } = w.seeded;
      const { sp, saved } = await principalConnection('certificate', 'sp certificate', 'sync principal (certificate)');
      assert.equal(saved.connection.status, 'pending');
      assert.equal(saved.validation.valid, false);
      assert.equal(saved.validation.field, 'certificate');
      assert.match(saved.validation.message, /not uploaded yet/);
      const active = saved.connection.credentialState.certificates[0];
      assert.equal(active.status, 'active');

      const cer = await w.plane.memberBrowser.request({
        method: 'GET',
        url: `${base()}/${saved.connection.id}/client-credential/certificate`,
      });
      assert.equal(cer.statusCode, 200, 'project members may download the (public) certificate');
      emu.entra.addCertificate(emu.defaultTenant.id, sp.app.clientId, { certificate: cer.rawPayload.toString('base64') });
      const tested = await testConnection(saved.connection.id);
      assert.equal(tested.valid, true, JSON.stringify(tested));
      const connection = expectStatus(
        await w.plane.adminBrowser.request({ method: 'GET', url: `${base()}/${saved.connection.id}` }),
        200,
      ).json();
      assert.equal(connection.status, 'active');

      const authBefore = emu.entra.counters().byClientAuth.certificate ?? 0;
      await syncWith(saved.connection.id, 'via-certificate');
      assert.ok((emu.entra.counters().byClientAuth.certificate ?? 0) > authBefore, 'the sync signed in with the certificate');

      // Members may look, only owners may make a next certificate.
      expectStatus(
        await w.plane.memberBrowser.request({ method: 'POST', url: `${base()}/${saved.connection.id}/client-credential/next-certificate` }),
        403,
      );
      const next = expectStatus(
        await w.plane.adminBrowser.request({ method: 'POST', url: `${base()}/${saved.connection.id}/client-credential/next-certificate` }),
        200,
      ).json();
      assert.deepEqual(
        next.certificates.map((c: { status: string }) => c.status),
        ['active', 'next'],
      );
    });

    it('workload identity: a missing token file, a wrong subject and a wrong audience each say so; then the federated token syncs', async () => {
      const { emu } = w.seeded;
      const { sp, saved } = await principalConnection('workload-identity', 'sp workload', 'sync principal (workload identity)');
      assert.equal(saved.connection.status, 'pending');
      assert.deepEqual([saved.validation.code, saved.validation.field], ['federated_token_unreadable', 'federatedCredential']);
      assert.match(saved.validation.message, /federated token file .* cannot be read by the runner \(ENOENT\)/);

      await issuer.writeToken(tokenFile);
      const shown = expectStatus(
        await w.plane.memberBrowser.request({ method: 'GET', url: `${base()}/${saved.connection.id}/client-credential` }),
        200,
      ).json();
      assert.deepEqual(
        [shown.federated.issuer, shown.federated.subject, shown.federated.audience],
        [issuer.issuer, issuer.subject(), 'api://AzureADTokenExchange'],
      );

      emu.entra.addFederatedCredential(emu.defaultTenant.id, sp.app.clientId, {
        issuer: issuer.issuer,
        subject: 'system:serviceaccount:other:runner',
      });
      const subject = await testConnection(saved.connection.id);
      assert.equal(subject.field, 'federatedCredential');
      assert.match(subject.message, /does not name the subject 'system:serviceaccount:keyway:keyway-runner' \(AADSTS700213\)/);
      emu.entra.addFederatedCredential(emu.defaultTenant.id, sp.app.clientId, {
        issuer: issuer.issuer,
        subject: issuer.subject(),
        audiences: ['api://somewhere-else'],
      });
      assert.match((await testConnection(saved.connection.id)).message, /AADSTS700212/);
      emu.entra.addFederatedCredential(emu.defaultTenant.id, sp.app.clientId, { issuer: issuer.issuer, subject: issuer.subject() });
      assert.equal((await testConnection(saved.connection.id)).valid, true);

      const before = emu.entra.counters().byClientAuth.federated ?? 0;
      await syncWith(saved.connection.id, 'via-workload-identity');
      assert.ok((emu.entra.counters().byClientAuth.federated ?? 0) > before);
    });

    it('managed identity: an identity not assigned to the machine, then not in the organization, say so; the assigned member identity syncs', async () => {
      const { emu } = w.seeded;
      const identity = emu.entra.managedIdentities.create(emu.defaultTenant.id, { displayName: 'runner vm identity' });
      const unassigned = await create({ name: 'mi', method: 'managed-identity', clientId: identity.clientId });
      assert.equal(unassigned.validation.code, 'identity_not_found');
      assert.equal(unassigned.validation.field, 'clientId');
      assert.match(unassigned.validation.message, /user-assigned managed identity .* is not assigned to the machine the runner runs on/);

      emu.entra.managedIdentities.assign(identity.clientId, 'user');
      const outside = await testConnection(unassigned.connection.id);
      assert.equal(outside.code, 'service_principal_not_member');
      assert.match(outside.message, /signed in the managed identity .* the managed identity is not a member of the organization/);
      const described = expectStatus(
        await w.plane.adminBrowser.request({ method: 'GET', url: `${base()}/${unassigned.connection.id}/client-credential` }),
        200,
      ).json();
      assert.deepEqual(
        [described.managedIdentity.clientId, described.managedIdentity.principalId],
        [identity.clientId, identity.principalId],
        'the ids to add to Azure DevOps',
      );

      emu.world.addServicePrincipalToOrg(w.seeded.org, { clientId: identity.clientId });
      assert.equal((await testConnection(unassigned.connection.id)).valid, true);
      await syncWith(unassigned.connection.id, 'via-managed-identity');
    });

    it('managed identity on a machine without IMDS: unreachable, with what to use instead', async () => {
      const created = await w.plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'not on azure' } });
      const port = await closedPort();
      const other = await startTestRunner(w.plane.url, created.json().exchangeToken, {
        endpoints: { services: w.seeded.emu.urls.services, vssps: w.seeded.emu.urls.vssps },
        extra: { clientCredentials: { imdsUrl: `http://127.0.0.1:${port}`, imdsTimeoutMs: 2000 } },
      });
      try {
        const saved = expectStatus(
          await w.plane.adminBrowser.request({
            method: 'POST',
            url: base(),
            payload: { runnerId: created.json().runner.id, name: 'mi off azure', method: 'managed-identity', organization: w.seeded.org },
          }),
          201,
        ).json();
        assert.equal(saved.validation.code, 'imds_unreachable');
        assert.equal(saved.validation.field, 'managedIdentity');
        assert.match(
          saved.validation.message,
          /Azure Instance Metadata Service at http:\/\/127\.0\.0\.1:\d+ is unreachable from the runner \(ECONNREFUSED\).*use a certificate or workload identity federation/,
        );
      } finally {
        await other.stop();
      }
    });

    it('deleting a certificate connection deletes its key pair on the runner; secrets and foreign fields are refused', async () => {
      const { emu } = w.seeded;
      const sp = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'short-lived' });
      const saved = await create({ name: 'to delete', method: 'certificate', tenantId: emu.defaultTenant.id, clientId: sp.app.clientId });
      const rows = () =>
        w.runner.store.database.db.selectFrom('client_certificates').select('id').where('owner_id', '=', saved.connection.id).execute();
      assert.equal((await rows()).length, 1);
      expectStatus(await w.plane.adminBrowser.request({ method: 'DELETE', url: `${base()}/${saved.connection.id}` }), 204);
      await eventually(async () => (await rows()).length === 0, 'the runner deletes the key pair');

      const withSecret = await create(
        { name: 'nope', method: 'certificate', tenantId: emu.defaultTenant.id, clientId: sp.app.clientId, clientSecret: sp.clientSecret },
        400,
      );
      assert.deepEqual([withSecret.error.code, withSecret.error.field], ['field_not_for_method', 'clientSecret']);
      const noClient = await create({ name: 'nope', method: 'workload-identity', tenantId: emu.defaultTenant.id }, 400);
      assert.equal(noClient.error.field, 'clientId');
    });

    it('canary: no private key material (nor the federated or IMDS tokens) in either database, the logs or any answer', async () => {
      await watchRunnerPrivateKeys(scan, w.runner);
      // The federated token in the runner's file is a credential too: it must go only to Entra ID.
      scan.watch((await issuer.token()).split('.')[2], 'a federated token signature');
      scan.watch(readFileSync(tokenFile, 'utf8').split('.')[2], 'the federated token in the file');
      scan.database('management database', w.plane.database.db as never, w.plane.database.schema);
      scan.database('runner store', w.runner.store.database.db as never);
      scan.source('logs', 'management plane logs', () => w.plane.logs.text);
      scan.source('logs', 'runner logs', () => w.runner.logs.text);
      const { scanned } = await scan.assertClean();
      assert.ok(scanned.responses > 0 && scanned.database > 0 && scanned.logs > 0, JSON.stringify(scanned));
    });
  });
}
