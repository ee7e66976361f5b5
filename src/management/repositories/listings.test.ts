import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../../test/support/databases.ts';
import { startRepositoryBed } from '../../../test/support/repositories.ts';
import type { RepositoryBed } from '../../../test/support/repositories.ts';
import type { Repository, User } from '../../../emulator/index.ts';
import { runGit } from '../../../emulator/git/repo.ts';

const ORG = 'fabrikam';
const OTHER_ORGS = ['org-a', 'org-b', 'org-c', 'org-d', 'org-e'];
const PROJECTS = ['Alpha', 'Beta', 'Delta', 'Epsilon', 'Gamma', 'Web'];
const BRANCHES = ['b-1', 'b-2', 'b-3', 'b-4', 'b-5', 'b-6'];

interface Page {
  items: Record<string, unknown>[];
  continuationToken: string | null;
  calls: number;
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`SCM listings, paged, against the emulator (${kind})`, { skip }, () => {
    let bed: RepositoryBed;
    let alice: User;
    let app: Repository;
    let commits: string[];
    const repoNames: string[] = [];

    before(async () => {
      bed = await startRepositoryBed(kind, async (emu) => {
        const w = emu.world;
        alice = w.addUser({ upn: `alice@${emu.defaultTenant.domain}`, displayName: 'Alice' });
        for (const org of [ORG, ...OTHER_ORGS]) {
          w.addOrganization(org);
          w.addMember(org, alice.id);
        }
        for (const project of PROJECTS) {
          w.addProject(ORG, project);
          if (project === 'Web') continue;
          await w.createRepository(ORG, project, `${project.toLowerCase()}-service`, { commits: 1, createdBy: alice.id });
          repoNames.push(`${project}/${project.toLowerCase()}-service`);
        }
        app = await w.createRepository(ORG, 'Web', 'app', { commits: 12, branches: BRANCHES, createdBy: alice.id });
        repoNames.push('Web/app');
        for (let i = 1; i <= 4; i++) {
          await w.createRepository(ORG, 'Web', `lib-${i}`, { commits: 1, createdBy: alice.id });
          repoNames.push(`Web/lib-${i}`);
        }
        for (const b of BRANCHES.slice(0, 5))
          await w.createPullRequest(ORG, 'Web', 'app', { sourceRefName: b, title: `Work on ${b}`, createdBy: alice.id });
        const abandoned = await w.createPullRequest(ORG, 'Web', 'app', { sourceRefName: 'b-6', title: 'Abandoned', createdBy: alice.id });
        w.setPullRequestStatus(ORG, abandoned.id, 'abandoned');
      });
      commits = (await runGit(['rev-list', 'refs/heads/main'], { gitDir: app.gitDir })).stdout.toString('utf8').trim().split('\n');
      assert.equal(commits.length, 12);
      // All organizations, with User Profile (Read): profile and accounts answer.
      const pat = bed.emu.world.createPat(alice.id, { scopes: ['vso.code_write', 'vso.profile'], orgs: 'all' });
      await bed.providePat(bed.plane.memberBrowser, pat.token, ORG);
    });
    after(async () => {
      await bed?.close();
    });

    /** The member's listing of `kind` on dev.azure.com in the seeded organization. */
    const listInOrg = (kind: string, query: Record<string, string | number | undefined> = {}) =>
      bed.list(bed.plane.memberBrowser, kind, { host: 'dev.azure.com', organization: ORG, ...query });

    /** Follows continuation tokens to the end; checks page sizes and that no item comes twice. */
    async function collect(
      kindName: string,
      query: Record<string, string | number | undefined>,
      top: number,
      key: (item: Record<string, unknown>) => string,
    ) {
      const items: Record<string, unknown>[] = [];
      const calls: number[] = [];
      let token: string | undefined;
      for (let n = 0; ; n++) {
        assert.ok(n < 20, 'too many pages');
        const res = await bed.list(bed.plane.memberBrowser, kindName, { host: 'dev.azure.com', ...query, top, continuationToken: token });
        assert.equal(res.statusCode, 200, res.body);
        const page = res.json() as Page;
        assert.ok(page.items.length <= top, `page of ${page.items.length} > ${top}`);
        items.push(...page.items);
        calls.push(page.calls);
        if (!page.continuationToken) break;
        token = page.continuationToken;
      }
      const keys = items.map(key);
      assert.equal(new Set(keys).size, keys.length, `duplicates in ${keys.join(', ')}`);
      return { keys, pages: calls.length, calls };
    }

    it('organizations: profile and accounts with an all-organizations PAT (6 organizations, pages of 2)', async () => {
      const { keys, pages, calls } = await collect('organizations', {}, 2, (o) => String(o.name));
      assert.deepEqual(keys, [ORG, ...OTHER_ORGS].sort());
      assert.equal(pages, 3);
      assert.deepEqual(calls, [2, 0, 0], 'profile + accounts once, then pages from the 30 s list cache');
      const first = (await bed.list(bed.plane.memberBrowser, 'organizations', { host: 'dev.azure.com', top: 1 })).json();
      assert.equal(first.source, 'accounts');
      assert.equal(first.note, null);
    });

    it('projects: derived from the repository list (6 projects, pages of 4)', async () => {
      const { keys, pages } = await collect('projects', { organization: ORG }, 4, (p) => String(p.name));
      assert.deepEqual(keys, [...PROJECTS]);
      assert.equal(pages, 2);
    });

    it('repositories: of the organization (10, pages of 3) and of a project (5, pages of 2)', async () => {
      const all = await collect(
        'repositories',
        { organization: ORG },
        3,
        (r) => `${(r.project as { name: string }).name}/${String(r.name)}`,
      );
      assert.deepEqual([...all.keys].sort(), [...repoNames].sort());
      assert.equal(all.pages, 4);
      const web = await collect('repositories', { organization: ORG, project: 'Web' }, 2, (r) => String(r.name));
      assert.deepEqual(web.keys, ['app', 'lib-1', 'lib-2', 'lib-3', 'lib-4']);
      assert.equal(web.pages, 3);
      assert.deepEqual(web.calls.slice(1), [0, 0]);
      const first = (await listInOrg('repositories', { project: 'Web', top: 1 })).json();
      assert.deepEqual(first.items[0], {
        id: app.id,
        name: 'app',
        project: { id: app.projectId, name: 'Web' },
        defaultBranch: 'main',
        webUrl: `${bed.emu.urls.services}/${ORG}/Web/_git/app`,
        cloneUrl: `${bed.emu.urls.services}/${ORG}/Web/_git/app`,
        isDisabled: false,
      });
    });

    it("branches: Azure DevOps's continuation tokens passed through (7 branches, pages of 3)", async () => {
      const { keys, pages, calls } = await collect('branches', { organization: ORG, project: 'Web', repository: 'app' }, 3, (b) =>
        String(b.name),
      );
      assert.deepEqual([...keys].sort(), [...BRANCHES, 'main'].sort());
      assert.equal(pages, 3);
      assert.deepEqual(calls, [1, 1, 1]);
    });

    it('commits: newest first, emulated continuation over $skip (12 commits, pages of 5), and of a branch', async () => {
      const { keys, pages, calls } = await collect('commits', { organization: ORG, project: 'Web', repository: 'app' }, 5, (c) =>
        String(c.sha),
      );
      assert.deepEqual(keys, commits);
      assert.equal(pages, 3);
      assert.deepEqual(calls, [1, 1, 1], 'one more item asked per page says whether another page exists');
      const branch = await collect('commits', { organization: ORG, project: 'Web', repository: 'app', branch: 'b-1' }, 5, (c) =>
        String(c.sha),
      );
      assert.equal(branch.keys.length, 13);
      assert.deepEqual(branch.keys.slice(1), commits);
      const missing = await listInOrg('commits', { project: 'Web', repository: 'app', branch: 'nope' });
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().error.code, 'ref_not_found');
    });

    it('pull requests: active by default (5, pages of 2); all statuses on request', async () => {
      const active = await collect('pull-requests', { organization: ORG, project: 'Web', repository: 'app' }, 2, (p) => String(p.id));
      assert.deepEqual(active.keys, ['5', '4', '3', '2', '1']);
      assert.equal(active.pages, 3);
      const all = await collect('pull-requests', { organization: ORG, project: 'Web', repository: 'app', status: 'all' }, 4, (p) =>
        String(p.id),
      );
      assert.deepEqual(all.keys, ['6', '5', '4', '3', '2', '1']);
      const first = (await listInOrg('pull-requests', { project: 'Web', repository: 'app', top: 1 })).json();
      assert.deepEqual(
        {
          id: first.items[0].id,
          title: first.items[0].title,
          status: first.items[0].status,
          sourceRef: first.items[0].sourceRef,
          targetRef: first.items[0].targetRef,
          mergeRef: first.items[0].mergeRef,
        },
        {
          id: 5,
          title: 'Work on b-5',
          status: 'active',
          sourceRef: 'refs/heads/b-5',
          targetRef: 'refs/heads/main',
          mergeRef: 'refs/pull/5/merge',
        },
      );
    });

    it('refuses bad paging input and unknown hosts; names the missing field', async () => {
      const badToken = await listInOrg('repositories', { continuationToken: 'not-a-token' });
      assert.equal(badToken.statusCode, 400);
      assert.equal(badToken.json().error.code, 'invalid_continuation_token');
      const tooMany = await listInOrg('repositories', { top: 501 });
      assert.equal(tooMany.statusCode, 400);
      const noOrg = await bed.list(bed.plane.memberBrowser, 'projects', { host: 'dev.azure.com' });
      assert.equal(noOrg.statusCode, 400);
      assert.equal(noOrg.json().error.field, 'organization');
      const unknownHost = await bed.list(bed.plane.memberBrowser, 'projects', { host: 'tfs.example.com', organization: ORG });
      assert.equal(unknownHost.statusCode, 404);
      assert.equal(unknownHost.json().error.code, 'host_not_configured');
      // The emulator's own origin and {org}.visualstudio.com name the Services integration too.
      const viaOrigin = await bed.list(bed.plane.memberBrowser, 'projects', { host: bed.emu.urls.services, organization: ORG });
      assert.equal(viaOrigin.statusCode, 200, viaOrigin.body);
      const viaVs = await bed.list(bed.plane.memberBrowser, 'projects', { host: `${ORG}.visualstudio.com`, organization: ORG });
      assert.equal(viaVs.statusCode, 200, viaVs.body);
      const unknownProject = await listInOrg('repositories', { project: 'Nope' });
      assert.equal(unknownProject.statusCode, 404);
      assert.equal(unknownProject.json().error.code, 'not_found');
    });

    it('OAuth sign-ins have no User Profile scope: organizations come back empty with a note saying why', async () => {
      const { browser } = await bed.newMember('oauth');
      await bed.connectOAuth(browser, alice.upn);
      const res = await bed.list(browser, 'organizations', { host: 'dev.azure.com' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().source, 'authorization');
      assert.deepEqual(res.json().items, []);
      assert.match(res.json().note, /User Profile \(Read\)/);
      // Everything else works with the Code scopes.
      const repos = await bed.list(browser, 'repositories', { host: 'dev.azure.com', organization: ORG, project: 'Web' });
      assert.equal(repos.statusCode, 200, repos.body);
      assert.equal(repos.json().items.length, 5);
    });
  });
}
