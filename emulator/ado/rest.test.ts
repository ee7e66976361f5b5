// REST behaviour beyond shapes: paging, filters, errors with the service's TF codes, item content,
// variable group secrets, the {org}.visualstudio.com host form, case-insensitive routes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { basic, call, useSeeded } from '../test-support.ts';

let api: string;
let auth: string;

const s = useSeeded(async () => {
  api = `${s.orgUrl}/${s.project}/_apis`;
  auth = basic(s.pat);
  for (const name of ['Alpha', 'Beta', 'Gamma', 'Delta']) s.emu.world.addProject(s.org, name);
});

describe('paging', () => {
  test('projects: $top with x-ms-continuationtoken until the end', async () => {
    const names: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const r = await call(
        `${s.orgUrl}/_apis/projects?$top=2&api-version=7.1${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`,
        { auth },
      );
      assert.equal(r.status, 200);
      names.push(...r.json.value.map((p: { name: string }) => p.name));
      token = r.headers.get('x-ms-continuationtoken');
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(names, ['Alpha', 'Beta', 'Delta', 'Gamma', 'Web']);
  });

  test('refs: filter is a prefix without refs/, with $top and continuation', async () => {
    const first = await call(`${api}/git/repositories/${s.repo}/refs?filter=heads/&$top=1&api-version=7.1`, { auth });
    assert.deepEqual(
      first.json.value.map((r: { name: string }) => r.name),
      ['refs/heads/feature/login'],
    );
    const token = first.headers.get('x-ms-continuationtoken');
    assert.ok(token);
    const second = await call(
      `${api}/git/repositories/${s.repo}/refs?filter=heads/&$top=1&continuationToken=${encodeURIComponent(token)}&api-version=7.1`,
      { auth },
    );
    assert.deepEqual(
      second.json.value.map((r: { name: string }) => r.name),
      ['refs/heads/main'],
    );
    assert.equal(second.headers.get('x-ms-continuationtoken'), null);
    const prefix = await call(`${api}/git/repositories/${s.repo}/refs?filter=heads/fea&api-version=7.1`, { auth });
    assert.equal(prefix.json.count, 1);
    const tags = await call(`${api}/git/repositories/${s.repo}/refs?filter=tags/&api-version=7.1`, { auth });
    assert.deepEqual(
      tags.json.value.map((r: { name: string }) => r.name),
      ['refs/tags/v1.0'],
    );
  });

  test('continuation tokens are opaque: numbers, garbage, unencoded and borrowed tokens are refused (400)', async () => {
    const first = await call(`${api}/git/repositories/${s.repo}/refs?$top=1&api-version=7.1`, { auth });
    const token = first.headers.get('x-ms-continuationtoken')!;
    assert.ok(!/^\d+$/.test(token), 'not a plain number');
    assert.notEqual(encodeURIComponent(token), token, 'needs URL-encoding');
    const refs = (t: string, filter = '') =>
      call(`${api}/git/repositories/${s.repo}/refs?$top=1${filter}&continuationToken=${t}&api-version=7.1`, { auth });
    assert.equal((await refs(encodeURIComponent(token))).status, 200);
    for (const bad of ['1', '0', 'garbage', encodeURIComponent(`${token}x`), token /* '+' read as a space */]) {
      const r = await refs(bad);
      assert.equal(r.status, 400, bad);
      assert.equal(r.json.typeKey, 'InvalidContinuationTokenException');
    }
    // A token belongs to its listing: another filter, or projects, do not take it.
    assert.equal((await refs(encodeURIComponent(token), '&filter=heads/')).status, 400);
    const projects = await call(`${s.orgUrl}/_apis/projects?continuationToken=${encodeURIComponent(token)}&api-version=7.1`, { auth });
    assert.equal(projects.status, 400);
    // Variable groups page by group id (the SDK types that token as a number); anything else is refused.
    const vgs = await call(`${s.orgUrl}/${s.project}/_apis/distributedtask/variablegroups?continuationToken=garbage&api-version=7.1`, {
      auth,
    });
    assert.equal(vgs.status, 400);
  });

  test('commits: itemVersion, $top and $skip', async () => {
    const all = await call(`${api}/git/repositories/${s.repo}/commits?searchCriteria.itemVersion.version=main&api-version=7.1`, { auth });
    assert.equal(all.json.count, 5);
    const page = await call(
      `${api}/git/repositories/${s.repo}/commits?searchCriteria.itemVersion.version=main&searchCriteria.$top=2&searchCriteria.$skip=1&api-version=7.1`,
      { auth },
    );
    assert.deepEqual(
      page.json.value.map((c: { commitId: string }) => c.commitId),
      all.json.value.slice(1, 3).map((c: { commitId: string }) => c.commitId),
    );
    const branch = await call(
      `${api}/git/repositories/${s.repo}/commits?searchCriteria.itemVersion.version=feature/login&searchCriteria.$top=1&api-version=7.1`,
      { auth },
    );
    assert.equal(branch.json.value[0].comment, 'Work on feature/login (1)');
  });
});

describe('errors in the service shape', () => {
  test('missing repository, and a repository of another project, are both 404 TF401019', async () => {
    s.emu.world.addProject(s.org, 'Other');
    await s.emu.world.createRepository(s.org, 'Other', 'other-repo', { commits: 1 });
    for (const url of [`${api}/git/repositories/nope?api-version=7.1`, `${api}/git/repositories/other-repo?api-version=7.1`]) {
      const r = await call(url, { auth });
      assert.equal(r.status, 404);
      assert.equal(r.json.$id, '1');
      assert.equal(r.json.innerException, null);
      assert.equal(r.json.typeKey, 'GitRepositoryNotFoundException');
      assert.match(
        r.json.message,
        /^TF401019: The Git repository with name or identifier .+ does not exist or you do not have permissions/,
      );
      assert.equal(r.json.errorCode, 0);
      assert.equal(r.json.eventId, 3000);
    }
  });

  test('unknown project, commit, item, branch and pull request', async () => {
    const p = await call(`${s.orgUrl}/NoSuchProject/_apis/git/repositories?api-version=7.1`, { auth });
    assert.equal(p.status, 404);
    assert.match(p.json.message, /^TF200016/);
    const c = await call(`${api}/git/repositories/${s.repo}/commits/${'0'.repeat(40)}?api-version=7.1`, { auth });
    assert.equal(c.status, 404);
    const i = await call(`${api}/git/repositories/${s.repo}/items?path=/missing.txt&api-version=7.1`, { auth });
    assert.equal(i.status, 404);
    assert.match(i.json.message, /^TF401174/);
    const b = await call(`${api}/git/repositories/${s.repo}/items?path=/README.md&versionDescriptor.version=nope&api-version=7.1`, {
      auth,
    });
    assert.equal(b.status, 404);
    assert.match(b.json.message, /^TF401175/);
    const pr = await call(`${api}/git/pullrequests/999?api-version=7.1`, { auth });
    assert.equal(pr.status, 404);
    assert.match(pr.json.message, /^TF401180/);
  });
});

describe('items', () => {
  test('raw content by default, JSON with $format=json or Accept: application/json, at a tag or commit', async () => {
    const raw = await call(`${api}/git/repositories/${s.repo}/items?path=/counter.txt&api-version=7.1`, { auth });
    assert.equal(raw.status, 200);
    assert.equal(raw.text, '5\n');
    const json = await call(`${api}/git/repositories/${s.repo}/items?path=/counter.txt&includeContent=true&$format=json&api-version=7.1`, {
      auth,
    });
    assert.equal(json.json.content, '5\n');
    assert.equal(json.json.gitObjectType, 'blob');
    const tagged = await call(
      `${api}/git/repositories/${s.repo}/items?path=/counter.txt&versionDescriptor.version=v1.0&versionDescriptor.versionType=tag&api-version=7.1`,
      { auth },
    );
    assert.equal(tagged.text, '5\n');
    const first = await call(`${api}/git/repositories/${s.repo}/commits?searchCriteria.$skip=4&api-version=7.1`, { auth });
    const atCommit = await call(
      `${api}/git/repositories/${s.repo}/items?path=/counter.txt&versionDescriptor.version=${first.json.value[0].commitId}&versionDescriptor.versionType=commit&api-version=7.1`,
      { auth },
    );
    assert.equal(atCommit.text, '1\n');
    const folder = await call(`${api}/git/repositories/${s.repo}/items?path=/&api-version=7.1`, {
      auth,
      headers: { accept: 'application/json' },
    });
    assert.equal(folder.json.isFolder, true);
  });
});

describe('pull requests', () => {
  test('status filter, per repository and per project', async () => {
    const w = s.emu.world;
    const open = await w.createPullRequest(s.org, s.project, s.repo, { sourceRefName: 'feature/login', title: 'open' });
    const done = await w.createPullRequest(s.org, s.project, s.repo, {
      sourceRefName: 'feature/login',
      title: 'done',
      status: 'completed',
    });
    const active = await call(`${api}/git/repositories/${s.repo}/pullrequests?api-version=7.1`, { auth });
    assert.deepEqual(
      active.json.value.map((p: { pullRequestId: number }) => p.pullRequestId),
      [open.id],
    );
    const completed = await call(`${api}/git/pullrequests?searchCriteria.status=completed&api-version=7.1`, { auth });
    assert.deepEqual(
      completed.json.value.map((p: { pullRequestId: number }) => p.pullRequestId),
      [done.id],
    );
    const all = await call(`${api}/git/pullrequests?searchCriteria.status=all&api-version=7.1`, { auth });
    assert.equal(all.json.count, 2);
    const byId = await call(`${s.orgUrl}/${s.project}/_apis/git/pullrequests/${open.id}?api-version=7.1`, { auth });
    assert.equal(byId.json.lastMergeCommit.commitId, open.lastMergeCommit);
    assert.equal(byId.json.lastMergeCommit.comment, `Merge pull request ${open.id} from feature/login into main`);
  });

  test('POST creates a pull request with its merge ref (201); a second active one for the same branches is TF401179', async () => {
    const create = () =>
      call(`${api}/git/repositories/${s.repo}/pullrequests?api-version=7.1`, {
        method: 'POST',
        auth,
        body: { sourceRefName: 'refs/heads/feature/login', targetRefName: 'refs/heads/main', title: 'via REST' },
      });
    const duplicate = await create();
    assert.equal(duplicate.status, 409, duplicate.text);
    assert.match(duplicate.json.message, /^TF401179: An active pull request for the source and target branch already exists/);
    // Abandoning the active one (PATCH status) frees the branches.
    const active = await call(
      `${api}/git/repositories/${s.repo}/pullrequests?searchCriteria.sourceRefName=refs/heads/feature/login&api-version=7.1`,
      { auth },
    );
    for (const p of active.json.value as Array<{ pullRequestId: number }>) {
      const abandoned = await call(`${api}/git/repositories/${s.repo}/pullrequests/${p.pullRequestId}?api-version=7.1`, {
        method: 'PATCH',
        auth,
        body: { status: 'abandoned' },
      });
      assert.equal(abandoned.json.status, 'abandoned');
      assert.equal(abandoned.json.closedBy.id, s.user.id);
    }
    const r = await create();
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.mergeStatus, 'succeeded');
    const refs = await call(`${api}/git/repositories/${s.repo}/refs?filter=pull/${r.json.pullRequestId}/&api-version=7.1`, { auth });
    assert.equal(refs.json.value[0].name, `refs/pull/${r.json.pullRequestId}/merge`);
    assert.equal(refs.json.value[0].objectId, r.json.lastMergeCommit.commitId);
    const unfiltered = await call(`${api}/git/repositories/${s.repo}/refs?api-version=7.1`, { auth });
    assert.ok(!unfiltered.text.includes('refs/pull/'), 'merge refs stay out of unfiltered listings');
  });
});

describe('variable groups', () => {
  test('secrets never come back, survive a read-modify-write, and delete needs projectIds', async () => {
    const canary = `canary-${Date.now()}`;
    const org = `${s.orgUrl}/_apis/distributedtask/variablegroups`;
    const created = await call(`${org}?api-version=7.1`, {
      method: 'POST',
      auth,
      body: {
        name: 'release',
        description: 'Release settings',
        type: 'Vsts',
        variables: { region: { value: 'westeurope' }, apiKey: { value: canary, isSecret: true } },
        variableGroupProjectReferences: [{ name: 'release', description: 'Release settings', projectReference: { name: s.project } }],
      },
    });
    assert.equal(created.status, 200, created.text);
    assert.deepEqual(created.json.variables.apiKey, { value: null, isSecret: true });
    assert.ok(!created.text.includes(canary));
    const id = created.json.id as number;
    assert.equal(s.emu.world.readVariable(s.org, id, 'apiKey'), canary);

    const fetched = await call(`${api}/distributedtask/variablegroups/${id}?api-version=7.1`, { auth });
    assert.ok(!fetched.text.includes(canary));
    const body = { ...fetched.json, variables: { ...fetched.json.variables, region: { value: 'northeurope' } } };
    const updated = await call(`${org}/${id}?api-version=7.1`, { method: 'PUT', auth, body });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.json.variables.region.value, 'northeurope');
    assert.equal(s.emu.world.readVariable(s.org, id, 'apiKey'), canary, 'a secret sent back as null keeps its value');

    const byName = await call(`${api}/distributedtask/variablegroups?groupName=rel*&api-version=7.1`, { auth });
    assert.deepEqual(
      byName.json.value.map((g: { id: number }) => g.id),
      [id],
    );
    const dup = await call(`${org}?api-version=7.1`, { method: 'POST', auth, body: { ...body, id: undefined } });
    assert.equal(dup.status, 400);

    const noProjects = await call(`${org}/${id}?api-version=7.1`, { method: 'DELETE', auth });
    assert.equal(noProjects.status, 400);
    const projectId = created.json.variableGroupProjectReferences[0].projectReference.id;
    const del = await call(`${org}/${id}?projectIds=${projectId}&api-version=7.1`, { method: 'DELETE', auth });
    assert.equal(del.status, 204);
    assert.equal((await call(`${api}/distributedtask/variablegroups/${id}?api-version=7.1`, { auth })).status, 404);
  });
});

describe('hosts and routing', () => {
  function viaHost(host: string, path: string): Promise<{ status: number; body: string }> {
    const u = new URL(s.emu.urls.services);
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: u.port, path, headers: { host, authorization: auth } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('{org}.localhost plays {org}.visualstudio.com, with and without DefaultCollection', async () => {
    const host = `${s.org}.localhost:${new URL(s.emu.urls.services).port}`;
    for (const path of ['/_apis/projects?api-version=7.1', '/DefaultCollection/_apis/projects?api-version=7.1']) {
      const r = await viaHost(host, path);
      assert.equal(r.status, 200, r.body);
      assert.ok(JSON.parse(r.body).value.some((p: { name: string }) => p.name === s.project));
    }
  });

  test('routes are case-insensitive and names match case-insensitively', async () => {
    const r = await call(`${s.orgUrl}/${s.project.toUpperCase()}/_APIS/Git/Repositories/${s.repo.toUpperCase()}?api-version=7.1`, { auth });
    assert.equal(r.status, 200);
    assert.equal(r.json.name, s.repo);
  });

  test('connectionData and vsts/info', async () => {
    const cd = await call(`${s.orgUrl}/_apis/connectionData`, { auth });
    assert.equal(cd.json.authenticatedUser.id, s.user.id);
    assert.equal(cd.json.deploymentType, 'hosted');
    const info = await call(`${s.orgUrl}/${s.project}/_git/${s.repo}/vsts/info`, { auth });
    assert.equal(info.status, 200);
    assert.equal(info.json.serverUrl, s.orgUrl);
    assert.equal(info.json.repository.name, s.repo);
  });

  test('unknown API routes answer 404 in the service shape', async () => {
    const r = await call(`${s.orgUrl}/_apis/nothing-here?api-version=7.1`, { auth });
    assert.equal(r.status, 404);
    assert.equal(r.json.$id, '1');
  });
});
