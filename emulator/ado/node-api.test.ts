// Contract suite: Microsoft's own client (azure-devops-node-api) against the emulator, over every area
// it supports that Keyway touches — Core, Git, TaskAgent, Profile, Location — plus Accounts and Tokens,
// for which the SDK has no typed client and its generic RestClient (`WebApi.rest`, same handlers,
// same headers) is used. Each run goes once with a PAT and once with an Entra bearer token; any call
// that fails fails the suite, and no call is skipped. Resource-area and location discovery
// (OPTIONS /{org}/_apis/{area}, GET /_apis/ResourceAreas, OPTIONS on vssps), Accept-header
// api-versions `7.2-preview.N`, X-TFS-FedAuthRedirect: Suppress; cloud and Server.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as azdev from 'azure-devops-node-api';
import { GitVersionType, PullRequestStatus } from 'azure-devops-node-api/interfaces/GitInterfaces.js';
import { VariableGroupActionFilter, VariableGroupQueryOrder } from 'azure-devops-node-api/interfaces/TaskAgentInterfaces.js';
import { userToken, useSeeded } from '../test-support.ts';

let prId: number;
let vgId: number;
let allOrgsPat: string;

const s = useSeeded(async () => {
  const w = s.emu.world;
  const pr = await w.createPullRequest(s.org, s.project, s.repo, { sourceRefName: 'feature/login', title: 'Login page' });
  prId = pr.id;
  const project = w.requireProject(s.org, s.project).project;
  vgId = w.addVariableGroup(s.org, {
    name: 'deploy',
    variables: { region: { value: 'westeurope' }, key: { value: 'canary-secret-value', isSecret: true } },
    projects: [{ projectId: project.id }],
    createdBy: s.user.id,
  }).id;
  // One branch per run, for the pull request each run opens and completes.
  for (const run of ['pat', 'bearer'])
    await w.commit(s.org, s.project, s.repo, { branch: `sdk/${run}`, files: { [`sdk/${run}.md`]: `${run}\n` }, message: `SDK ${run}` });
  // Profile and accounts take all-organization PATs only.
  allOrgsPat = w.createPat(s.user.id, {
    scopes: ['vso.code_write', 'vso.project', 'vso.variablegroups_manage', 'vso.profile'],
    orgs: 'all',
  }).token;
});

async function readStream(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream as AsyncIterable<Buffer | string>) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(chunks).toString('utf8');
}

/** Every Core, Git, TaskAgent, Profile, Accounts (and, for bearer tokens, Tokens) call Keyway relies on. */
async function exercise(conn: azdev.WebApi, run: 'pat' | 'bearer'): Promise<void> {
  // ---- Location / Core -----------------------------------------------------------------------
  const data = await conn.connect();
  assert.equal(data.authenticatedUser?.id, s.user.id);
  const core = await conn.getCoreApi();
  const projects = await core.getProjects();
  assert.deepEqual(
    projects.map((p) => p.name),
    [s.project],
  );
  const project = await core.getProject(s.project, true);
  assert.equal(project.capabilities?.versioncontrol?.sourceControlType, 'Git');

  // ---- Git -----------------------------------------------------------------------------------
  const git = await conn.getGitApi();
  const repos = await git.getRepositories(s.project);
  assert.equal(repos[0]?.name, s.repo);
  const repoId = repos[0]!.id!;
  assert.equal((await git.getRepository(repoId, s.project)).name, s.repo);
  const refs = await git.getRefs(repoId, s.project, 'heads/');
  assert.deepEqual(
    refs.map((r) => r.name),
    ['refs/heads/feature/login', 'refs/heads/main', 'refs/heads/sdk/bearer', 'refs/heads/sdk/pat'],
  );
  const branches = await git.getBranches(repoId, s.project);
  assert.equal(branches.find((b) => b.name === `sdk/${run}`)?.aheadCount, 1);
  assert.equal((await git.getBranch(repoId, 'main', s.project)).isBaseVersion, true);
  const commits = await git.getCommits(
    repoId,
    { itemVersion: { version: `sdk/${run}`, versionType: GitVersionType.Branch }, $top: 2 },
    s.project,
  );
  assert.equal(commits[0]?.comment, `SDK ${run}`);
  const commit = await git.getCommit(commits[0]!.commitId!, repoId, s.project);
  assert.ok(commit.push?.pushId && commit.push.pushedBy?.id, 'the commit names its push');
  const item = await git.getItem(
    repoId,
    `/sdk/${run}.md`,
    s.project,
    undefined,
    undefined,
    undefined,
    undefined,
    undefined,
    { version: `sdk/${run}`, versionType: GitVersionType.Branch },
    true,
  );
  assert.equal(item.content, `${run}\n`);
  const content = await readStream(await git.getItemContent(repoId, '/README.md', s.project));
  assert.match(content, /Emulated repository/);
  const pr = await git.getPullRequestById(prId, s.project);
  assert.equal(pr.title, 'Login page');
  assert.ok(pr.creationDate instanceof Date, 'dates deserialize');
  const active = await git.getPullRequests(repoId, { status: PullRequestStatus.Active }, s.project);
  assert.ok(active.some((p) => p.pullRequestId === prId));
  assert.ok((await git.getPullRequestsByProject(s.project, { status: PullRequestStatus.All })).length >= 1);
  const opened = await git.createPullRequest(
    { sourceRefName: `refs/heads/sdk/${run}`, targetRefName: 'refs/heads/main', title: `SDK ${run}` },
    repoId,
    s.project,
  );
  assert.equal(opened.status, PullRequestStatus.Active);
  await assert.rejects(
    git.createPullRequest({ sourceRefName: `refs/heads/sdk/${run}`, targetRefName: 'refs/heads/main', title: 'again' }, repoId, s.project),
    (e: Error & { statusCode?: number }) => e.statusCode === 409 && /TF401179/.test(e.message),
  );
  const completed = await git.updatePullRequest(
    { status: PullRequestStatus.Completed, lastMergeSourceCommit: opened.lastMergeSourceCommit },
    repoId,
    opened.pullRequestId!,
    s.project,
  );
  assert.equal(completed.status, PullRequestStatus.Completed);
  const pushes = await git.getPushes(repoId, s.project);
  assert.equal(pushes[0]?.pushedBy?.id, s.user.id, 'completing the pull request was a push');
  const push = await git.getPush(repoId, pushes[0]!.pushId!, s.project, 10, true);
  assert.ok(push.refUpdates?.some((u) => u.name === 'refs/heads/main'));

  // ---- TaskAgent (variable groups) -----------------------------------------------------------
  const taskAgent = await conn.getTaskAgentApi();
  const groups = await taskAgent.getVariableGroups(
    s.project,
    undefined,
    VariableGroupActionFilter.Manage,
    undefined,
    undefined,
    VariableGroupQueryOrder.IdAscending,
  );
  const deploy = groups.find((g) => g.id === vgId);
  assert.equal(deploy?.variables?.region?.value, 'westeurope');
  assert.equal(deploy?.variables?.key?.value, null);
  assert.equal(deploy?.variables?.key?.isSecret, true);
  assert.equal((await taskAgent.getVariableGroup(s.project, vgId)).name, 'deploy');
  const projectRef = { id: project.id!, name: project.name! };
  const added = await taskAgent.addVariableGroup({
    name: `sdk-${run}`,
    type: 'Vsts',
    variables: { a: { value: '1' } },
    variableGroupProjectReferences: [{ name: `sdk-${run}`, projectReference: projectRef }],
  });
  assert.ok(added.id);
  const updated = await taskAgent.updateVariableGroup(
    {
      name: `sdk-${run}`,
      type: 'Vsts',
      variables: { a: { value: '2' } },
      variableGroupProjectReferences: [{ name: `sdk-${run}`, projectReference: projectRef }],
    },
    added.id!,
  );
  assert.equal(updated.variables?.a?.value, '2');
  await taskAgent.deleteVariableGroup(added.id!, [project.id!]);
  assert.ok(!(await taskAgent.getVariableGroups(s.project)).some((g) => g.id === added.id));

  // ---- Profile, Accounts (vssps) -------------------------------------------------------------
  const profile = await (await conn.getProfileApi()).getProfile('me');
  assert.equal(profile.id, s.user.id);
  const accounts = await conn.rest.get<{ count: number; value: Array<{ accountName: string }> }>(
    `${s.emu.urls.vssps}/_apis/accounts?memberId=${profile.id}&api-version=7.1`,
  );
  assert.equal(accounts.statusCode, 200);
  assert.deepEqual(
    accounts.result?.value.map((a) => a.accountName),
    [s.org],
  );

  // ---- Tokens (PAT lifecycle: Entra user tokens only) ----------------------------------------
  const patsUrl = `${s.emu.urls.vssps}/${s.org}/_apis/tokens/pats?api-version=7.1-preview.1`;
  if (run === 'bearer') {
    const createdPat = await conn.rest.create<{ patToken: { authorizationId: string; token: string } }>(patsUrl, {
      displayName: 'sdk',
      scope: 'vso.code',
      validTo: new Date(Date.now() + 86_400_000).toISOString(),
      allOrgs: false,
    });
    assert.equal(createdPat.statusCode, 200);
    assert.match(createdPat.result!.patToken.token, /^.{76}AZDO.{4}$/);
    const listed = await conn.rest.get<{ patTokens: Array<{ authorizationId: string }> }>(patsUrl);
    assert.ok(listed.result?.patTokens.some((p) => p.authorizationId === createdPat.result!.patToken.authorizationId));
    const revoked = await conn.rest.del(`${patsUrl}&authorizationId=${createdPat.result!.patToken.authorizationId}`);
    assert.equal(revoked.statusCode, 204);
  } else {
    // Refused by the service by design: a PAT cannot manage PATs.
    await assert.rejects(conn.rest.get(patsUrl), (e: Error & { statusCode?: number }) => e.statusCode === 401);
  }
}

describe('azure-devops-node-api contract suite', () => {
  test('with a PAT handler (all-organization PAT)', async () => {
    s.emu.resetCounters();
    await exercise(new azdev.WebApi(s.orgUrl, azdev.getPersonalAccessTokenHandler(allOrgsPat)), 'pat');
    const calls = s.emu.counters().restCalls;
    assert.ok((calls['OPTIONS /{org}/_apis/{area}'] ?? 0) >= 3, JSON.stringify(calls));
    assert.ok((calls['GET /{org}/_apis/ResourceAreas'] ?? 0) >= 1);
  });

  test('with a bearer handler (Entra user token)', async () => {
    await exercise(new azdev.WebApi(s.orgUrl, azdev.getBearerHandler(await userToken(s))), 'bearer');
  });

  test('a bad PAT fails with 401 (the SDK sends X-TFS-FedAuthRedirect: Suppress)', async () => {
    const conn = new azdev.WebApi(s.orgUrl, azdev.getPersonalAccessTokenHandler('bad'.repeat(28)));
    const core = await conn.getCoreApi();
    await assert.rejects(core.getProjects(), (e: Error & { statusCode?: number }) => e.statusCode === 401);
  });

  test('against an Azure DevOps Server collection', async () => {
    const w = s.emu.world;
    w.addOrganization('Coll', { server: true });
    w.addProject('Coll', s.project);
    w.addMember('Coll', s.user.id);
    await w.createRepository('Coll', s.project, s.repo, { commits: 2, branches: ['feature/login'] });
    await w.createPullRequest('Coll', s.project, s.repo, { sourceRefName: 'feature/login', title: 'Login page' });
    const project = w.requireProject('Coll', s.project).project;
    const vg = w.addVariableGroup('Coll', {
      name: 'deploy',
      variables: { region: { value: 'westeurope' }, key: { value: 'x', isSecret: true } },
      projects: [{ projectId: project.id }],
      createdBy: s.user.id,
    });
    const { token } = w.createPat(s.user.id, { scopes: ['app_token'], orgs: ['Coll'] });
    assert.equal(token.length, 52, 'Azure DevOps Server issues the 52-character form');
    const conn = new azdev.WebApi(s.emu.orgUrl('Coll'), azdev.getPersonalAccessTokenHandler(token));
    assert.equal((await conn.connect()).deploymentType, 'onPremises');
    const git = await conn.getGitApi();
    const repos = await git.getRepositories(s.project);
    assert.equal(repos[0]?.remoteUrl, `${s.emu.urls.server}/Coll/${s.project}/_git/${s.repo}`);
    assert.ok((await git.getBranches(repos[0]!.id!, s.project)).length >= 2);
    const groups = await (await conn.getTaskAgentApi()).getVariableGroups(s.project);
    assert.equal(groups[0]?.id, vg.id);
    const pr = await git.getPullRequestById(1, s.project);
    assert.equal(pr.title, 'Login page');
  });
});
