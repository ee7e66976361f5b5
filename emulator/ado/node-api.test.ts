// Microsoft's own client (azure-devops-node-api) against the emulator: resource-area and location
// discovery (OPTIONS /{org}/_apis/{area}, GET /_apis/ResourceAreas), Accept-header api-versions,
// X-TFS-FedAuthRedirect: Suppress, PAT and bearer handlers, cloud and Server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as azdev from 'azure-devops-node-api';
import { startSeeded, userToken, type SeededWorld } from '../test-support.ts';

let s: SeededWorld;
let prId: number;
let vgId: number;

before(async () => {
  s = await startSeeded();
  const pr = await s.emu.world.createPullRequest(s.org, s.project, s.repo, { sourceRefName: 'feature/login', title: 'Login page' });
  prId = pr.id;
  const project = s.emu.world.requireProject(s.org, s.project).project;
  vgId = s.emu.world.addVariableGroup(s.org, {
    name: 'deploy',
    variables: { region: { value: 'westeurope' }, key: { value: 'canary-secret-value', isSecret: true } },
    projects: [{ projectId: project.id }],
    createdBy: s.user.id,
  }).id;
});
after(async () => {
  await s?.close();
});

async function exercise(conn: azdev.WebApi): Promise<void> {
  const core = await conn.getCoreApi();
  const projects = await core.getProjects();
  assert.deepEqual(
    projects.map((p) => p.name),
    [s.project],
  );
  const git = await conn.getGitApi();
  const repos = await git.getRepositories(s.project);
  assert.equal(repos[0]?.name, s.repo);
  const refs = await git.getRefs(repos[0]!.id!, s.project, 'heads/');
  assert.deepEqual(
    refs.map((r) => r.name),
    ['refs/heads/feature/login', 'refs/heads/main'],
  );
  const pr = await git.getPullRequestById(prId, s.project);
  assert.equal(pr.title, 'Login page');
  assert.equal(pr.sourceRefName, 'refs/heads/feature/login');
  assert.ok(pr.creationDate instanceof Date, 'dates deserialize');
  const taskAgent = await conn.getTaskAgentApi();
  const groups = await taskAgent.getVariableGroups(s.project);
  assert.equal(groups[0]?.id, vgId);
  assert.equal(groups[0]?.variables?.region?.value, 'westeurope');
  assert.equal(groups[0]?.variables?.key?.value, null);
  assert.equal(groups[0]?.variables?.key?.isSecret, true);
}

describe('azure-devops-node-api', () => {
  test('with a PAT handler', async () => {
    s.emu.resetCounters();
    await exercise(new azdev.WebApi(s.orgUrl, azdev.getPersonalAccessTokenHandler(s.pat)));
    const calls = s.emu.counters().restCalls;
    assert.ok((calls['OPTIONS /{org}/_apis/{area}'] ?? 0) >= 3, JSON.stringify(calls));
    assert.equal(calls['GET /{org}/_apis/ResourceAreas'], 1);
  });

  test('with a bearer handler (Entra user token)', async () => {
    await exercise(new azdev.WebApi(s.orgUrl, azdev.getBearerHandler(await userToken(s))));
  });

  test('connect() reads connectionData', async () => {
    const data = await new azdev.WebApi(s.orgUrl, azdev.getPersonalAccessTokenHandler(s.pat)).connect();
    assert.equal(data.authenticatedUser?.id, s.user.id);
    assert.equal(data.deploymentType, 'hosted');
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
    const vg = w.addVariableGroup('Coll', { name: 'deploy', variables: { region: { value: 'westeurope' }, key: { value: 'x', isSecret: true } }, projects: [{ projectId: project.id }], createdBy: s.user.id });
    const { token } = w.createPat(s.user.id, { scopes: ['app_token'], orgs: ['Coll'] });
    const conn = new azdev.WebApi(s.emu.orgUrl('Coll'), azdev.getPersonalAccessTokenHandler(token));
    assert.equal((await conn.connect()).deploymentType, 'onPremises');
    const git = await conn.getGitApi();
    const repos = await git.getRepositories(s.project);
    assert.equal(repos[0]?.remoteUrl, `${s.emu.urls.server}/Coll/${s.project}/_git/${s.repo}`);
    const groups = await (await conn.getTaskAgentApi()).getVariableGroups(s.project);
    assert.equal(groups[0]?.id, vg.id);
    const pr = await git.getPullRequestById(1, s.project);
    assert.equal(pr.title, 'Login page');
  });
});
