// Offboarding reaches the runners: removing, leaving or disabling a person makes every runner of the
// organization delete the person's credentials, confirmed back to the management plane. Checked in
// the runner's own store, on SQLite and PostgreSQL, with a runner online and one that comes later.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../../test/support/databases.ts';
import { eventually, startTestPlane, startTestRunner } from '../../../test/support/plane.ts';
import type { TestPlane, TestRunner } from '../../../test/support/plane.ts';
import { Browser } from '../../../test/support/management.ts';

const STRONG = () => `pw-${Math.random().toString(36).slice(2)}-long-enough`;

for (const { kind, skip } of await databaseKinds()) {
  describe(`offboarding purges credentials on runners (${kind})`, { skip }, () => {
    let plane: TestPlane;
    let online: TestRunner;
    let later: TestRunner | undefined;
    let laterToken: string;

    before(async () => {
      plane = await startTestPlane(kind);
      const created = (await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'online' } })).json();
      online = await startTestRunner(plane.url, created.exchangeToken);
      laterToken = (
        await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'offline for now' } })
      ).json().exchangeToken;
    });
    after(async () => {
      await online?.stop();
      await later?.stop();
      await plane?.close();
    });

    async function personWithCredentials(runner: TestRunner, email: string) {
      const created = await plane.core.identity.createUser({
        email,
        password: STRONG(),
        organizationId: plane.organizationId,
        role: 'member',
      });
      for (const method of ['oauth', 'pat']) {
        await runner.runtime.credentials.insert({
          subject: { type: 'user', id: created.id },
          integrationId: 'int_test',
          host: 'dev.azure.com',
          method,
          secret: `secret-${method}-${Math.random()}`,
        });
      }
      return created;
    }

    const count = async (runner: TestRunner, userId: string) =>
      (
        await runner.store.database.db
          .selectFrom('credentials')
          .select('id')
          .where('subject_type', '=', 'user')
          .where('subject_id', '=', userId)
          .execute()
      ).length;

    it('removing a member deletes their credentials on the runner, and the runner confirms', async () => {
      const person = await personWithCredentials(online, `removed-${kind}@acme.test`);
      const bystander = await personWithCredentials(online, `bystander-${kind}@acme.test`);
      assert.equal(await count(online, person.id), 2);
      const removed = await plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/members/${person.id}` });
      assert.equal(removed.statusCode, 200, removed.body);
      assert.equal(removed.json().runners, 2, 'both runners of the organization are asked');
      await eventually(async () => (await count(online, person.id)) === 0, 'the runner deletes the credentials');
      assert.equal(await count(online, bystander.id), 2, 'nobody else loses anything');
      const purges = await eventually(async () => {
        const rows = await plane.core.organizations.purges(person.id);
        return rows.some((r) => r.confirmed_at) ? rows : undefined;
      }, 'the runner confirms');
      const confirmed = purges.find((r) => r.confirmed_at)!;
      assert.equal(confirmed.deleted, 2);
      assert.equal(confirmed.reason, 'removed');
    });

    it('a runner that was offline purges when it connects', async () => {
      const runnerId = (await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/runners' }))
        .json()
        .runners.find((r: { name: string }) => r.name === 'offline for now').id as string;
      later = await startTestRunner(plane.url, laterToken);
      await later.stop();
      // Seed while it is down, then disable the person; the runner comes back afterwards.
      const dataDir = later.dataDir;
      const restarted = await startTestRunner(plane.url, undefined, { dataDir });
      const person = await personWithCredentials(restarted, `disabled-${kind}@acme.test`);
      await restarted.stop();
      const disabled = await plane.adminBrowser.request({
        method: 'PUT',
        url: `/api/v1/users/${person.id}/disabled`,
        payload: { disabled: true },
      });
      assert.equal(disabled.statusCode, 200, disabled.body);
      later = await startTestRunner(plane.url, undefined, { dataDir });
      await eventually(async () => (await count(later!, person.id)) === 0, 'the returning runner deletes the credentials');
      await eventually(
        async () => (await plane.core.organizations.purges(person.id)).find((r) => r.runner_id === runnerId)?.confirmed_at ?? undefined,
        'and confirms',
      );
    });

    it('leaving an organization purges like a removal', async () => {
      const email = `leaver-${kind}@acme.test`;
      const password = STRONG();
      const person = await plane.core.identity.createUser({ email, password, organizationId: plane.organizationId, role: 'member' });
      await online.runtime.credentials.insert({
        subject: { type: 'user', id: person.id },
        integrationId: 'int_test',
        host: 'dev.azure.com',
        method: 'pat',
        secret: 'a-pat-value-for-the-test',
      });
      const browser = new Browser(plane.app);
      await browser.signIn(email, password);
      const left = await browser.request({ method: 'DELETE', url: `/api/v1/me/organizations/${plane.organizationId}` });
      assert.equal(left.statusCode, 200, left.body);
      await eventually(async () => (await count(online, person.id)) === 0, 'the runner deletes the credentials');
    });
  });
}
