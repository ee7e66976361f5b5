// Case 7 of issue 14: revoking a runner leaves no credential behind. The management plane deletes
// the runner's integrations and sealed secrets at once; the runner deletes every credential it holds
// when it learns of the revocation — at its next poll if it runs, at its next start if it was
// offline — and replicas sharing its store purge once. Both halves are in the audit log.
// Case 10's runner-event path is exercised here too: its refusals, its idempotency, and what it may
// say about whom.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually, publishRunnerKey, startTestRunner } from '../../../test/support/plane.ts';
import type { TestRunner } from '../../../test/support/plane.ts';
import { startIntegrationBed } from '../../../test/support/integration-bed.ts';
import type { IntegrationBed } from '../../../test/support/integration-bed.ts';
import type { User } from '../../../emulator/index.ts';
import { openDatabase } from '../../db/database.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { RunnerRegistrationError } from '../../runner/runtime.ts';
import { generateRunnerKeyPair } from '../../crypto/sealing.ts';

const ORG = 'contoso';

async function seed(emu: IntegrationBed['emu'], users: User[]): Promise<void> {
  emu.world.addOrganization(ORG);
  emu.world.addProject(ORG, 'Web');
  for (const name of ['alice', 'bob']) {
    const user = emu.world.addUser({ upn: `${name}-${randomBytes(2).toString('hex')}@${emu.defaultTenant.domain}` });
    emu.world.addMember(ORG, user.id);
    users.push(user);
  }
}

/** A revocation-purge report (nothing purged) as a runner files it with its token. */
function reportPurge(bed: IntegrationBed, token: string) {
  return bed.plane.app.inject({
    method: 'POST',
    url: '/api/v1/runner/revocation-purge',
    headers: { authorization: `Bearer ${token}` },
    payload: { credentials: 0, pendingSignIns: 0, syncValues: 0, purgedAt: new Date().toISOString() },
  });
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`revoking a runner purges what it was given and what it holds (${kind})`, { skip }, () => {
    it('a running runner with two replicas: integrations and sealed secrets go at once; the store is purged once; both halves audited', async () => {
      const users: User[] = [];
      const bed = await startIntegrationBed(kind, (emu) => seed(emu, users));
      try {
        const replica = await bed.startReplica();
        await bed.connectOAuth(bed.plane.memberBrowser, users[0]!.upn);
        const pat = bed.emu.world.createPat(users[1]!.id, { scopes: ['vso.code_write'], orgs: [ORG] });
        const stored = await bed.plane.adminBrowser.request({
          method: 'POST',
          url: '/api/v1/scm/pat',
          payload: { integrationId: bed.integrationId, organization: ORG, token: pat.token },
        });
        assert.equal(stored.statusCode, 201, stored.body);
        const credentials = () => bed.runner.store.database.db.selectFrom('credentials').select('id').execute();
        assert.equal((await credentials()).length, 2);
        const token = bed.runner.runtime.registration.runnerToken;

        const revoke = await bed.plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/runners/${bed.runnerId}` });
        assert.equal(revoke.statusCode, 204, revoke.body);
        // The management plane keeps nothing the runner was given.
        const left = await bed.plane.database.db.selectFrom('scm_integrations').selectAll().where('runner_id', '=', bed.runnerId).execute();
        assert.deepEqual(left, []);
        const [revoked] = await bed.audit('runner.revoke');
        assert.deepEqual(
          { integrations: revoked?.details.integrationsDeleted, secrets: revoked?.details.sealedSecretsDeleted },
          { integrations: 1, secrets: 1 },
        );

        // Both replicas learn at their poll, purge (once between them) and stop.
        await eventually(async () => bed.runner.revoked && replica.revoked, 'both replicas told of the revocation', 20_000);
        assert.deepEqual(await credentials(), []);
        const purge = await bed.auditEventually('runner.purge');
        assert.equal((await bed.audit('runner.purge')).length, 1, 'one purge recorded for two replicas');
        assert.equal(purge.actor.type, 'runner');
        assert.equal(purge.actor.id, bed.runnerId);
        assert.equal(purge.details.credentialsDeleted, 2);
        const row = await bed.plane.database.db.selectFrom('runners').selectAll().where('id', '=', bed.runnerId).executeTakeFirstOrThrow();
        assert.ok(row.purged_at);
        // After its purge the revoked token opens nothing, not even the purge report.
        const again = await reportPurge(bed, token);
        assert.equal(again.statusCode, 401);
      } finally {
        await bed.close();
      }
    });

    it('an offline runner purges at its next start and refuses to run', async () => {
      const users: User[] = [];
      const bed = await startIntegrationBed(kind, (emu) => seed(emu, users));
      try {
        await bed.connectOAuth(bed.plane.memberBrowser, users[0]!.upn);
        const dataDir = bed.runner.dataDir;
        await bed.runner.stop();
        const revoke = await bed.plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/runners/${bed.runnerId}` });
        assert.equal(revoke.statusCode, 204);
        const store = bed.store.schema
          ? await openDatabase<RunnerDB>(bed.store.url, { schema: bed.store.schema })
          : await openDatabase<RunnerDB>(bed.store.url);
        try {
          assert.equal(
            (await store.db.selectFrom('credentials').select('id').execute()).length,
            1,
            'still there while the runner is offline',
          );
          await assert.rejects(
            startTestRunner(bed.plane.url, undefined, {
              dataDir,
              store: bed.store,
              endpoints: { services: bed.emu.urls.services, vssps: bed.emu.urls.vssps },
            }),
            (err: Error) => err instanceof RunnerRegistrationError && /revoked: every credential it held was deleted/.test(err.message),
          );
          assert.deepEqual(await store.db.selectFrom('credentials').select('id').execute(), []);
        } finally {
          await store.close();
        }
        const purge = await bed.auditEventually('runner.purge');
        assert.equal(purge.details.credentialsDeleted, 1);
      } finally {
        await bed.close();
      }
    });
  });

  describe(`runner events into the audit log: what a runner may say, once, about whom (${kind})`, { skip }, () => {
    let bed: IntegrationBed;
    let other: TestRunner;
    let otherIntegrationId: string;
    const users: User[] = [];

    before(async () => {
      bed = await startIntegrationBed(kind, (emu) => seed(emu, users));
      const created = await bed.plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'other' } });
      other = await startTestRunner(bed.plane.url, created.json().exchangeToken, {
        endpoints: { services: bed.emu.urls.services, vssps: bed.emu.urls.vssps },
      });
      const saved = await bed.plane.adminBrowser.request({
        method: 'POST',
        url: `/api/v1/runners/${created.json().runner.id}/scm-integrations`,
        payload: { scmId: 'azure-devops', host: 'dev.azure.com', pat: { enabled: true } },
      });
      otherIntegrationId = saved.json().integration.id;
    });
    after(async () => {
      await other?.stop();
      await bed?.close();
    });

    const post = (token: string, events: unknown[]) =>
      bed.plane.app.inject({
        method: 'POST',
        url: '/api/v1/runner/events',
        headers: { authorization: `Bearer ${token}` },
        payload: { events },
      });
    const event = (extra: Record<string, unknown> = {}) => ({
      id: `rev_${randomBytes(9).toString('base64url')}`,
      action: 'credentials.purged',
      outcome: 'success',
      userId: bed.plane.member.id,
      integrationId: bed.integrationId,
      occurredAt: new Date().toISOString(),
      details: { count: 3, reason: 'offboarding' },
      ...extra,
    });

    it('an event sent twice is recorded once, with the runner as actor and the user as target; counts stay readable', async () => {
      const token = bed.runner.runtime.registration.runnerToken;
      const e = event();
      for (let i = 0; i < 2; i++) assert.equal((await post(token, [e])).statusCode, 200);
      const recorded = (await bed.audit('credentials.purged')).filter(
        (x) => x.details.occurredAt === e.occurredAt && x.details.count === 3,
      );
      assert.equal(recorded.length, 1, JSON.stringify(await bed.audit('credentials.purged')));
      assert.equal(recorded[0]!.actor.type, 'runner');
      assert.equal(recorded[0]!.target?.type, 'user');
      assert.equal(recorded[0]!.target?.id, bed.plane.member.id);
    });

    it("refuses another runner's integration, unknown actions, nested details, oversized batches, users and revoked runners", async () => {
      const token = bed.runner.runtime.registration.runnerToken;
      assert.equal((await post(token, [event({ integrationId: otherIntegrationId })])).statusCode, 403);
      assert.equal(
        (await post(other.runtime.registration.runnerToken, [event()])).statusCode,
        403,
        "another runner cannot speak of this runner's integration",
      );
      assert.equal((await post(token, [event({ action: 'runner.revoke' })])).statusCode, 400);
      assert.equal((await post(token, [event({ details: { nested: { secret: 'x' } } })])).statusCode, 400);
      assert.equal(
        (
          await post(
            token,
            Array.from({ length: 101 }, () => event()),
          )
        ).statusCode,
        400,
      );
      assert.equal((await post(token, [event({ details: { reason: 'x'.repeat(501) } })])).statusCode, 400);
      const asUser = await bed.plane.memberBrowser.request({
        method: 'POST',
        url: '/api/v1/runner/events',
        payload: { events: [event()] },
      });
      assert.equal(asUser.statusCode, 401);
      // A runner that is not revoked cannot file a purge report.
      const report = await reportPurge(bed, token);
      assert.equal(report.statusCode, 401);
      assert.deepEqual(await bed.audit('runner.purge'), []);
    });

    it('booleans and counts are not redacted; a runner key rotation marks the last test stale', async () => {
      const created = (await bed.audit('scm_integration.create')).find((e) => e.target?.id === bed.integrationId);
      assert.equal(typeof created?.details.pat, 'boolean', JSON.stringify(created?.details));
      assert.equal(created?.details.oauth, true);
      const integration = `/api/v1/runners/${bed.runnerId}/scm-integrations/${bed.integrationId}`;
      assert.equal((await bed.plane.adminBrowser.request({ method: 'GET', url: integration })).json().lastTest.stale, undefined);
      const fresh = await generateRunnerKeyPair();
      const rotated = await publishRunnerKey(bed.plane, other, fresh.publicKey);
      assert.equal(rotated.statusCode, 200);
      const [rotation] = await bed.audit('runner.key_rotate');
      assert.equal(rotation?.details.clearedSecrets, 0);
      // This runner's own rotation: its one sealed secret is cleared and its test goes stale.
      const own = await publishRunnerKey(bed.plane, bed.runner, fresh.publicKey);
      assert.equal(own.json().clearedSecrets, 1);
      const after = (await bed.plane.adminBrowser.request({ method: 'GET', url: integration })).json();
      assert.equal(after.lastTest.stale, true);
      assert.match(after.lastTest.staleReason, /key changed/);
      assert.equal((await bed.audit('runner.key_rotate'))[0]?.details.clearedSecrets, 1);
    });
  });
}
