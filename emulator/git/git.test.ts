// Real git against the emulator's smart HTTP: clone, push, read-only and wrong PATs, bearer tokens,
// the dev.azure.com, visualstudio.com and Server URL forms, pull request merge refs, gzip bodies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { basic, call, runGit, startSeeded, userToken, type SeededWorld } from '../test-support.ts';

let s: SeededWorld;
let work: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** git with no user configuration, in the work folder unless told; the secret travels in the environment, never in argv. */
const git = (args: string[], opts: { cwd?: string; secret?: string; extraHeader?: boolean } = {}): Promise<Run> =>
  runGit(args, { home: work, ...opts, cwd: opts.cwd ?? work });

let n = 0;
const dir = (): string => join(work, `c${++n}`);

async function commitAndPush(clone: string, secret: string, branch = 'main'): Promise<Run> {
  writeFileSync(join(clone, `file-${n}.txt`), `change ${n}\n`);
  assert.equal((await git(['add', '.'], { cwd: clone })).code, 0);
  assert.equal((await git(['commit', '-q', '-m', `change ${n}`], { cwd: clone })).code, 0);
  return git(['push', 'origin', `HEAD:refs/heads/${branch}`], { cwd: clone, secret });
}

before(async () => {
  s = await startSeeded();
  work = mkdtempSync(join(tmpdir(), 'keyway-git-test-'));
});

after(async () => {
  await s?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('git smart HTTP on the dev.azure.com form', () => {
  test('clone and push with a PAT', async () => {
    const url = s.emu.gitUrl(s.org, s.project, s.repo);
    const target = dir();
    const clone = await git(['clone', '-q', url, target], { secret: s.pat });
    assert.equal(clone.code, 0, clone.stderr);
    assert.equal(readFileSync(join(target, 'counter.txt'), 'utf8'), '5\n');
    assert.ok(!clone.stderr.includes(s.pat), 'the PAT never appears in output');
    const push = await commitAndPush(target, s.pat);
    assert.equal(push.code, 0, push.stderr);
    const head = (await git(['rev-parse', 'HEAD'], { cwd: target })).stdout.trim();
    const refs = await call(`${s.orgUrl}/${s.project}/_apis/git/repositories/${s.repo}/refs?filter=heads/main&api-version=7.1`, {
      auth: basic(s.pat),
    });
    assert.equal(refs.json.value[0].objectId, head, 'the REST API sees the pushed commit');
    const counters = s.emu.counters();
    assert.ok((counters.gitByService['git-receive-pack'] ?? 0) >= 2, JSON.stringify(counters));
  });

  test('a read-only PAT fetches but cannot push (403, TF401027)', async () => {
    const target = dir();
    const clone = await git(['clone', '-q', s.emu.gitUrl(s.org, s.project, s.repo), target], { secret: s.readPat });
    assert.equal(clone.code, 0, clone.stderr);
    const push = await commitAndPush(target, s.readPat);
    assert.notEqual(push.code, 0);
    assert.match(push.stderr, /TF401027: You need the Git 'GenericContribute' permission/);
    assert.match(push.stderr, /403/);
  });

  test('a wrong PAT and no credential both fail authentication', async () => {
    const wrong = await git(['ls-remote', s.emu.gitUrl(s.org, s.project, s.repo)], { secret: 'x'.repeat(52) });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Authentication failed|401/);
    const none = await git(['ls-remote', s.emu.gitUrl(s.org, s.project, s.repo)]);
    assert.notEqual(none.code, 0);
    const raw = await call(`${s.emu.gitUrl(s.org, s.project, s.repo)}/info/refs?service=git-upload-pack`);
    assert.equal(raw.status, 401);
    assert.ok(raw.headers.get('www-authenticate')?.includes('Basic realm='));
    assert.equal(raw.headers.get('x-vss-resourcetenant'), s.emu.defaultTenant.id);
  });

  test('an expired or revoked PAT stops working', async () => {
    const temp = s.emu.world.createPat(s.user.id, { scopes: ['vso.code'], orgs: [s.org] });
    const url = s.emu.gitUrl(s.org, s.project, s.repo);
    assert.equal((await git(['ls-remote', url], { secret: temp.token })).code, 0);
    s.emu.world.revokePat(temp.authorizationId);
    assert.notEqual((await git(['ls-remote', url], { secret: temp.token })).code, 0);
  });

  test('an Entra access token works as a bearer header and as the Basic password', async () => {
    const token = await userToken(s);
    const url = s.emu.gitUrl(s.org, s.project, s.repo);
    const viaHeader = await git(['ls-remote', url], { secret: token, extraHeader: true });
    assert.equal(viaHeader.code, 0, viaHeader.stderr);
    assert.match(viaHeader.stdout, /refs\/heads\/main/);
    const viaBasic = await git(['ls-remote', url], { secret: token });
    assert.equal(viaBasic.code, 0, viaBasic.stderr);
  });

  test('a service principal not added to the organization gets TF401019', async () => {
    const token = await s.emu.entra.issueAccessTokenForTest({
      tenantId: s.emu.defaultTenant.id,
      clientId: s.clientId,
      scopes: ['499b84ac-1321-427f-aa17-267ca6975798/.default'],
    });
    const url = s.emu.gitUrl(s.org, s.project, s.repo);
    const denied = await git(['ls-remote', url], { secret: token, extraHeader: true });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /TF401019/);
    s.emu.world.addServicePrincipalToOrg(s.org, { clientId: s.clientId });
    const allowed = await git(['ls-remote', url], { secret: token, extraHeader: true });
    assert.equal(allowed.code, 0, allowed.stderr);
  });

  test('/{org}/_git/{repo} for a repository named like its project', async () => {
    s.emu.world.addProject(s.org, 'Tools');
    await s.emu.world.createRepository(s.org, 'Tools', 'Tools', { commits: 2 });
    const ls = await git(['ls-remote', `${s.orgUrl}/_git/Tools`], { secret: s.pat });
    assert.equal(ls.code, 0, ls.stderr);
    const repo = await call(`${s.orgUrl}/Tools/_apis/git/repositories/Tools?api-version=7.1`, { auth: basic(s.pat) });
    assert.equal(repo.json.remoteUrl, `${new URL(s.orgUrl).protocol}//${s.org}@${new URL(s.orgUrl).host}/${s.org}/_git/Tools`);
  });

  test('the {org}.visualstudio.com form ({org}.localhost), with and without DefaultCollection', async () => {
    const vs = s.emu.orgUrl(s.org, 'visualstudio');
    for (const url of [`${vs}/${s.project}/_git/${s.repo}`, `${vs}/DefaultCollection/${s.project}/_git/${s.repo}`]) {
      const ls = await git(['ls-remote', url], { secret: s.pat });
      assert.equal(ls.code, 0, `${url}: ${ls.stderr}`);
    }
  });

  test('a pull request merge ref is a real two-parent merge commit', async () => {
    const pr = await s.emu.world.createPullRequest(s.org, s.project, s.repo, { sourceRefName: 'feature/login', title: 'Login' });
    assert.equal(pr.mergeStatus, 'succeeded');
    const target = dir();
    assert.equal((await git(['init', '-q', target])).code, 0);
    const fetch = await git(['fetch', '-q', s.emu.gitUrl(s.org, s.project, s.repo), `refs/pull/${pr.id}/merge:refs/remotes/pr`], {
      cwd: target,
      secret: s.pat,
    });
    assert.equal(fetch.code, 0, fetch.stderr);
    const parents = (await git(['rev-list', '--parents', '-n', '1', 'refs/remotes/pr'], { cwd: target })).stdout.trim().split(' ');
    assert.equal(parents[0], pr.lastMergeCommit);
    assert.deepEqual(parents.slice(1), [pr.lastMergeTargetCommit, pr.lastMergeSourceCommit]);
  });

  test('gzip-encoded upload-pack requests are inflated by http-backend', async () => {
    const url = s.emu.gitUrl(s.org, s.project, s.repo);
    const refs = await call(`${s.orgUrl}/${s.project}/_apis/git/repositories/${s.repo}/refs?filter=heads/main&api-version=7.1`, {
      auth: basic(s.pat),
    });
    const want = `want ${refs.json.value[0].objectId} ofs-delta\n`;
    const pkt = (line: string): string => (line.length + 4).toString(16).padStart(4, '0') + line;
    const body = gzipSync(Buffer.from(pkt(want) + '0000' + pkt('done\n')));
    const res = await fetch(`${url}/git-upload-pack`, {
      method: 'POST',
      headers: { authorization: basic(s.pat), 'content-type': 'application/x-git-upload-pack-request', 'content-encoding': 'gzip' },
      body,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-git-upload-pack-result');
    assert.ok(Buffer.from(await res.arrayBuffer()).includes(Buffer.from('PACK')));
  });
});

describe('git smart HTTP on Azure DevOps Server (/tfs/{collection})', () => {
  test('clone and push with a PAT; a bearer token is refused', async () => {
    const w = s.emu.world;
    w.addOrganization('DefaultCollection', { server: true });
    w.addProject('DefaultCollection', 'Legacy');
    w.addMember('DefaultCollection', s.user.id);
    await w.createRepository('DefaultCollection', 'Legacy', 'legacy-app', { commits: 3 });
    const { token } = w.createPat(s.user.id, { scopes: ['vso.code_write'], orgs: ['DefaultCollection'] });
    const url = s.emu.gitUrl('DefaultCollection', 'Legacy', 'legacy-app');
    assert.ok(url.startsWith(`${s.emu.urls.server}/DefaultCollection/`));
    const target = dir();
    const clone = await git(['clone', '-q', url, target], { secret: token });
    assert.equal(clone.code, 0, clone.stderr);
    const push = await commitAndPush(target, token);
    assert.equal(push.code, 0, push.stderr);
    const bearer = await git(['ls-remote', url], { secret: await userToken(s), extraHeader: true });
    assert.notEqual(bearer.code, 0);
    const challenge = await call(`${url}/info/refs?service=git-upload-pack`);
    assert.equal(challenge.status, 401);
    assert.equal(challenge.headers.get('www-authenticate'), `Basic realm="${s.emu.urls.server}/"`);
  });
});

describe('seeding', () => {
  // How fast seeding (git fast-import) is, is no assertion here: bench/02-git-helper.ts seeds this very repository.
  test('1,000 commits are written and page through the commits API', async () => {
    await s.emu.world.createRepository(s.org, s.project, 'big', { commits: 1000 });
    const page = await call(
      `${s.orgUrl}/${s.project}/_apis/git/repositories/big/commits?searchCriteria.$top=100&searchCriteria.$skip=950&api-version=7.1`,
      { auth: basic(s.pat) },
    );
    assert.equal(page.status, 200);
    assert.equal(page.json.count, 50);
    assert.equal(page.json.value.at(-1).comment, 'Initial commit');
  });
});

describe('repository read permission, partial clone filters and bytes served', () => {
  test('a member denied Read on one repository gets TF401019 over REST and git, does not see it listed, and the refusal is recorded', async () => {
    const other = s.emu.world.addUser({ upn: `denied@${s.emu.defaultTenant.domain}` });
    s.emu.world.addMember(s.org, other.id);
    const pat = s.emu.world.createPat(other.id, { scopes: ['vso.code'], orgs: [s.org] }).token;
    const repo = s.emu.world.requireRepository(s.org, s.project, s.repo);
    const url = s.emu.gitUrl(s.org, s.project, s.repo);
    assert.equal((await git(['ls-remote', url], { secret: pat })).code, 0, 'readable before the deny');
    s.emu.world.denyRepositoryRead(repo, other.id);
    try {
      const rest = await call(`${s.orgUrl}/${s.project}/_apis/git/repositories/${s.repo}?api-version=7.1`, { auth: basic(pat) });
      assert.equal(rest.status, 404);
      assert.match(
        rest.json.message,
        /^TF401019: The Git repository with name or identifier web-app does not exist or you do not have permissions/,
      );
      const listed = await call(`${s.orgUrl}/${s.project}/_apis/git/repositories?api-version=7.1`, { auth: basic(pat) });
      assert.ok(!listed.json.value.some((r: { name: string }) => r.name === s.repo), 'left out of the listing');
      const viaGit = await git(['ls-remote', url], { secret: pat });
      assert.notEqual(viaGit.code, 0);
      assert.match(viaGit.stderr, /TF401019|not found/);
      const denials = s.emu.world.repositoryDenials().filter((d) => d.identityId === other.id);
      assert.deepEqual(
        denials.map((d) => [d.repositoryId, d.via]),
        [
          [repo.id, 'rest'],
          [repo.id, 'git'],
        ],
      );
      // Others are unaffected.
      assert.equal((await git(['ls-remote', url], { secret: s.pat })).code, 0);
    } finally {
      s.emu.world.allowRepositoryRead(repo, other.id);
    }
    assert.equal((await git(['ls-remote', url], { secret: pat })).code, 0, 'readable again');
  });

  test('blobless and treeless clones are served as such; another filter fails the request', async () => {
    const url = s.emu.gitUrl(s.org, s.project, s.repo);
    const blobless = dir();
    const clone = await git(['clone', '-q', '--no-checkout', '--filter=blob:none', url, blobless], { secret: s.pat });
    assert.equal(clone.code, 0, clone.stderr);
    assert.doesNotMatch(clone.stderr, /filtering not recognized/);
    const missing = await git(['rev-list', '--objects', '--all', '--missing=print'], { cwd: blobless });
    assert.match(missing.stdout, /^\?[0-9a-f]{40}$/m, 'blobs are left out');
    assert.equal((await git(['config', 'remote.origin.promisor'], { cwd: blobless })).stdout.trim(), 'true');
    const treeless = await git(['clone', '-q', '--no-checkout', '--filter=tree:0', url, dir()], { secret: s.pat });
    assert.equal(treeless.code, 0, treeless.stderr);
    const limited = await git(['clone', '-q', '--filter=blob:limit=1k', url, dir()], { secret: s.pat });
    assert.notEqual(limited.code, 0, 'blob:limit is refused, as by the service');
  });

  test('the counters add up the bytes git answers carry', async () => {
    s.emu.resetCounters();
    const target = dir();
    const clone = await git(['clone', '-q', s.emu.gitUrl(s.org, s.project, s.repo), target], { secret: s.pat });
    assert.equal(clone.code, 0, clone.stderr);
    const packDir = join(target, '.git', 'objects', 'pack');
    const packBytes = readdirSync(packDir)
      .filter((f) => f.endsWith('.pack'))
      .reduce((sum, f) => sum + statSync(join(packDir, f)).size, 0);
    const served = s.emu.counters().gitBytesServed;
    assert.ok(packBytes > 0 && served > packBytes, `served ${served} bytes, the pack is ${packBytes}`);
    const before = served;
    assert.equal((await git(['fetch', '-q', 'origin'], { cwd: target, secret: s.pat })).code, 0);
    const fetched = s.emu.counters().gitBytesServed - before;
    assert.ok(fetched > 0 && fetched < served, `an up-to-date fetch costs the advertisement only (${fetched} bytes)`);
  });

  test('a repository copied from an existing bare repository keeps its history and default branch', async () => {
    const source = s.emu.world.requireRepository(s.org, s.project, s.repo).gitDir;
    const copy = await s.emu.world.createRepository(s.org, s.project, 'copied', { source, createdBy: s.user.id });
    const target = dir();
    const clone = await git(['clone', '-q', s.emu.gitUrl(s.org, s.project, 'copied'), target], { secret: s.pat });
    assert.equal(clone.code, 0, clone.stderr);
    assert.equal(
      (await git(['rev-list', '--count', 'HEAD'], { cwd: target })).stdout.trim(),
      (await git(['--git-dir', source, 'rev-list', '--count', 'HEAD'])).stdout.trim(),
    );
    assert.equal(s.emu.world.listPushes(copy).length, 1, 'recorded as one push');
  });
});
