import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually, startTestPlane, startTestRunner } from '../../../test/support/plane.ts';
import type { TestPlane } from '../../../test/support/plane.ts';

for (const { kind, skip } of await databaseKinds()) {
  describe(`runners: registration, control channel, revocation (${kind})`, { skip }, () => {
    let plane: TestPlane;
    before(async () => {
      plane = await startTestPlane(kind, { controlPollIntervalMs: 50 });
    });
    after(async () => plane?.close());

    async function createRunner(name: string) {
      const res = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name } });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as { runner: { id: string; status: string }; exchangeToken: string; command: string };
    }

    it('registers with a one-time exchange token, reuses its identity after a restart, and shows its status', async () => {
      const created = await createRunner('build-1');
      assert.equal(created.runner.status, 'pending');
      assert.match(created.command, new RegExp(`keyway runner --server ${plane.url} --exchange-token kwx_`));

      const runner = await startTestRunner(plane.url, created.exchangeToken);
      assert.equal(runner.runtime.registration.runnerId, created.runner.id);
      const listed = await eventually(async () => {
        const res = await plane.memberBrowser.request({ method: 'GET', url: '/api/v1/runners' });
        const r = (
          res.json() as { runners: { id: string; status: string; version: string | null; publicKey: string | null }[] }
        ).runners.find((x) => x.id === created.runner.id);
        return r?.status === 'online' ? r : undefined;
      }, 'runner online');
      assert.ok(listed.version);
      assert.match(listed.publicKey ?? '', /^[A-Za-z0-9_-]{43}$/);
      const dataDir = runner.dataDir;
      await runner.stop();

      // A second exchange with the same token fails: tokens are single use.
      const replay = await plane.app.inject({
        method: 'POST',
        url: '/api/v1/runner/exchange',
        payload: { exchangeToken: created.exchangeToken, publicKey: listed.publicKey, version: 'x' },
      });
      assert.equal(replay.statusCode, 401);

      // Restart without a token: same identity, same key.
      const again = await startTestRunner(plane.url, undefined, { dataDir });
      assert.equal(again.runtime.registration.runnerId, created.runner.id);
      const after = await plane.adminBrowser.request({ method: 'GET', url: `/api/v1/runners/${created.runner.id}` });
      assert.equal(after.json().publicKey, listed.publicKey);
      await again.stop();
    });

    it('revoking a runner makes its token fail at once and stops its control loop', async () => {
      const created = await createRunner('to-revoke');
      const runner = await startTestRunner(plane.url, created.exchangeToken);
      const token = runner.runtime.registration.runnerToken;
      const ok = await plane.app.inject({ method: 'GET', url: '/api/v1/runner/self', headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.statusCode, 200);
      const revoke = await plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/runners/${created.runner.id}` });
      assert.equal(revoke.statusCode, 204);
      const denied = await plane.app.inject({ method: 'GET', url: '/api/v1/runner/self', headers: { authorization: `Bearer ${token}` } });
      assert.equal(denied.statusCode, 401);
      await eventually(async () => runner.revoked, 'runner notices revocation');
      await runner.stop();
      const status = await plane.adminBrowser.request({ method: 'GET', url: `/api/v1/runners/${created.runner.id}` });
      assert.equal(status.json().status, 'revoked');
    });

    it("a runner token cannot call user routes, and a runner cannot answer another runner's request", async () => {
      const a = await createRunner('runner-a');
      const b = await createRunner('runner-b');
      const ra = await startTestRunner(plane.url, a.exchangeToken);
      const rb = await startTestRunner(plane.url, b.exchangeToken);
      try {
        for (const url of ['/api/v1/runners', `/api/v1/runners/${b.runner.id}/scm-integrations`, '/api/v1/me']) {
          const res = await plane.app.inject({
            method: 'GET',
            url,
            headers: { authorization: `Bearer ${ra.runtime.registration.runnerToken}` },
          });
          assert.equal(res.statusCode, 403, url);
        }
        // Queue a request for B, let A try to claim and answer it.
        await rb.runtime.agent.stop();
        const requestId = await plane.core.control.enqueue(b.runner.id, 'ping', {});
        const poll = await plane.app.inject({
          method: 'GET',
          url: '/api/v1/runner/control?wait=0',
          headers: { authorization: `Bearer ${ra.runtime.registration.runnerToken}` },
        });
        assert.ok(
          !(poll.json() as { requests: { id: string }[] }).requests.some((r) => r.id === requestId),
          "A does not receive B's request",
        );
        const forged = await plane.app.inject({
          method: 'POST',
          url: `/api/v1/runner/control/${requestId}`,
          headers: { authorization: `Bearer ${ra.runtime.registration.runnerToken}` },
          payload: { ok: true, result: { forged: true } },
        });
        assert.equal(forged.statusCode, 409);
      } finally {
        await ra.stop();
        await rb.stop();
      }
    });

    it('an offline runner gives a clear error at once, and an unresponsive one within the deadline', async () => {
      const never = await createRunner('never-connected');
      await assert.rejects(
        plane.core.control.call(never.runner.id, 'ping', {}),
        (err: Error & { code?: string }) => err.code === 'runner_offline' && /never connected/.test(err.message),
      );

      const created = await createRunner('goes-quiet');
      const runner = await startTestRunner(plane.url, created.exchangeToken);
      assert.deepEqual(await plane.core.control.call(created.runner.id, 'ping', {}, { timeoutMs: 5000 }), { pong: true });
      await runner.stop();
      // The call's own deadline (0.8 s, said as 1 s), not the 30 s default, and nothing left queued for the runner.
      await assert.rejects(
        plane.core.control.call(created.runner.id, 'ping', {}, { timeoutMs: 800 }),
        (err: Error & { code?: string }) => err.code === 'runner_timeout' && /did not answer within 1 s/.test(err.message),
      );
      const queued = await plane.database.db
        .selectFrom('runner_requests')
        .select('id')
        .where('runner_id', '=', created.runner.id)
        .execute();
      assert.deepEqual(queued, [], 'the unanswered request was withdrawn');

      // Long silent: the status says offline and the error says since when.
      await plane.database.db
        .updateTable('runners')
        .set({ last_seen_at: new Date(Date.now() - 3600_000).toISOString() })
        .where('id', '=', created.runner.id)
        .execute();
      await assert.rejects(
        plane.core.control.call(created.runner.id, 'ping', {}),
        (err: Error & { code?: string }) => err.code === 'runner_offline' && /is offline since \d{4}-/.test(err.message),
      );
    });

    it('only admins create and revoke runners; other organizations cannot see them', async () => {
      const res = await plane.memberBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'sneaky' } });
      assert.equal(res.statusCode, 403);
      const created = await createRunner('private');
      // Members cannot create organizations; an operator gives the member a second one.
      const refused = await plane.memberBrowser.request({ method: 'POST', url: '/api/v1/organizations', payload: { name: 'Other Org' } });
      assert.equal(refused.statusCode, 403);
      const org = await plane.core.identity.createOrganization('Other Org', plane.member.id);
      await plane.memberBrowser.request({ method: 'PUT', url: '/api/v1/me/organization', payload: { organizationId: org.id } });
      const view = await plane.memberBrowser.request({ method: 'GET', url: `/api/v1/runners/${created.runner.id}` });
      assert.equal(view.statusCode, 404);
      const revoke = await plane.memberBrowser.request({ method: 'DELETE', url: `/api/v1/runners/${created.runner.id}` });
      assert.equal(revoke.statusCode, 404);
      await plane.memberBrowser.request({
        method: 'PUT',
        url: '/api/v1/me/organization',
        payload: { organizationId: plane.organizationId },
      });
    });
  });
}
