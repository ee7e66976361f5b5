// Where the emulator used to be kinder than Azure DevOps (issue "the emulator, round two"): each test
// here failed against the earlier emulator. Pull request rules and closing, push records, query
// options honoured or refused, numeric enums, resource versions, 52-character PATs, vsts/info, the
// unknown organization, roles behind actionFilter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basic, call, useSeeded } from '../test-support.ts';

// Async: the emulator answers git from this very process, so a synchronous child would deadlock.
const run = async (args: string[], env: NodeJS.ProcessEnv): Promise<string> => (await promisify(execFile)('git', args, { env })).stdout;

let auth: string;
let api: string;
let repoApi: string;

const s = useSeeded(async () => {
  auth = basic(s.pat);
  api = `${s.orgUrl}/${s.project}/_apis`;
  repoApi = `${api}/git/repositories/${s.repo}`;
  // `docs` is merged by a pull request below; `notes` stays ahead of main for the query tests.
  await s.emu.world.commit(s.org, s.project, s.repo, {
    branch: 'docs',
    files: { 'docs/guide.md': '# Guide\n' },
    message: 'Write the guide',
  });
  await s.emu.world.commit(s.org, s.project, s.repo, {
    branch: 'notes',
    files: { 'notes/todo.md': '# To do\n' },
    message: 'Write the notes',
  });
});

describe('pull requests', () => {
  test('source = target is refused; a second active pull request for the same branches is TF401179', async () => {
    const create = (source: string, target: string) =>
      call(`${repoApi}/pullrequests?api-version=7.1`, {
        method: 'POST',
        auth,
        body: { sourceRefName: source, targetRefName: target, title: 't' },
      });
    const same = await create('refs/heads/main', 'refs/heads/main');
    assert.equal(same.status, 400);
    const first = await create('refs/heads/feature/login', 'refs/heads/main');
    assert.equal(first.status, 201, first.text);
    const second = await create('refs/heads/feature/login', 'refs/heads/main');
    assert.equal(second.status, 409);
    assert.match(second.json.message, /^TF401179: /);
    assert.equal(second.json.typeKey, 'GitPullRequestExistsException');
  });

  test('PATCH completes (target moves to the merge commit, as a push by the completer) and abandons; numeric status works', async () => {
    const created = await call(`${repoApi}/pullrequests?api-version=7.1`, {
      method: 'POST',
      auth,
      body: { sourceRefName: 'refs/heads/docs', targetRefName: 'refs/heads/main', title: 'Guide' },
    });
    assert.equal(created.status, 201, created.text);
    const id = created.json.pullRequestId as number;
    const url = `${repoApi}/pullrequests/${id}?api-version=7.1`;
    const noSource = await call(url, { method: 'PATCH', auth, body: { status: 'completed' } });
    assert.equal(noSource.status, 400, 'completing needs lastMergeSourceCommit');
    const stale = await call(url, {
      method: 'PATCH',
      auth,
      body: { status: 'completed', lastMergeSourceCommit: { commitId: '0'.repeat(40) } },
    });
    assert.equal(stale.status, 409);
    // The SDK sends enums as numbers: 3 = completed.
    const done = await call(url, { method: 'PATCH', auth, body: { status: 3, lastMergeSourceCommit: created.json.lastMergeSourceCommit } });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json.status, 'completed');
    assert.equal(done.json.closedBy.id, s.user.id);
    assert.ok(done.json.closedDate);
    const main = await call(`${repoApi}/refs?filter=heads/main&api-version=7.1`, { auth });
    assert.equal(main.json.value[0].objectId, created.json.lastMergeCommit.commitId);
    const again = await call(url, { method: 'PATCH', auth, body: { status: 'abandoned' } });
    assert.equal(again.status, 400, 'a completed pull request stays completed');
    const completed = await call(`${repoApi}/pullrequests?searchCriteria.status=3&api-version=7.1`, { auth });
    assert.ok(completed.json.value.some((p: { pullRequestId: number }) => p.pullRequestId === id));
    const active = await call(`${repoApi}/pullrequests?searchCriteria.status=1&api-version=7.1`, { auth });
    assert.ok(active.json.value.every((p: { status: string }) => p.status === 'active'));
    assert.equal((await call(`${repoApi}/pullrequests?searchCriteria.status=9&api-version=7.1`, { auth })).status, 400);
  });
});

describe('pushes', () => {
  test('every ref move is a push with its pusher and an increasing id; commits name the push that brought them', async () => {
    const w = s.emu.world;
    const bob = w.addUser({ upn: `bob@${s.emu.defaultTenant.domain}`, displayName: 'Bob Pusher' });
    w.addMember(s.org, bob.id);
    const bobPat = w.createPat(bob.id, { scopes: ['vso.code_write'], orgs: [s.org] }).token;
    // A real `git push` by Bob over smart HTTP.
    const dir = mkdtempSync(join(tmpdir(), 'kw-push-'));
    try {
      const env = { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
      const remote = s.emu.gitUrl(s.org, s.project, s.repo);
      const header = `http.extraHeader=Authorization: ${basic(bobPat)}`;
      await run(['-c', header, 'clone', '-q', remote, dir], env);
      writeFileSync(join(dir, 'bob.txt'), 'bob\n');
      await run(['-C', dir, '-c', 'user.name=Bob', '-c', 'user.email=bob@example.test', 'commit', '-qam', 'x', '--allow-empty'], env);
      await run(['-C', dir, 'add', 'bob.txt'], env);
      await run(['-C', dir, '-c', 'user.name=Bob', '-c', 'user.email=bob@example.test', 'commit', '-qm', 'Bob was here'], env);
      await run(['-C', dir, '-c', header, 'push', '-q', 'origin', 'HEAD:refs/heads/bob'], env);
      const sha = (await run(['-C', dir, 'rev-parse', 'HEAD'], env)).trim();
      const pushes = await call(`${repoApi}/pushes?api-version=7.1`, { auth });
      assert.equal(pushes.status, 200);
      const ids = pushes.json.value.map((p: { pushId: number }) => p.pushId);
      assert.deepEqual(
        ids,
        [...ids].sort((a: number, b: number) => b - a),
        'newest first',
      );
      assert.ok(ids.length >= 3 && new Set(ids).size === ids.length);
      const latest = pushes.json.value[0];
      assert.equal(latest.pushedBy.id, bob.id);
      const byBob = await call(
        `${repoApi}/pushes?searchCriteria.pusherId=${bob.id}&searchCriteria.includeRefUpdates=true&api-version=7.1`,
        { auth },
      );
      assert.equal(byBob.json.count, 1);
      assert.deepEqual(
        byBob.json.value[0].refUpdates.map((u: { name: string; oldObjectId: string }) => [u.name, u.oldObjectId]),
        [['refs/heads/bob', '0'.repeat(40)]],
      );
      const one = await call(`${repoApi}/pushes/${latest.pushId}?api-version=7.1`, { auth });
      assert.deepEqual(one.json.commits.map((c: { commitId: string }) => c.commitId).slice(0, 1), [sha]);
      const commit = await call(`${repoApi}/commits/${sha}?api-version=7.1`, { auth });
      assert.equal(commit.json.push.pushedBy.id, bob.id, 'the pusher, not the repository creator');
      assert.equal(commit.json.push.pushId, latest.pushId);
      const seeded = await call(`${repoApi}/commits?searchCriteria.itemVersion.version=feature/login&api-version=7.1`, { auth });
      const first = await call(`${repoApi}/commits/${seeded.json.value.at(-1).commitId}?api-version=7.1`, { auth });
      assert.equal(first.json.push.pushId, 1);
      assert.equal((await call(`${repoApi}/pushes/999?api-version=7.1`, { auth })).status, 404);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('query options are honoured or refused', () => {
  test('commits: itemPath, author, fromDate, compareVersion, includeStatuses; changeCount; unsupported options refused', async () => {
    const byPath = await call(
      `${repoApi}/commits?searchCriteria.itemVersion.version=notes&searchCriteria.itemPath=/notes/todo.md&api-version=7.1`,
      { auth },
    );
    assert.deepEqual(
      byPath.json.value.map((c: { comment: string }) => c.comment),
      ['Write the notes'],
    );
    const nobody = await call(`${repoApi}/commits?searchCriteria.author=nobody-at-all&api-version=7.1`, { auth });
    assert.equal(nobody.json.count, 0);
    const future = await call(
      `${repoApi}/commits?searchCriteria.fromDate=${encodeURIComponent(new Date(Date.now() + 86_400_000).toISOString())}&api-version=7.1`,
      { auth },
    );
    assert.equal(future.json.count, 0);
    assert.equal((await call(`${repoApi}/commits?searchCriteria.fromDate=yesterday-ish&api-version=7.1`, { auth })).status, 400);
    const compared = await call(
      `${repoApi}/commits?searchCriteria.itemVersion.version=notes&searchCriteria.compareVersion.version=main&searchCriteria.includeStatuses=true&api-version=7.1`,
      { auth },
    );
    assert.deepEqual(
      compared.json.value.map((c: { comment: string }) => c.comment),
      ['Write the notes'],
    );
    assert.deepEqual(compared.json.value[0].statuses, []);
    const withChanges = await call(`${repoApi}/commits/${compared.json.value[0].commitId}?changeCount=10&api-version=7.1`, { auth });
    assert.deepEqual(
      withChanges.json.changes.map((c: { item: { path: string }; changeType: string }) => [c.item.path, c.changeType]),
      [['/notes/todo.md', 'add']],
    );
    const refused = await call(`${repoApi}/commits?searchCriteria.showOldestCommitsFirst=true&api-version=7.1`, { auth });
    assert.equal(refused.status, 400);
    assert.match(refused.json.message, /searchCriteria\.showOldestCommitsFirst/);
  });

  test('refs includeStatuses, folder contentMetadata; includeMyBranches and deep recursion refused', async () => {
    const refs = await call(`${repoApi}/refs?filter=heads/main&includeStatuses=true&api-version=7.1`, { auth });
    assert.deepEqual(refs.json.value[0].statuses, []);
    assert.equal((await call(`${repoApi}/refs?includeMyBranches=true&api-version=7.1`, { auth })).status, 400);
    const folder = await call(`${repoApi}/items?path=/notes&versionDescriptor.version=notes&includeContentMetadata=true&api-version=7.1`, {
      auth,
      headers: { accept: 'application/json' },
    });
    assert.equal(folder.status, 200, folder.text);
    assert.deepEqual(folder.json.contentMetadata, { fileName: 'notes' });
    assert.equal(
      (await call(`${repoApi}/items?scopePath=/&recursionLevel=Full&api-version=7.1`, { auth, headers: { accept: 'application/json' } }))
        .status,
      400,
    );
  });

  test('numeric versionType in queries (0 = branch) is read as Azure DevOps reads it', async () => {
    const r = await call(
      `${repoApi}/commits?searchCriteria.itemVersion.version=notes&searchCriteria.itemVersion.versionType=0&searchCriteria.$top=1&api-version=7.1`,
      { auth },
    );
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.value[0].comment, 'Write the notes');
  });

  test('the N of 7.1-preview.N must be a resource version the route has', async () => {
    assert.equal((await call(`${repoApi}/refs?api-version=7.1-preview.2`, { auth })).status, 200);
    const tooHigh = await call(`${repoApi}/refs?api-version=7.1-preview.9`, { auth });
    assert.equal(tooHigh.status, 400);
    assert.equal(tooHigh.json.typeKey, 'VssVersionOutOfRangeException');
    assert.equal((await call(`${s.orgUrl}/_apis/projects?api-version=7.2-preview.4`, { auth })).status, 200);
  });

  test("variable groups: actionFilter follows the caller's roles; writes need Administrator", async () => {
    const w = s.emu.world;
    const project = w.requireProject(s.org, s.project).project;
    const carol = w.addUser({ upn: `carol@${s.emu.defaultTenant.domain}` });
    w.addMember(s.org, carol.id);
    const carolPat = w.createPat(carol.id, { scopes: ['vso.variablegroups_manage'], orgs: [s.org] }).token;
    const mk = (name: string) =>
      w.addVariableGroup(s.org, { name, variables: { a: { value: '1' } }, projects: [{ projectId: project.id }], createdBy: s.user.id });
    const readOnly = mk('read-only');
    const usable = mk('usable');
    const managed = mk('managed');
    w.setVariableGroupRole(s.org, usable.id, carol.id, 'User');
    w.setVariableGroupRole(s.org, managed.id, carol.id, 'Administrator');
    const names = async (filter: string) =>
      (
        await call(`${api}/distributedtask/variablegroups?actionFilter=${filter}&queryOrder=IdAscending&api-version=7.1`, {
          auth: basic(carolPat),
        })
      ).json.value.map((g: { name: string }) => g.name);
    assert.deepEqual(await names('None'), ['read-only', 'usable', 'managed']);
    assert.deepEqual(await names('Use'), ['usable', 'managed']);
    assert.deepEqual(await names('16'), ['usable', 'managed']);
    assert.deepEqual(await names('Manage'), ['managed']);
    assert.equal(
      (await call(`${api}/distributedtask/variablegroups?actionFilter=Everything&api-version=7.1`, { auth: basic(carolPat) })).status,
      400,
    );
    const body = {
      name: 'read-only',
      type: 'Vsts',
      variables: { a: { value: '2' } },
      variableGroupProjectReferences: [{ name: 'read-only', projectReference: { id: project.id } }],
    };
    const denied = await call(`${s.orgUrl}/_apis/distributedtask/variablegroups/${readOnly.id}?api-version=7.1`, {
      method: 'PUT',
      auth: basic(carolPat),
      body,
    });
    assert.equal(denied.status, 403);
    const allowed = await call(`${s.orgUrl}/_apis/distributedtask/variablegroups/${managed.id}?api-version=7.1`, {
      method: 'PUT',
      auth: basic(carolPat),
      body: { ...body, name: 'managed' },
    });
    assert.equal(allowed.status, 200, allowed.text);
  });
});

describe('identities, tokens and discovery', () => {
  test('52- and 84-character PATs are issued and both work for REST and git', async () => {
    const w = s.emu.world;
    const legacy = w.createPat(s.user.id, { scopes: ['vso.code', 'vso.project'], orgs: [s.org], format: 'legacy' }).token;
    const current = w.createPat(s.user.id, { scopes: ['vso.code', 'vso.project'], orgs: [s.org] }).token;
    assert.match(legacy, /^[a-z2-7]{52}$/);
    assert.match(current, /^[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4}$/);
    const overControl = await call(`${s.emu.urls.services}/_emulator/users/${s.user.id}/pats`, {
      method: 'POST',
      auth: `Bearer ${s.emu.controlToken}`,
      body: { scopes: ['vso.code'], orgs: [s.org], format: 'legacy' },
    });
    assert.match(overControl.json.token, /^[a-z2-7]{52}$/);
    for (const token of [legacy, current]) {
      assert.equal((await call(`${s.orgUrl}/_apis/projects?api-version=7.1`, { auth: basic(token) })).status, 200);
      const refs = await fetch(`${s.emu.gitUrl(s.org, s.project, s.repo)}/info/refs?service=git-upload-pack`, {
        headers: { authorization: basic(token) },
      });
      assert.equal(refs.status, 200);
      await refs.arrayBuffer();
    }
    // A Server collection issues the legacy form by default.
    w.addOrganization('Coll52', { server: true });
    w.addMember('Coll52', s.user.id);
    assert.match(w.createPat(s.user.id, { scopes: ['vso.code'], orgs: ['Coll52'] }).token, /^[a-z2-7]{52}$/);
  });

  test('vsts/info is shaped like the recorded example (project.state is the number 1)', async () => {
    const info = await call(`${s.orgUrl}/${s.project}/_git/${s.repo}/vsts/info`, { auth });
    assert.equal(info.json.repository.project.state, 1);
    assert.equal(info.json.collection.url, `${s.orgUrl}/_apis/projectCollections/${info.json.collection.id}`);
    assert.deepEqual(Object.keys(info.json.repository).sort(), ['id', 'name', 'project', 'remoteUrl', 'url']);
  });

  test('location data: maxVersion 7.2 on the cloud hosts, and the vssps host publishes its own', async () => {
    const git = await call(`${s.orgUrl}/_apis/git`, { method: 'OPTIONS' });
    assert.ok(git.json.value.every((l: { maxVersion: string }) => l.maxVersion === '7.2'));
    assert.ok(
      git.json.value.some((l: { id: string }) => l.id === 'd5b216de-d8d5-4d32-ae76-51df755b16d3'),
      'stats/branches',
    );
    const profile = await call(`${s.emu.urls.vssps}/_apis/Profile`, { method: 'OPTIONS' });
    assert.equal(profile.status, 200);
    assert.ok(profile.json.value.some((l: { id: string }) => l.id === 'f83735dc-483f-4238-a291-d45f6080a9af'));
  });

  test('stats/branches: ahead and behind the default branch, one branch by name', async () => {
    const all = await call(`${repoApi}/stats/branches?api-version=7.1`, { auth });
    assert.equal(all.status, 200, all.text);
    const docs = all.json.value.find((b: { name: string }) => b.name === 'notes');
    assert.equal(docs.aheadCount, 1);
    assert.equal(all.json.value.find((b: { name: string }) => b.name === 'main').isBaseVersion, true);
    const one = await call(`${repoApi}/stats/branches?name=notes&api-version=7.1`, { auth });
    assert.equal(one.json.name, 'notes');
    assert.equal((await call(`${repoApi}/stats/branches?name=nope&api-version=7.1`, { auth })).status, 404);
  });

  test('an unknown organization answers 401 without any tenant hint (no X-VSS-ResourceTenant, no Bearer authority)', async () => {
    for (const url of [`${s.emu.urls.services}/no-such-org/_apis/projects?api-version=7.1`, `${s.emu.urls.services}/no-such-org`]) {
      const r = await fetch(url, { headers: { authorization: auth } });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('x-vss-resourcetenant'), null);
      assert.ok(!/Bearer/i.test(r.headers.get('www-authenticate') ?? ''), r.headers.get('www-authenticate') ?? '');
      await r.arrayBuffer();
    }
  });
});
