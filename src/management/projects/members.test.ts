import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../../test/support/databases.ts';
import { Browser, founderOfNewOrganization, startTestManagement } from '../../../test/support/management.ts';
import type { TestManagement } from '../../../test/support/management.ts';

// Project membership over HTTP, as the project page drives it: owners and organization admins add
// members of the organization, change their role and remove them; plain members only read; and a
// project always keeps an owner, even when two owners step down at the same moment.

interface Member {
  userId: string;
  email: string;
  role: 'owner' | 'member';
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`project members (${kind})`, { skip }, () => {
    let t: TestManagement;
    let admin: Browser;
    let owner: Browser;
    let plain: Browser;
    const people = { owner: { id: '', email: 'owner@acme.test' }, plain: { id: '', email: 'plain@acme.test' }, outsider: { id: '' } };
    const password = 'a-long-enough-password';

    const members = async (browser: Browser, projectId: string) => {
      const res = await browser.request({ method: 'GET', url: `/api/v1/projects/${projectId}/members` });
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { members: Member[] }).members.map((m) => [m.email, m.role]);
    };
    const createProject = async (name: string) => {
      const res = await admin.request({ method: 'POST', url: '/api/v1/projects', payload: { name } });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().id as string;
    };
    const setMember = (browser: Browser, projectId: string, userId: string, role: string) =>
      browser.request({ method: 'POST', url: `/api/v1/projects/${projectId}/members`, payload: { userId, role } });
    const remove = (browser: Browser, projectId: string, userId: string) =>
      browser.request({ method: 'DELETE', url: `/api/v1/projects/${projectId}/members/${userId}` });

    before(async () => {
      t = await startTestManagement(kind);
      people.owner.id = (
        await t.core.identity.createUser({ email: people.owner.email, password, organizationId: t.organizationId, role: 'member' })
      ).id;
      people.plain.id = (
        await t.core.identity.createUser({ email: people.plain.email, password, organizationId: t.organizationId, role: 'member' })
      ).id;
      const { user: stranger, organization: elsewhere } = await founderOfNewOrganization(
        t,
        { email: 'stranger@elsewhere.test', password },
        'Elsewhere',
      );
      assert.ok(elsewhere.id);
      people.outsider.id = stranger.id;
      admin = new Browser(t.app);
      owner = new Browser(t.app);
      plain = new Browser(t.app);
      await admin.signIn(t.admin.email, t.admin.password);
      await owner.signIn(people.owner.email, password);
      await plain.signIn(people.plain.email, password);
    });
    after(async () => t?.close());

    it('lets a project owner who is not an organization admin add, re-role and remove members', async () => {
      const project = await createProject('Owned');
      assert.equal((await setMember(admin, project, people.owner.id, 'owner')).statusCode, 200);
      const added = await setMember(owner, project, people.plain.id, 'member');
      assert.equal(added.statusCode, 200, added.body);
      assert.deepEqual(added.json(), { userId: people.plain.id, email: people.plain.email, role: 'member', created: true });
      assert.deepEqual(await members(owner, project), [
        [t.admin.email, 'owner'],
        [people.owner.email, 'owner'],
        [people.plain.email, 'member'],
      ]);
      const promoted = await setMember(owner, project, people.plain.id, 'owner');
      assert.equal(promoted.json().created, false);
      assert.deepEqual(await members(plain, project), [
        [t.admin.email, 'owner'],
        [people.owner.email, 'owner'],
        [people.plain.email, 'owner'],
      ]);
      assert.equal((await setMember(owner, project, people.plain.id, 'member')).statusCode, 200);
      assert.equal((await remove(owner, project, people.plain.id)).statusCode, 204);
      assert.deepEqual(await members(owner, project), [
        [t.admin.email, 'owner'],
        [people.owner.email, 'owner'],
      ]);
      const audit = await t.core.audit.list(t.organizationId, { limit: 20, group: 'project', actorId: people.owner.id });
      assert.deepEqual(
        audit.events.map((e) => e.action),
        ['project.member.remove', 'project.member.set', 'project.member.set', 'project.member.set'],
      );
    });

    it('lets a plain member read the list and nothing more', async () => {
      const project = await createProject('Read only');
      assert.equal((await setMember(admin, project, people.plain.id, 'member')).statusCode, 200);
      assert.deepEqual(await members(plain, project), [
        [t.admin.email, 'owner'],
        [people.plain.email, 'member'],
      ]);
      for (const res of [
        await setMember(plain, project, people.owner.id, 'member'),
        await setMember(plain, project, people.plain.id, 'owner'),
        await remove(plain, project, t.admin.id),
      ]) {
        assert.equal(res.statusCode, 403, res.body);
        assert.match(res.json().error.message, /only the project's owners/);
      }
      assert.deepEqual(
        await members(admin, project),
        [
          [t.admin.email, 'owner'],
          [people.plain.email, 'member'],
        ],
        'nothing changed',
      );
      // Someone outside the project does not learn it exists.
      assert.equal((await owner.request({ method: 'GET', url: `/api/v1/projects/${project}/members` })).statusCode, 404);
      assert.equal((await setMember(owner, project, people.owner.id, 'owner')).statusCode, 404);
    });

    it('refuses to remove or demote the last owner, and says what to do instead', async () => {
      const project = await createProject('Last owner');
      for (const res of [await setMember(admin, project, t.admin.id, 'member'), await remove(admin, project, t.admin.id)]) {
        assert.equal(res.statusCode, 409, res.body);
        assert.equal(res.json().error.code, 'last_owner');
        assert.match(res.json().error.message, /at least one owner; make someone else owner first/);
      }
      assert.deepEqual(await members(admin, project), [[t.admin.email, 'owner']]);
      // With a second owner, either may step down, but not both.
      assert.equal((await setMember(admin, project, people.owner.id, 'owner')).statusCode, 200);
      assert.equal(
        (await setMember(owner, project, people.owner.id, 'member')).statusCode,
        200,
        'an owner may demote themselves while another owner remains',
      );
      assert.equal((await setMember(admin, project, people.owner.id, 'owner')).statusCode, 200);
      assert.equal((await remove(owner, project, t.admin.id)).statusCode, 204);
      assert.equal((await remove(owner, project, people.owner.id)).statusCode, 409, 'now the last owner');
    });

    it('keeps an owner when two owners step down at the same time', async () => {
      for (let round = 0; round < 5; round++) {
        const project = await createProject(`Race ${round}`);
        assert.equal((await setMember(admin, project, people.owner.id, 'owner')).statusCode, 200);
        const answers = await Promise.all(
          round % 2 === 0
            ? [setMember(admin, project, t.admin.id, 'member'), setMember(owner, project, people.owner.id, 'member')]
            : [remove(admin, project, t.admin.id), remove(owner, project, people.owner.id)],
        );
        const codes = answers.map((a) => a.statusCode).sort();
        assert.deepEqual(codes, round % 2 === 0 ? [200, 409] : [204, 409], `round ${round}: ${answers.map((a) => a.body).join(' / ')}`);
        const owners = (await members(admin, project)).filter(([, role]) => role === 'owner');
        assert.equal(owners.length, 1, `round ${round}: one owner remains`);
      }
    });

    it('adds only members of the organization, with errors naming the field', async () => {
      const project = await createProject('Strangers');
      const outsider = await setMember(admin, project, people.outsider.id, 'member');
      assert.equal(outsider.statusCode, 400);
      assert.equal(outsider.json().error.code, 'not_an_organization_member');
      assert.equal(outsider.json().error.field, 'userId');
      const byEmail = await admin.request({
        method: 'POST',
        url: `/api/v1/projects/${project}/members`,
        payload: { email: 'stranger@elsewhere.test', role: 'member' },
      });
      assert.equal(byEmail.json().error.field, 'email');
      const role = await setMember(admin, project, people.plain.id, 'admin');
      assert.equal(role.statusCode, 400);
      assert.equal(role.json().error.field, 'role');
      const missing = await remove(admin, project, people.plain.id);
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(await members(admin, project), [[t.admin.email, 'owner']]);
    });
  });
}
