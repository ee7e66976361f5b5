import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { databaseKinds } from '../../../test/support/databases.ts';
import { startRepositoryBed } from '../../../test/support/repositories.ts';
import type { RepositoryBed } from '../../../test/support/repositories.ts';
import type { Repository, User } from '../../../emulator/index.ts';
import { resolveCommit, runGit } from '../../../emulator/git/repo.ts';
import { expireStoredAccessToken } from '../../../test/support/runner-credentials.ts';

const ORG = 'fabrikam';

interface Row {
  form: string;
  url: () => string;
  cold: number;
  warm: number;
  check: (body: ResolveBody) => void;
}

interface ResolveBody {
  context: {
    kind: string;
    origin: string;
    organization: string;
    project: string;
    repository: string;
    cloneUrl: string;
    webUrl: string;
    ref?: { type: string; sha?: string };
    path?: { path: string; line?: number };
  };
  repository: {
    id: string;
    name: string;
    project: { id: string; name: string };
    defaultBranch: string | null;
    webUrl: string;
    cloneUrl: string;
  };
  ref: null | {
    type: string;
    name: string;
    fullName?: string;
    sha?: string;
    isDefault?: boolean;
    pullRequest?: { id: number; title: string; status: string; sourceRef: string; targetRef: string; mergeRef: string };
  };
  calls: number;
  cached: boolean;
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`ParseContextURL and CheckRepositoryAccess against the emulator (${kind})`, { skip }, () => {
    let bed: RepositoryBed;
    let alice: User;
    let carol: User;
    let alicePat: { token: string; authorizationId: string };
    let serverPat: string;
    let web: Repository;
    let api: Repository;
    let tools: Repository;
    let legacy: Repository;
    const sha: Record<string, string> = {};
    const table: string[] = [];

    before(async () => {
      bed = await startRepositoryBed(
        kind,
        async (emu) => {
          const w = emu.world;
          w.addOrganization(ORG);
          w.addProject(ORG, 'Web');
          w.addProject(ORG, 'tools');
          alice = w.addUser({ upn: `alice@${emu.defaultTenant.domain}`, displayName: 'Alice' });
          carol = w.addUser({ upn: `carol@${emu.defaultTenant.domain}`, displayName: 'Carol' });
          w.addMember(ORG, alice.id);
          w.addMember(ORG, carol.id);
          web = await w.createRepository(ORG, 'Web', 'web', {
            commits: 5,
            branches: ['feature/login', 'release', 'release-2'],
            tags: ['v1.0'],
            createdBy: alice.id,
          });
          // An annotated tag, written with git itself (the emulator's seed writes lightweight tags).
          await runGit(
            [
              '-c',
              'user.name=Alice',
              '-c',
              'user.email=alice@example.invalid',
              'tag',
              '-a',
              'v2.0',
              '-m',
              'Release 2.0',
              'refs/heads/main',
            ],
            { gitDir: web.gitDir },
          );
          api = await w.createRepository(ORG, 'Web', 'api', { commits: 1, createdBy: alice.id });
          tools = await w.createRepository(ORG, 'tools', 'tools', { commits: 2, createdBy: alice.id });
          await w.createPullRequest(ORG, 'Web', 'web', { sourceRefName: 'feature/login', title: 'Sign-in page', createdBy: alice.id });
          alicePat = w.createPat(alice.id, { scopes: ['vso.code_write'], orgs: [ORG] });
          w.addOrganization('DefaultCollection', { server: true });
          w.addProject('DefaultCollection', 'Legacy');
          w.addMember('DefaultCollection', alice.id);
          legacy = await w.createRepository('DefaultCollection', 'Legacy', 'legacy', { commits: 3, createdBy: alice.id });
          serverPat = w.createPat(alice.id, { scopes: ['vso.code_write'], orgs: ['DefaultCollection'] }).token;
        },
        { server: true },
      );
      sha.main = (await resolveCommit(web.gitDir, 'refs/heads/main'))!;
      sha.login = (await resolveCommit(web.gitDir, 'refs/heads/feature/login'))!;
      sha.release = (await resolveCommit(web.gitDir, 'refs/heads/release'))!;
      sha.first = (await resolveCommit(web.gitDir, 'refs/heads/main~4'))!;
      sha.merge = (await resolveCommit(web.gitDir, 'refs/pull/1/merge'))!;
      await bed.providePat(bed.plane.memberBrowser, alicePat.token, ORG);
    });
    after(async () => {
      await bed?.close();
    });

    const S = () => bed.emu.urls.services;
    const webRepo = (body: ResolveBody) => {
      assert.equal(body.repository.id, web.id);
      assert.equal(body.repository.name, 'web');
      assert.equal(body.repository.project.name, 'Web');
      assert.equal(body.repository.project.id, web.projectId);
      assert.equal(body.repository.defaultBranch, 'main');
      // Named like its project: Azure DevOps (and the emulator) answer with the short form.
      assert.equal(body.repository.cloneUrl, `${S()}/${ORG}/_git/web`);
      assert.equal(body.repository.webUrl, `${S()}/${ORG}/_git/web`);
    };
    const defaultBranch = (body: ResolveBody) => {
      webRepo(body);
      assert.deepEqual(body.ref, { type: 'branch', name: 'main', fullName: 'refs/heads/main', isDefault: true });
    };

    const rows: Row[] = [
      {
        form: 'repository, https://dev.azure.com/{org}/{project}/_git/{repo}',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web`,
        cold: 1,
        warm: 0,
        check: (b) => {
          defaultBranch(b);
          assert.equal(b.context.origin, 'https://dev.azure.com');
          assert.equal(b.context.cloneUrl, `https://dev.azure.com/${ORG}/Web/_git/web`);
        },
      },
      {
        form: 'repository, {org}@ user name, names in another case (emulator origin)',
        url: () => `${S().replace('://', `://${ORG}@`)}/${ORG.toUpperCase()}/web/_git/WEB.git`,
        cold: 1,
        warm: 0,
        check: (b) => {
          defaultBranch(b);
          assert.equal(b.context.origin, S());
          // The canonical names come from Azure DevOps.
          assert.equal(b.context.project, 'Web');
          assert.equal(b.context.repository, 'web');
        },
      },
      {
        form: 'repository, {org}.visualstudio.com/DefaultCollection (resolved through the dev.azure.com endpoint)',
        url: () => `https://${ORG}.visualstudio.com/DefaultCollection/Web/_git/web`,
        cold: 1,
        warm: 0,
        check: (b) => {
          defaultBranch(b);
          assert.equal(b.context.origin, 'https://dev.azure.com');
        },
      },
      {
        form: 'repository, SSH git@ssh.dev.azure.com:v3/…',
        url: () => `git@ssh.dev.azure.com:v3/${ORG}/Web/web`,
        cold: 1,
        warm: 0,
        check: defaultBranch,
      },
      {
        form: 'repository, short /{org}/_git/{repo} form',
        url: () => `https://dev.azure.com/${ORG}/_git/tools`,
        cold: 1,
        warm: 0,
        check: (b) => {
          assert.equal(b.repository.id, tools.id);
          assert.equal(b.repository.project.name, 'tools');
          assert.equal(b.context.cloneUrl, `https://dev.azure.com/${ORG}/tools/_git/tools`);
          assert.equal(b.ref?.name, 'main');
        },
      },
      {
        form: 'branch, version=GB (encoded slash)',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web?version=GBfeature%2Flogin`,
        cold: 2,
        warm: 1,
        check: (b) => {
          webRepo(b);
          assert.deepEqual(b.ref, {
            type: 'branch',
            name: 'feature/login',
            fullName: 'refs/heads/feature/login',
            sha: sha.login,
            isDefault: false,
          });
        },
      },
      {
        form: 'branch whose name prefixes others (exact match)',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web?version=GBrelease`,
        cold: 2,
        warm: 1,
        check: (b) => assert.equal(b.ref?.sha, sha.release),
      },
      {
        form: 'tag, version=GT (lightweight)',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web?version=GTv1.0`,
        cold: 2,
        warm: 1,
        check: (b) => assert.deepEqual(b.ref, { type: 'tag', name: 'v1.0', fullName: 'refs/tags/v1.0', sha: sha.main }),
      },
      {
        form: 'tag, version=GT (annotated: the commit, not the tag object)',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web?version=GTv2.0`,
        cold: 2,
        warm: 1,
        check: (b) => assert.equal(b.ref?.sha, sha.main),
      },
      {
        form: 'commit page /commit/{sha}',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web/commit/${sha.first}`,
        cold: 2,
        warm: 0,
        check: (b) => {
          webRepo(b);
          assert.deepEqual(b.ref, { type: 'commit', name: sha.first, sha: sha.first });
        },
      },
      {
        form: 'commit page, abbreviated id',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web/commit/${sha.first!.slice(0, 8)}`,
        cold: 2,
        warm: 0,
        check: (b) => {
          assert.equal(b.ref?.sha, sha.first);
          // The context carries the full id once resolved.
          assert.equal(b.context.ref?.sha, sha.first);
        },
      },
      {
        form: 'commit, version=GC{sha}',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web?version=GC${sha.main}`,
        cold: 2,
        warm: 0,
        check: (b) => assert.deepEqual(b.ref, { type: 'commit', name: sha.main, sha: sha.main }),
      },
      {
        form: 'pull request /pullrequest/{id}',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web/pullrequest/1#view=discussion`,
        cold: 2,
        warm: 1,
        check: (b) => {
          webRepo(b);
          assert.equal(b.ref?.type, 'pullRequest');
          assert.equal(b.ref?.name, 'refs/pull/1/merge');
          assert.equal(b.ref?.sha, sha.merge);
          assert.deepEqual(
            {
              id: b.ref?.pullRequest?.id,
              title: b.ref?.pullRequest?.title,
              status: b.ref?.pullRequest?.status,
              sourceRef: b.ref?.pullRequest?.sourceRef,
              targetRef: b.ref?.pullRequest?.targetRef,
              mergeRef: b.ref?.pullRequest?.mergeRef,
            },
            {
              id: 1,
              title: 'Sign-in page',
              status: 'active',
              sourceRef: 'refs/heads/feature/login',
              targetRef: 'refs/heads/main',
              mergeRef: 'refs/pull/1/merge',
            },
          );
        },
      },
      {
        form: 'file path on a branch, ?path=&version=GB&line=',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web?path=%2FREADME.md&version=GBmain&line=1&_a=contents`,
        cold: 2,
        warm: 1,
        check: (b) => {
          assert.deepEqual(b.ref, { type: 'branch', name: 'main', fullName: 'refs/heads/main', sha: sha.main, isDefault: true });
          assert.deepEqual(b.context.path, { path: '/README.md', line: 1 });
        },
      },
      {
        form: 'file path without a version (default branch)',
        url: () => `https://dev.azure.com/${ORG}/Web/_git/web?path=/README.md`,
        cold: 1,
        warm: 0,
        check: (b) => {
          defaultBranch(b);
          assert.equal(b.context.path?.path, '/README.md');
        },
      },
      {
        form: 'Azure DevOps Server {server}/tfs/{collection}/{project}/_git/{repo}',
        url: () => `${bed.emu.urls.server}/DefaultCollection/Legacy/_git/legacy`,
        cold: 1,
        warm: 0,
        check: (b) => {
          assert.equal(b.context.kind, 'server');
          assert.equal(b.repository.id, legacy.id);
          assert.equal(b.repository.cloneUrl, `${bed.emu.urls.server}/DefaultCollection/_git/legacy`);
          assert.equal(b.context.cloneUrl, `${bed.emu.urls.server}/DefaultCollection/Legacy/_git/legacy`);
        },
      },
    ];

    it('resolves every URL form end to end, with the fewest Azure DevOps calls cold and warm', async (t) => {
      await bed.providePat(bed.plane.memberBrowser, serverPat, 'DefaultCollection', bed.serverIntegrationId);
      table.push('| form | cold | warm |', '| --- | --- | --- |');
      for (const row of rows) {
        // A new authorization starts with an empty cache (entries are keyed by credential).
        const server = row.form.startsWith('Azure DevOps Server');
        await bed.providePat(
          bed.plane.memberBrowser,
          server ? serverPat : alicePat.token,
          server ? 'DefaultCollection' : ORG,
          server ? bed.serverIntegrationId : undefined,
        );
        bed.emu.resetCounters();
        const cold = await bed.resolve(bed.plane.memberBrowser, row.url());
        assert.equal(cold.statusCode, 200, `${row.form}: ${cold.body}`);
        const coldCalls = bed.restCalls();
        assert.equal(coldCalls.total, row.cold, `${row.form}: cold calls ${JSON.stringify(coldCalls.byPath)}`);
        assert.equal(cold.json().calls, row.cold, row.form);
        assert.equal(cold.json().cached, false);
        row.check(cold.json() as ResolveBody);

        bed.emu.resetCounters();
        const warm = await bed.resolve(bed.plane.memberBrowser, row.url());
        assert.equal(warm.statusCode, 200, `${row.form}: ${warm.body}`);
        const warmCalls = bed.restCalls();
        assert.equal(warmCalls.total, row.warm, `${row.form}: warm calls ${JSON.stringify(warmCalls.byPath)}`);
        assert.equal(warm.json().calls, row.warm);
        assert.equal(warm.json().cached, true);
        row.check(warm.json() as ResolveBody);
        table.push(`| ${row.form} | ${row.cold} | ${row.warm} |`);
      }
      t.diagnostic(`\n${table.join('\n')}`);
    });

    it('a listing warms the cache: a listed repository resolves without a call', async () => {
      await bed.providePat(bed.plane.memberBrowser, alicePat.token, ORG);
      const listed = await bed.list(bed.plane.memberBrowser, 'repositories', { host: 'dev.azure.com', organization: ORG, project: 'Web' });
      assert.equal(listed.statusCode, 200, listed.body);
      bed.emu.resetCounters();
      const res = await bed.resolve(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Web/_git/api`);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().repository.id, api.id);
      assert.equal(bed.restCalls().total, 0);
    });

    it("refuses what is not a repository URL (400 with the parser's reason) and refs that do not exist (404)", async () => {
      const bad = await bed.resolve(bed.plane.memberBrowser, 'https://github.com/octo/repo');
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().error.code, 'not_azure_devops_url');
      assert.equal(bad.json().error.field, 'url');
      assert.match(bad.json().error.message, /not an Azure DevOps host/);
      const withCredentials = await bed.resolve(bed.plane.memberBrowser, `https://user:pass@dev.azure.com/${ORG}/Web/_git/web`);
      assert.equal(withCredentials.json().error.code, 'not_azure_devops_url');
      assert.ok(!withCredentials.body.includes('pass@'), 'the credentials are not echoed');

      const branch = await bed.resolve(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Web/_git/web?version=GBnope`);
      assert.equal(branch.statusCode, 404);
      assert.equal(branch.json().error.code, 'ref_not_found');
      const commit = await bed.resolve(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Web/_git/web/commit/${'a'.repeat(40)}`);
      assert.equal(commit.json().error.code, 'ref_not_found');
      const pr = await bed.resolve(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Web/_git/web/pullrequest/99`);
      assert.equal(pr.json().error.code, 'pull_request_not_found');
      const elsewhere = await bed.resolve(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Web/_git/api/pullrequest/1`);
      assert.equal(elsewhere.statusCode, 404);
      assert.equal(elsewhere.json().error.code, 'pull_request_not_in_repository');
      const repo = await bed.resolve(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Web/_git/nope`);
      assert.equal(repo.statusCode, 404);
      assert.equal(repo.json().error.code, 'not_found');
      assert.match(repo.json().error.message, /TF401019/);
    });

    describe('CheckRepositoryAccess', () => {
      const url = () => `https://dev.azure.com/${ORG}/Web/_git/web`;

      it('yes, with the repository, in one call', async () => {
        bed.emu.resetCounters();
        const res = await bed.access(bed.plane.memberBrowser, url());
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().hasAccess, true);
        assert.equal(res.json().reason, null);
        assert.equal(res.json().errorMessage, null);
        assert.equal(res.json().repository.id, web.id);
        assert.equal(bed.restCalls().total, 1);
      });

      it('not_authorized: no authorization for the host, with what CheckAuthenticationForHost offers', async () => {
        const { browser } = await bed.newMember('nobody');
        const res = await bed.access(browser, url());
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        assert.equal(body.hasAccess, false);
        assert.equal(body.reason, 'not_authorized');
        assert.match(body.errorMessage, /connect first/);
        assert.equal(body.authentication.integrationId, bed.servicesIntegrationId);
        assert.match(body.authentication.supportsOauth2.authUrl, new RegExp(`/api/v1/oauth/authorize/${bed.servicesIntegrationId}`));
        // The PAT page is where KEYWAY_AZURE_DEVOPS_SERVICES_URL says Azure DevOps Services is (here the emulator).
        assert.equal(body.authentication.supportsPat.createUrl, `${bed.emu.urls.services}/${ORG}/_usersSettings/tokens`);
        // Resolving says the same, as an error.
        const resolved = await bed.resolve(browser, url());
        assert.equal(resolved.statusCode, 409);
        assert.equal(resolved.json().error.code, 'not_authorized');
      });

      it('not_found: a missing repository or one you may not read (TF401019 for both), and an unknown organization', async () => {
        const missing = (await bed.access(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Web/_git/nope`)).json();
        assert.equal(missing.hasAccess, false);
        assert.equal(missing.reason, 'not_found');
        assert.match(missing.errorMessage, /or you do not have permission.*404 TF401019 for both/);
        const project = (await bed.access(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Nope/_git/web`)).json();
        assert.equal(project.reason, 'not_found');
        const org = (await bed.access(bed.plane.memberBrowser, 'https://dev.azure.com/no-such-org/Web/_git/web')).json();
        assert.equal(org.reason, 'not_found');
        assert.match(org.errorMessage, /does not exist/);
      });

      it('reauthorization_required: a PAT expired upstream, or not valid for the organization; an OAuth token whose refresh fails', async () => {
        const dave = await bed.newMember('dave');
        const pat = bed.emu.world.createPat(carol.id, { scopes: ['vso.code_write'], orgs: [ORG] });
        await bed.providePat(dave.browser, pat.token, ORG);
        assert.equal((await bed.access(dave.browser, url())).json().hasAccess, true);
        bed.emu.world.expirePat(pat.authorizationId);
        const expired = (await bed.access(dave.browser, url())).json();
        assert.equal(expired.reason, 'reauthorization_required');
        assert.match(expired.errorMessage, /rejected your Personal Access Token/);

        bed.emu.world.addOrganization('contoso');
        bed.emu.world.addProject('contoso', 'Web');
        bed.emu.world.addMember('contoso', carol.id);
        const other = bed.emu.world.createPat(carol.id, { scopes: ['vso.code_write'], orgs: ['contoso'] });
        await bed.providePat(dave.browser, other.token, 'contoso');
        const wrongOrg = (await bed.access(dave.browser, url())).json();
        assert.equal(wrongOrg.reason, 'reauthorization_required');
        assert.match(wrongOrg.errorMessage, /provided for organization "contoso"/);

        const erin = await bed.newMember('erin');
        await bed.connectOAuth(erin.browser, carol.upn);
        assert.equal((await bed.access(erin.browser, url())).json().hasAccess, true);
        const record = await bed.runner.runtime.credentials.findForIntegration({ type: 'user', id: erin.id }, bed.servicesIntegrationId);
        assert.ok(record);
        await expireStoredAccessToken(bed.runner.store.database.db, record.id);
        bed.emu.entra.faults.revokeRefreshTokens({ userOid: carol.oid });
        const renewal = (await bed.access(erin.browser, url())).json();
        assert.equal(renewal.hasAccess, false);
        assert.equal(renewal.reason, 'reauthorization_required');
        assert.match(renewal.errorMessage, /must be renewed/);
      });

      it('oauth_blocked: the organization refuses OAuth apps (401 TF400813 to a recognized sign-in); a PAT still works', async () => {
        const frank = await bed.newMember('frank');
        await bed.connectOAuth(frank.browser, alice.upn);
        assert.equal((await bed.access(frank.browser, url())).json().hasAccess, true);
        bed.emu.world.setOAuthPolicy(ORG, false);
        try {
          const blocked = (await bed.access(frank.browser, url())).json();
          assert.equal(blocked.hasAccess, false);
          assert.equal(blocked.reason, 'oauth_blocked');
          assert.match(blocked.errorMessage, /Third-party application access via OAuth/);
          const resolved = await bed.resolve(frank.browser, url());
          assert.equal(resolved.statusCode, 409);
          assert.equal(resolved.json().error.code, 'oauth_blocked');
          // The same organization still takes the member's PAT.
          assert.equal((await bed.access(bed.plane.memberBrowser, url())).json().hasAccess, true);
        } finally {
          bed.emu.world.setOAuthPolicy(ORG, true);
        }
      });

      it('unavailable: Azure DevOps keeps failing', async () => {
        const id = bed.emu.faults.add({
          listener: 'services',
          path: `/${ORG}/Web/_apis/git/repositories/web`,
          action: 'status',
          status: 503,
        });
        try {
          const res = (await bed.access(bed.plane.memberBrowser, url())).json();
          assert.equal(res.hasAccess, false);
          assert.equal(res.reason, 'unavailable');
          assert.match(res.errorMessage, /503/);
        } finally {
          bed.emu.faults.remove(id);
        }
      });
    });

    it('the cache is per credential: another member of the organization gets no answer from mine', async () => {
      // Warm for the member.
      assert.equal((await bed.resolve(bed.plane.memberBrowser, `https://dev.azure.com/${ORG}/Web/_git/web`)).statusCode, 200);
      const { browser } = await bed.newMember('grace');
      const res = await bed.resolve(browser, `https://dev.azure.com/${ORG}/Web/_git/web`);
      assert.equal(res.statusCode, 409);
      assert.equal(res.json().error.code, 'not_authorized');
    });

    it("another organization's member cannot resolve, check or list through this organization's integration", async () => {
      const browser = bed.plane.memberBrowser;
      // An operator gives the member a second organization (members cannot create one).
      const org2 = await bed.plane.core.identity.createOrganization(`Elsewhere ${randomUUID().slice(0, 6)}`, bed.plane.member.id);
      await browser.request({ method: 'PUT', url: '/api/v1/me/organization', payload: { organizationId: org2.id } });
      try {
        const url = `https://dev.azure.com/${ORG}/Web/_git/web`;
        const resolved = await bed.resolve(browser, url);
        assert.equal(resolved.statusCode, 404);
        assert.equal(resolved.json().error.code, 'host_not_configured');
        const byId = await bed.resolve(browser, url, { integrationId: bed.servicesIntegrationId });
        assert.equal(byId.statusCode, 404);
        assert.equal(byId.json().error.code, 'not_found');
        assert.equal((await bed.access(browser, url)).statusCode, 404);
        const listed = await bed.list(browser, 'repositories', { integrationId: bed.servicesIntegrationId, organization: ORG });
        assert.equal(listed.statusCode, 404);
        // A Server URL of the other organization's host is not even parsed as one.
        const server = await bed.resolve(browser, `${bed.emu.urls.server}/DefaultCollection/Legacy/_git/legacy`);
        assert.equal(server.json().error.code, 'not_azure_devops_url');
      } finally {
        await browser.request({ method: 'PUT', url: '/api/v1/me/organization', payload: { organizationId: bed.plane.organizationId } });
      }
    });

    it('lists organizations: a token limited to one organization falls back to the recorded one; a Server collection likewise', async () => {
      const res = await bed.list(bed.plane.memberBrowser, 'organizations', { host: 'dev.azure.com' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().source, 'authorization');
      assert.deepEqual(
        res.json().items.map((o: { name: string }) => o.name),
        [ORG],
      );
      assert.match(res.json().note, /all accessible organizations/);
      const server = await bed.list(bed.plane.memberBrowser, 'organizations', { integrationId: bed.serverIntegrationId });
      assert.equal(server.statusCode, 200, server.body);
      assert.deepEqual(
        server.json().items.map((o: { name: string }) => o.name),
        ['DefaultCollection'],
      );
      assert.equal(server.json().calls, 0);
    });

    it('no secret reaches a response, a log line or the audit log', async () => {
      const everything =
        bed.plane.logs.text +
        bed.runner.logs.text +
        JSON.stringify(await bed.plane.database.db.selectFrom('audit_events').selectAll().execute());
      for (const secret of [alicePat.token, serverPat]) assert.ok(!everything.includes(secret));
    });
  });
}
