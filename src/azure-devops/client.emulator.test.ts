// The client's real operations against the bundled Azure DevOps emulator (Services, vssps and an
// Azure DevOps Server under /tfs), including its auth answers and fault injection.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startSeeded, userToken, type SeededWorld } from '../../emulator/test-support.ts';
import { createRatePacer } from './pacing.ts';
import { createAzureDevOpsClient, pages, type AzureDevOpsClientOptions } from './client.ts';
import type { FetchLike } from './guarded-fetch.ts';
import { AzureDevOpsError } from './errors.ts';
import type { RateLimitInfo } from './retry.ts';

let s: SeededWorld;
let sleeps: number[] = [];

before(async () => {
  s = await startSeeded({ org: 'contoso', project: 'Web Site', repo: 'web app' });
  for (const name of ['Alpha', 'Beta', 'Gamma']) s.emu.world.addProject(s.org, name);
  await s.emu.world.createPullRequest(s.org, s.project, s.repo, { sourceRefName: 'feature/login', title: 'Login' });
});
after(async () => {
  await s?.close();
});

const client = (over: Partial<AzureDevOpsClientOptions> = {}) =>
  createAzureDevOpsClient({
    target: { kind: 'services', organization: s.org },
    endpoints: { services: s.emu.urls.services, vssps: s.emu.urls.vssps },
    credential: { kind: 'pat', token: s.pat },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    // Each client its own pacer: one test's Retry-After must not slow the next test down.
    pacer: createRatePacer(),
    ...over,
  });

async function rejects(p: Promise<unknown>): Promise<AzureDevOpsError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AzureDevOpsError, String(e));
    return e;
  }
  assert.fail('expected the call to fail');
}

describe('against the emulator (Services)', () => {
  it('connectionData: the PAT owner, hosted', async () => {
    const cd = await client().connectionData();
    assert.equal(cd.authenticatedUser.id, s.user.id);
    assert.equal(cd.deploymentType, 'hosted');
    assert.ok(cd.instanceId);
  });

  it('probeHost: Azure DevOps, with the organization tenant', async () => {
    const r = await client().probeHost();
    assert.equal(r.isAzureDevOps, true, r.reason);
    assert.equal(r.resourceTenantId, s.emu.defaultTenant.id);
  });

  it('projects: pages followed to the end', async () => {
    const c = client();
    const first = await c.listProjects({ top: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.continuationToken);
    const names: string[] = [];
    for await (const p of pages((t) => c.listProjects({ top: 2, ...(t ? { continuationToken: t } : {}) }))) names.push(p.name);
    assert.deepEqual(names.sort(), ['Alpha', 'Beta', 'Gamma', 'Web Site']);
    const web = await c.getProject('Web Site');
    assert.equal(web.name, 'Web Site');
    assert.equal((await c.getProject(web.id)).id, web.id);
  });

  it('repositories, refs, commits and file content (names with spaces)', async () => {
    const c = client();
    const repos = await c.listRepositories(s.project);
    assert.deepEqual(
      repos.items.map((r) => r.name),
      ['web app'],
    );
    assert.equal((await c.listRepositories()).items.length, 1, 'organization-wide');
    const repo = await c.getRepository(s.project, 'web app');
    assert.equal(repo.defaultBranch, 'refs/heads/main');
    assert.equal((await c.getRepository(s.project, repo.id)).name, 'web app');

    const heads: string[] = [];
    for await (const r of pages((t) =>
      c.listRefs(s.project, repo.id, { filter: 'heads/', top: 1, ...(t ? { continuationToken: t } : {}) }),
    ))
      heads.push(r.name);
    assert.deepEqual(heads, ['refs/heads/feature/login', 'refs/heads/main']);
    const tags = await c.listRefs(s.project, 'web app', { filter: 'refs/tags/' });
    assert.deepEqual(
      tags.items.map((r) => r.name),
      ['refs/tags/v1.0'],
    );

    const main = (await c.listRefs(s.project, 'web app', { filter: 'heads/main' })).items[0]!;
    const commit = await c.getCommit(s.project, 'web app', main.objectId);
    assert.equal(commit.commitId, main.objectId);
    const all = await c.listCommits(s.project, 'web app', { branch: 'main' });
    assert.equal(all.items.length, 5);
    const page = await c.listCommits(s.project, 'web app', { branch: 'main', top: 2, skip: 1 });
    assert.deepEqual(
      page.items.map((x) => x.commitId),
      all.items.slice(1, 3).map((x) => x.commitId),
    );

    const readme = await c.getItemContent(s.project, 'web app', 'README.md', { type: 'commit', value: main.objectId });
    assert.match(readme.text, /Emulated repository/);
    const onBranch = await c.getItemContent(s.project, 'web app', '/README.md');
    assert.equal(onBranch.text, readme.text);
  });

  it('404s keep the service text: TF401019 and friends', async () => {
    const c = client();
    const repo = await rejects(c.getRepository(s.project, 'nope'));
    assert.equal(repo.kind, 'not-found');
    assert.equal(repo.tfCode, 'TF401019');
    assert.match(repo.adoMessage ?? '', /does not exist or you do not have permissions/);
    const item = await rejects(c.getItemContent(s.project, 'web app', '/missing.txt'));
    assert.equal(item.kind, 'not-found');
    assert.equal(item.tfCode, 'TF401174');
    assert.equal((await rejects(c.getPullRequest(s.project, 999))).kind, 'not-found');
  });

  it('pull requests', async () => {
    const c = client();
    const prs = await c.listPullRequests(s.project, 'web app', { status: 'all' });
    assert.equal(prs.items.length, 1);
    const id = prs.items[0]!.pullRequestId;
    const pr = await c.getPullRequest(s.project, id);
    assert.equal(pr.title, 'Login');
    assert.equal(pr.sourceRefName, 'refs/heads/feature/login');
    assert.equal(pr.status, 'active');
  });

  it('variable groups: add, list, get, update, delete; secrets come back as null', async () => {
    const c = client();
    const project = await c.getProject(s.project);
    const refs = [{ name: 'kw-test', projectReference: { id: project.id, name: project.name } }];
    const created = await c.addVariableGroup({
      name: 'kw-test',
      description: 'Keyway',
      variables: { PLAIN: { value: 'one' }, SECRET: { value: 'hidden', isSecret: true } },
      variableGroupProjectReferences: refs,
    });
    assert.equal(created.name, 'kw-test');
    assert.equal(created.variables.SECRET?.value ?? null, null);
    assert.equal(created.variables.SECRET?.isSecret, true);

    const found = await c.listVariableGroups(s.project, { groupName: 'kw-*' });
    assert.deepEqual(
      found.items.map((g) => g.id),
      [created.id],
    );
    assert.equal((await c.getVariableGroup(s.project, created.id)).variables.PLAIN?.value, 'one');

    const updated = await c.updateVariableGroup(created.id, {
      name: 'kw-test',
      variables: { PLAIN: { value: 'two' } },
      variableGroupProjectReferences: refs,
    });
    assert.equal(updated.variables.PLAIN?.value, 'two');
    assert.equal(updated.variables.SECRET, undefined);

    await c.deleteVariableGroup(created.id, [project.id]);
    assert.equal((await rejects(c.getVariableGroup(s.project, created.id))).kind, 'not-found');
    assert.deepEqual((await c.listVariableGroups(s.project, { groupName: 'kw-test' })).items, []);
  });

  it('a wrong PAT: 401 with the tenant (the client sends the suppress header)', async () => {
    const err = await rejects(client({ credential: { kind: 'pat', token: `${s.pat.slice(0, -4)}xxxx` } }).listProjects());
    assert.equal(err.kind, 'unauthenticated');
    assert.equal(err.status, 401);
    assert.equal(err.tfCode, 'TF400813');
    assert.equal(err.resourceTenantId, s.emu.defaultTenant.id);
  });

  it('a wrong PAT without the suppress header: 203 sign-in page, still unauthenticated', async () => {
    const withoutSuppress: FetchLike = (url, init) => {
      const headers = new Headers(init.headers);
      headers.delete('X-TFS-FedAuthRedirect');
      return fetch(url, { ...init, headers });
    };
    const err = await rejects(client({ credential: { kind: 'pat', token: 'wrong-token-value' }, fetch: withoutSuppress }).listProjects());
    assert.equal(err.kind, 'unauthenticated');
    assert.equal(err.status, 203);
  });

  it('a PAT with too narrow scopes is refused', async () => {
    const err = await rejects(client({ credential: { kind: 'pat', token: s.readPat } }).listVariableGroups(s.project));
    assert.ok(err.kind === 'unauthenticated' || err.kind === 'forbidden', err.kind);
  });

  it('429 from the fault API: Retry-After honoured, rate-limit headers reported', async () => {
    sleeps = [];
    const id = s.emu.faults.add({
      listener: 'services',
      path: `/${s.org}/_apis/projects`,
      action: 'throttle',
      retryAfterSeconds: 3,
      times: 1,
    });
    try {
      const seen: RateLimitInfo[] = [];
      const c = client({ onRateLimit: (i) => seen.push(i) });
      const page = await c.listProjects();
      assert.ok(page.items.length > 0);
      assert.deepEqual(sleeps, [3000]);
      assert.deepEqual(c.stats(), { requests: 2, retries: 1 });
      assert.ok(seen.length >= 1 && seen[0]!.retryAfterSeconds === 3, JSON.stringify(seen));
    } finally {
      s.emu.faults.remove(id);
    }
  });

  it('5xx and connection resets from the fault API are retried for reads', async () => {
    sleeps = [];
    const a = s.emu.faults.add({ listener: 'services', path: `/${s.org}/_apis/projects`, action: 'status', status: 503, times: 1 });
    const b = s.emu.faults.add({ listener: 'services', path: `/${s.org}/_apis/projects`, action: 'reset', times: 1 });
    try {
      const c = client({ random: () => 0 });
      await c.listProjects();
      assert.deepEqual(c.stats(), { requests: 3, retries: 2 });
    } finally {
      s.emu.faults.remove(a);
      s.emu.faults.remove(b);
    }
  });

  it('Entra user token: profile, accounts and the PAT lifecycle on the vssps listener', async () => {
    const token = await userToken(s);
    const c = client({ credential: { kind: 'bearer', token } });
    const me = await c.getProfile();
    assert.equal(me.id, s.user.id);
    const accounts = await c.listAccounts(me.id);
    assert.deepEqual(
      accounts.items.map((a) => a.accountName),
      [s.org],
    );

    const created = await c.createPat({
      displayName: 'keyway-test',
      scope: 'vso.code',
      validTo: new Date(Date.now() + 86_400_000).toISOString(),
      allOrgs: false,
    });
    assert.ok(created.token);
    const listed = await c.listPats();
    assert.ok(listed.items.some((p) => p.authorizationId === created.authorizationId));
    await c.revokePat(created.authorizationId);
    // The revoked PAT no longer works.
    const err = await rejects(client({ credential: { kind: 'pat', token: created.token! } }).listProjects());
    assert.equal(err.kind, 'unauthenticated');
  });
});

describe('against the emulator (Azure DevOps Server)', () => {
  let server: ReturnType<typeof createAzureDevOpsClient>;
  before(async () => {
    const w = s.emu.world;
    w.addOrganization('DefaultCollection', { server: true });
    w.addMember('DefaultCollection', s.user.id);
    w.addProject('DefaultCollection', 'On Prem');
    await w.createRepository('DefaultCollection', 'On Prem', 'legacy app', { commits: 2 });
    const pat = w.createPat(s.user.id, { scopes: ['vso.code', 'vso.project'], orgs: ['DefaultCollection'] });
    const u = new URL(s.emu.urls.server);
    server = createAzureDevOpsClient({
      target: { kind: 'server', origin: u.origin, virtualDirectory: u.pathname, collection: 'DefaultCollection' },
      // The emulator listens on 127.0.0.1, as KEYWAY_ALLOW_INSECURE_HOSTS permits for Server hosts.
      endpoints: { allowInsecureServerHosts: true },
      credential: { kind: 'pat', token: pat.token },
    });
  });

  it('collection URL under the virtual directory; onPremises', async () => {
    assert.equal(server.collectionUrl, `${s.emu.urls.server}/DefaultCollection`);
    assert.equal((await server.connectionData()).deploymentType, 'onPremises');
    const probe = await server.probeHost();
    assert.equal(probe.isAzureDevOps, true, probe.reason);
  });

  it('projects and repositories', async () => {
    assert.deepEqual(
      (await server.listProjects()).items.map((p) => p.name),
      ['On Prem'],
    );
    const repo = await server.getRepository('On Prem', 'legacy app');
    assert.equal(repo.name, 'legacy app');
    const heads = await server.listRefs('On Prem', 'legacy app', { filter: 'heads/' });
    assert.deepEqual(
      heads.items.map((r) => r.name),
      ['refs/heads/main'],
    );
  });

  it('vssps operations are unsupported on Server', async () => {
    assert.equal((await rejects(server.getProfile())).kind, 'unsupported');
    assert.equal((await rejects(server.listPats())).kind, 'unsupported');
  });
});

describe('against the emulator with its consumption limit on', () => {
  // A small budget so a burst crosses it within a test: 10 light requests per 1-second window.
  const throttling = { limit: 1, windowMs: 1000, noticeFraction: 0.5, blockFactor: 1.5, maxDelayMs: 300, defaultCost: { base: 0.1 } };
  let t: SeededWorld;
  before(async () => {
    t = await startSeeded({ throttling });
  });
  after(async () => {
    await t?.close();
  });

  const burst = async (pacer: AzureDevOpsClientOptions['pacer']) => {
    t.emu.throttle.reset();
    const c = createAzureDevOpsClient({
      target: { kind: 'services', organization: t.org },
      endpoints: { services: t.emu.urls.services, vssps: t.emu.urls.vssps },
      credential: { kind: 'pat', token: t.pat },
      maxRetries: 0,
      maxThrottledRetries: 0,
      ...(pacer ? { pacer } : {}),
    });
    const results = await Promise.allSettled(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 4; i++) await c.listProjects();
      }),
    );
    return {
      c,
      failures: results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as AzureDevOpsError),
      snapshot: t.emu.throttle.snapshot(),
    };
  };

  it('a client that ignores the headers is delayed, then blocked (the emulator is strict)', async () => {
    const ignore = { reserve: () => 0, observe: () => undefined, state: () => ({ notBeforeMs: 0, spacingMs: 0 }) };
    const { failures, snapshot } = await burst(ignore);
    assert.ok(snapshot.totals.blocked > 0, JSON.stringify(snapshot.totals));
    assert.ok(
      failures.length > 0 && failures.every((f) => f.kind === 'throttled' && f.tfCode === 'TF400733'),
      failures.map((f) => f.message).join('; '),
    );
  });

  it("Keyway's client slows down on X-RateLimit-Remaining and Retry-After: no 429 reaches the caller", async () => {
    const { c, failures, snapshot } = await burst(createRatePacer());
    assert.deepEqual(failures, []);
    assert.equal(snapshot.totals.blocked, 0, JSON.stringify(snapshot.totals));
    assert.ok((c.stats().pacedMs ?? 0) > 0, 'it waited before the service had to block it');
    assert.equal(c.stats().retries, 0);
  });
});
