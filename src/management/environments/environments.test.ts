// Environments end to end: management plane + runner + emulator, with the real git. Every git and
// curl here is an async spawn: the emulator serves git from this process, so a synchronous spawn
// would block its event loop and deadlock.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { databaseKinds } from '../../../test/support/databases.ts';
import { Browser } from '../../../test/support/management.ts';
import { eventually, settledEnvironment, startPlaneWithRunner } from '../../../test/support/plane.ts';
import type { TestPlane, TestRunner } from '../../../test/support/plane.ts';
import { consentAtEntra, deliverCallback, saveOAuthIntegration, startConnect } from '../../../test/support/oauth.ts';
import { startEmulator } from '../../../emulator/index.ts';
import type { EmulatorHandle, PullRequest, User } from '../../../emulator/index.ts';
import { readCommits, resolveCommit } from '../../../emulator/git/repo.ts';
import { runGitCredential } from '../../runner/environments/git-credential-cli.ts';
import { CREDENTIAL_PATH } from '../../runner/environments/credential-server.ts';
import { KEYWAY_BIN } from '../../../test/support/cli.ts';
import { expireStoredAccessToken } from '../../../test/support/runner-credentials.ts';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

const HOME = mkdtempSync(join(tmpdir(), 'keyway-env-test-home-'));
// Test-side git: no developer configuration, no prompts, English messages.
const GIT_ENV = {
  ...process.env,
  HOME,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: devNull,
  GIT_TERMINAL_PROMPT: '0',
  LC_ALL: 'C',
  GIT_AUTHOR_NAME: 'Test Author',
  GIT_AUTHOR_EMAIL: 'author@example.test',
  GIT_COMMITTER_NAME: 'Test Author',
  GIT_COMMITTER_EMAIL: 'author@example.test',
};

function run(command: string, args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? GIT_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.stdin.on('error', () => undefined);
    child.on('close', (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        ms: Number(process.hrtime.bigint() - started) / 1e6,
      }),
    );
    child.stdin.end(options.input ?? '');
  });
}

const git = (args: string[], cwd: string, input?: string) => run('git', args, { cwd, ...(input !== undefined ? { input } : {}) });

async function gitOk(args: string[], cwd: string): Promise<string> {
  const r = await git(args, cwd);
  assert.equal(r.code, 0, `git ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** POSTs a credential request to the runner's socket as the helper would. */
function askSocket(socketPath: string, secret: string, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: CREDENTIAL_PATH, method: 'POST', headers: { authorization: `Bearer ${secret}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const credentialField = (text: string, key: string) => new RegExp(`^${key}=(.*)$`, 'm').exec(text)?.[1];
const secretOf = (workspacePath: string) =>
  readFileSync(join(workspacePath, '..', '.keyway', 'secret'), 'utf8')
    .trim()
    .replace(/^Authorization: Bearer /, '');

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { median: pick(0.5), p90: pick(0.9), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
}

for (const { kind, skip } of await databaseKinds()) {
  describe(`environments: clone, push, refresh and isolation with real git (${kind})`, { skip }, () => {
    let plane: TestPlane;
    let emu: EmulatorHandle;
    let runner: TestRunner;
    let runnerId: string;
    let integrationId: string;
    let member: User;
    let admin: User;
    let carol: { id: string; browser: Browser };
    let dave: { browser: Browser };
    let pr: PullRequest;
    const org = 'fabrikam';
    const webUrl = `https://dev.azure.com/${org}/Web/_git/web`;
    const apiUrl = `https://dev.azure.com/${org}/Web/_git/api`;

    before(async () => {
      emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
      emu.world.addOrganization(org);
      emu.world.addProject(org, 'Web');
      member = emu.world.addUser({ upn: `member@${emu.defaultTenant.domain}`, displayName: 'Member' });
      admin = emu.world.addUser({ upn: `admin@${emu.defaultTenant.domain}`, displayName: 'Admin' });
      const carolAdo = emu.world.addUser({ upn: `carol@${emu.defaultTenant.domain}`, displayName: 'Carol' });
      for (const u of [member, admin, carolAdo]) emu.world.addMember(org, u.id);
      const web = await emu.world.createRepository(org, 'Web', 'web', {
        commits: 40,
        branches: ['feature/login'],
        tags: ['v1.0'],
        createdBy: member.id,
      });
      // An annotated tag (the emulator's seeding writes lightweight ones reliably only).
      assert.equal((await git(['--git-dir', web.gitDir, 'tag', '-a', 'v2.0', '-m', 'Release 2', 'main~2'], HOME)).code, 0);
      await emu.world.createRepository(org, 'Web', 'api', { commits: 3, createdBy: admin.id });
      pr = await emu.world.createPullRequest(org, 'Web', 'web', { sourceRefName: 'feature/login', createdBy: member.id });
      // An organization the member is not part of.
      emu.world.addOrganization('contoso');
      emu.world.addProject('contoso', 'Secret');
      await emu.world.createRepository('contoso', 'Secret', 'vault', { commits: 1 });

      const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway', redirectUris: [], requirePkce: true });
      ({ plane, runner, runnerId } = await startPlaneWithRunner(kind, emu, {
        name: 'envs',
        plane: { azureDevOpsServicesUrl: emu.urls.services },
        runner: { extra: { environmentOptions: { progressIntervalMs: 0 } } },
      }));
      ({ integrationId } = await saveOAuthIntegration(plane, emu, runnerId, { app: registered, pat: true }));

      for (const [browser, upn] of [
        [plane.memberBrowser, member.upn],
        [plane.adminBrowser, admin.upn],
      ] as const) {
        const { callback } = await consentAtEntra(emu, await startConnect(browser, integrationId), upn);
        const result = await deliverCallback(browser, callback);
        assert.equal(result.ok, true, result.message);
      }
      // Carol authorizes with a PAT; Dave never authorizes.
      const carolUser = await plane.core.identity.createUser({
        email: 'carol@acme.test',
        password: 'carol-password-long',
        organizationId: plane.organizationId,
        role: 'member',
      });
      carol = { id: carolUser.id, browser: new Browser(plane.app) };
      await carol.browser.signIn('carol@acme.test', 'carol-password-long');
      const pat = emu.world.createPat(carolAdo.id, { scopes: ['vso.code_write'], orgs: [org] });
      const stored = await carol.browser.request({
        method: 'POST',
        url: '/api/v1/scm/pat',
        payload: { integrationId, organization: org, token: pat.token },
      });
      assert.equal(stored.statusCode, 201, stored.body);
      await plane.core.identity.createUser({
        email: 'dave@acme.test',
        password: 'dave-password-long',
        organizationId: plane.organizationId,
        role: 'member',
      });
      dave = { browser: new Browser(plane.app) };
      await dave.browser.signIn('dave@acme.test', 'dave-password-long');
    });

    after(async () => {
      await runner?.stop();
      await plane?.close();
      await emu?.close();
    });

    async function create(browser: Browser, contextUrl: string, extra: Record<string, unknown> = {}) {
      return browser.request({ method: 'POST', url: '/api/v1/environments', payload: { contextUrl, runnerId, ...extra } });
    }

    async function ready(browser: Browser, contextUrl: string, extra: Record<string, unknown> = {}) {
      const res = await create(browser, contextUrl, extra);
      assert.equal(res.statusCode, 201, res.body);
      const id = res.json().id as string;
      const env = await settledEnvironment(browser, id, `environment ${id} to finish cloning`);
      assert.equal(env.status, 'ready', JSON.stringify(env.error));
      return env as {
        id: string;
        status: string;
        workspacePath: string;
        progress: { phase: string; percent: number; phases: string[] };
        checkout: { commit: string; description: string; branch: string | null };
      };
    }

    const repoDir = (name: string) => emu.world.requireRepository(org, 'Web', name).gitDir;

    it("clones by branch, reporting the phases and percentages of git's own progress", async () => {
      const env = await ready(plane.memberBrowser, `${webUrl}?version=GBfeature%2Flogin`);
      assert.equal(env.checkout.branch, 'feature/login');
      assert.equal(env.checkout.commit, await resolveCommit(repoDir('web'), 'refs/heads/feature/login'));
      assert.ok(existsSync(join(env.workspacePath, 'branches', 'feature-login.txt')));
      // The first environment of a repository fills the runner's cache (with the member's own
      // credential: that refresh is their fetch): the steps, with git's phases within them.
      const phases = env.progress.phases as string[];
      assert.ok(phases.includes('Cache refresh: Receiving objects'), `phases: ${phases.join(', ')}`);
      assert.ok(
        phases.indexOf('Cache refresh') >= 0 &&
          phases.indexOf('Cache refresh') < phases.indexOf('Local copy') &&
          phases.indexOf('Local copy') < phases.indexOf('Checkout'),
        `in order: ${phases.join(', ')}`,
      );
      // The next one of the same repository takes the cache as it is, then fetches its refs itself.
      const next = await ready(plane.memberBrowser, webUrl);
      assert.ok(
        next.progress.phases.includes('User fetch') && !next.progress.phases.includes('Cache refresh'),
        `phases: ${next.progress.phases.join(', ')}`,
      );
      assert.deepEqual({ phase: env.progress.phase, percent: env.progress.percent }, { phase: 'Done', percent: 100 });
      assert.equal(statSync(join(env.workspacePath, '..')).mode & 0o777, 0o700);
      assert.equal(statSync(join(env.workspacePath, '..', '.keyway', 'secret')).mode & 0o777, 0o600);
      assert.equal(statSync(join(env.workspacePath, '..', '.keyway', 'credential-helper')).mode & 0o777, 0o700);
      const listed = (await plane.memberBrowser.request({ method: 'GET', url: '/api/v1/environments' })).json();
      assert.ok(listed.environments.some((e: { id: string }) => e.id === env.id));
      const others = await plane.adminBrowser.request({ method: 'GET', url: `/api/v1/environments/${env.id}` });
      assert.equal(others.statusCode, 404, "another user's environment is not found");
    });

    it('clones the default branch from a URL on the configured services endpoint (the emulator)', async () => {
      const env = await ready(plane.memberBrowser, emu.gitUrl(org, 'Web', 'web'));
      assert.equal(env.checkout.branch, 'main');
      assert.equal(env.checkout.commit, await resolveCommit(repoDir('web'), 'refs/heads/main'));
    });

    it('clones by tag (lightweight and annotated) and by commit', async () => {
      for (const name of ['v1.0', 'v2.0']) {
        const tag = await ready(plane.memberBrowser, `${webUrl}?version=GT${name}`);
        assert.equal(tag.checkout.commit, await resolveCommit(repoDir('web'), `refs/tags/${name}`));
        assert.equal(tag.checkout.branch, null);
        assert.match(tag.checkout.description, new RegExp(`tag ${name.replace('.', '\\.')}`));
      }
      const older = (await readCommits(repoDir('web'), 'refs/heads/main', { skip: 5, top: 1 }))[0]!.commitId;
      const commit = await ready(plane.memberBrowser, `${webUrl}/commit/${older}`);
      assert.equal(commit.checkout.commit, older);
      assert.equal(await gitOk(['rev-parse', 'HEAD'], commit.workspacePath), older);
    });

    it("clones a pull request at the service's merge commit, or at its source branch", async () => {
      const merge = await ready(plane.memberBrowser, `${webUrl}/pullrequest/${pr.id}`);
      assert.equal(merge.checkout.commit, pr.lastMergeCommit);
      assert.match(merge.checkout.description, new RegExp(`pull request ${pr.id}, merge commit`));
      const source = await ready(plane.memberBrowser, `${webUrl}/pullrequest/${pr.id}`, { pullRequestCheckout: 'source' });
      assert.equal(source.checkout.branch, 'feature/login');
      assert.equal(source.checkout.commit, pr.lastMergeSourceCommit);
    });

    it('refuses what cannot be cloned, with the reason, before anything is written', async () => {
      const cases: [string, number, string][] = [
        [`${webUrl}?version=GBno-such-branch`, 404, 'branch_not_found'],
        [`${webUrl}?version=GTv9`, 404, 'tag_not_found'],
        [`${webUrl}/commit/${'a'.repeat(40)}`, 404, 'commit_not_found'],
        [`${webUrl}/pullrequest/999`, 404, 'pull_request_not_found'],
        [`https://dev.azure.com/${org}/Web/_git/nothing`, 404, 'repository_not_found'],
        ['https://github.com/a/b', 400, 'invalid_context_url'],
      ];
      for (const [url, status, code] of cases) {
        const res = await create(plane.memberBrowser, url);
        assert.equal(res.statusCode, status, `${url}: ${res.body}`);
        assert.equal(res.json().error.code, code, url);
      }
      const list = (await plane.memberBrowser.request({ method: 'GET', url: '/api/v1/environments' })).json();
      assert.ok(
        list.environments.every((e: { status: string }) => e.status === 'ready'),
        'refused environments leave nothing behind',
      );
    });

    it('a user without access gets the reason: never authorized, or not a member of the organization', async () => {
      const never = await create(dave.browser, webUrl);
      assert.equal(never.statusCode, 409, never.body);
      assert.equal(never.json().error.code, 'not_authorized');
      assert.match(
        never.json().error.message,
        /you have not authorized this host yet: connect with OAuth or provide a Personal Access Token/,
      );
      assert.match(never.json().error.message, new RegExp(`/api/v1/scm/authentication\\?integrationId=${integrationId}`));

      const outsider = await create(plane.memberBrowser, 'https://dev.azure.com/contoso/Secret/_git/vault');
      assert.equal(outsider.statusCode, 403, outsider.body);
      assert.equal(outsider.json().error.code, 'access_denied');
      assert.match(
        outsider.json().error.message,
        /refused your authorization for repository contoso\/Secret\/vault: .*TF400813: .* is not authorized to access this resource/,
      );
    });

    it('a commit pushed from the workspace arrives in the repository; a PAT works as well as OAuth', async () => {
      for (const [browser, who] of [
        [plane.memberBrowser, 'member'],
        [carol.browser, 'carol'],
      ] as const) {
        const env = await ready(browser, `${webUrl}?version=GBfeature%2Flogin`);
        writeFileSync(join(env.workspacePath, `from-${who}.txt`), `pushed by ${who}\n`);
        await gitOk(['add', '.'], env.workspacePath);
        await gitOk(['commit', '-m', `Push from ${who}'s workspace`], env.workspacePath);
        const pushed = await git(['push', 'origin', 'HEAD'], env.workspacePath);
        assert.equal(pushed.code, 0, pushed.stderr);
        assert.equal(
          await resolveCommit(repoDir('web'), 'refs/heads/feature/login'),
          await gitOk(['rev-parse', 'HEAD'], env.workspacePath),
        );
      }
    });

    it('after the access token expires, the next fetch works: exactly one refresh however many ask', async () => {
      const env = await ready(plane.memberBrowser, webUrl);
      // Every access token Entra issued is expired, and the runner's records say so too.
      emu.entra.faults.expireAccessTokensNow();
      for (const userId of [plane.member.id, plane.admin.id]) {
        const record = await runner.runtime.credentials.findForIntegration({ type: 'user', id: userId }, integrationId);
        assert.ok(record);
        await expireStoredAccessToken(runner.store.database.db, record.id, 60_000);
      }
      await emu.world.commit(org, 'Web', 'web', { branch: 'main', files: { 'after-expiry.txt': 'new\n' } });
      const refreshesBefore = emu.entra.counters().byGrant.refresh_token ?? 0;
      const results = await Promise.all([
        git(['fetch', 'origin'], env.workspacePath),
        git(['ls-remote', 'origin', 'main'], env.workspacePath),
        git(['ls-remote', 'origin', 'main'], env.workspacePath),
      ]);
      for (const r of results) assert.equal(r.code, 0, r.stderr);
      assert.equal((emu.entra.counters().byGrant.refresh_token ?? 0) - refreshesBefore, 1, 'one refresh');
      assert.equal(await gitOk(['rev-parse', 'origin/main'], env.workspacePath), await resolveCommit(repoDir('web'), 'refs/heads/main'));
    });

    it("one environment's secret cannot fetch another user's token; a deleted environment's secret no longer works", async () => {
      const mine = await ready(plane.memberBrowser, webUrl);
      const theirs = await ready(plane.adminBrowser, apiUrl);
      const socket = runner.runtime.environments.socketPath;
      assert.equal(statSync(socket).mode & 0o777, 0o600);
      const host = new URL(emu.urls.services).host;
      const secret = secretOf(mine.workspacePath);
      const ask = (path: string) => askSocket(socket, secret, `protocol=http\nhost=${host}\npath=${path}\n\n`);

      const own = await ask(`${org}/Web/_git/web`);
      assert.equal(own.status, 200, own.text);
      const memberToken = await runner.runtime.tokens.getAccessToken(plane.member.id, integrationId);
      const adminToken = await runner.runtime.tokens.getAccessToken(plane.admin.id, integrationId);
      assert.equal(credentialField(own.text, 'password'), memberToken.token);
      assert.equal(credentialField(own.text, 'username'), 'oauth2');
      assert.ok(Number(credentialField(own.text, 'password_expiry_utc')) > Date.now() / 1000);

      const crossed = await ask(`${org}/Web/_git/api`);
      assert.equal(crossed.status, 403, crossed.text);
      assert.match(crossed.text, /serves only/);
      assert.ok(!crossed.text.includes(adminToken.token) && !crossed.text.includes(memberToken.token));
      for (const [body, status] of [
        [`protocol=http\nhost=evil.example\npath=${org}/Web/_git/web\n\n`, 403],
        [`protocol=http\nhost=${host}\n\n`, 400],
      ] as const) {
        assert.equal((await askSocket(socket, secret, body)).status, status, body);
      }
      assert.equal((await askSocket(socket, 'x'.repeat(43), `protocol=http\nhost=${host}\npath=${org}/Web/_git/web\n\n`)).status, 401);

      // Delete: the workspace goes, the secret stops working at once.
      const deleted = await plane.memberBrowser.request({ method: 'DELETE', url: `/api/v1/environments/${mine.id}` });
      assert.equal(deleted.statusCode, 204, deleted.body);
      assert.ok(!existsSync(join(mine.workspacePath, '..')), 'workspace removed');
      const after = await ask(`${org}/Web/_git/web`);
      assert.equal(after.status, 401);
      assert.match(after.text, /no longer exists/);
      assert.equal((await plane.memberBrowser.request({ method: 'GET', url: `/api/v1/environments/${mine.id}` })).statusCode, 404);
      // The other environment is untouched.
      assert.equal((await git(['fetch', 'origin'], theirs.workspacePath)).code, 0);
    });

    it("git asks the environment's own socket first; without it, the helper script answers and a bad secret stops git with a clear message", async () => {
      const env = await ready(plane.memberBrowser, webUrl);
      const helpers = (await git(['config', '--get-all', 'credential.helper'], env.workspacePath)).stdout.replace(/\n$/, '').split('\n');
      assert.equal(helpers.length, 3, helpers.join(' | '));
      assert.equal(helpers[0], '', 'helpers from system and global configuration are dropped');
      const socketPath = /exec git credential-cache --socket '([^']+)' "\$1";/.exec(helpers[1] ?? '')?.[1];
      assert.ok(socketPath, `the first helper is git's credential-cache client: ${helpers[1]}`);
      assert.equal(statSync(socketPath).mode & 0o777, 0o600);
      assert.match(helpers[2] ?? '', /exec '.*\/\.keyway\/credential-helper' get;/);
      writeFileSync(join(env.workspacePath, '..', '.keyway', 'secret'), `Authorization: Bearer ${'y'.repeat(43)}\n`);
      // The socket serves the environment without the script's secret: this fetch never runs curl.
      assert.equal((await git(['fetch', 'origin'], env.workspacePath)).code, 0);
      // Nothing was stored: the socket does not keep what git hands back, and no cache daemon took its place.
      assert.equal(statSync(socketPath).isSocket(), true);
      unlinkSync(socketPath);
      const failed = await git(['fetch', 'origin'], env.workspacePath);
      assert.notEqual(failed.code, 0);
      assert.match(failed.stderr, /keyway: this credential helper's environment no longer exists/);
      assert.match(failed.stderr, /told us to quit/);
    });

    it("a clone that fails ends failed with git's reason; its workspace, secret included, is gone; delete cleans up", async () => {
      const fault = emu.faults.add({ listener: 'services', path: `/${org}/Web/_git/api/**`, action: 'status', status: 500 });
      try {
        const res = await create(plane.adminBrowser, apiUrl);
        assert.equal(res.statusCode, 201, res.body);
        const id = res.json().id as string;
        const env = await settledEnvironment(plane.adminBrowser, id, 'the clone to fail');
        assert.equal(env.status, 'failed');
        assert.equal(env.error.code, 'clone_failed');
        // The repository cache's fetch (with the user's credential) is the first to meet the 500.
        assert.match(env.error.message, /^git (clone|fetch) failed: .*500/);
        assert.ok(!existsSync(join(env.workspacePath, '..')), 'the partial clone, the helper and its secret are removed');
        const deleted = await plane.adminBrowser.request({ method: 'DELETE', url: `/api/v1/environments/${id}` });
        assert.equal(deleted.statusCode, 204, deleted.body);
        assert.ok(!existsSync(join(env.workspacePath, '..')));
      } finally {
        emu.faults.remove(fault);
      }
    });

    it('the token is never in .git/config, the remote URL, the process list or the logs', async () => {
      const env = await ready(plane.memberBrowser, webUrl);
      const token = (await runner.runtime.tokens.getAccessToken(plane.member.id, integrationId)).token;
      const secret = secretOf(env.workspacePath);
      const config = readFileSync(join(env.workspacePath, '.git', 'config'), 'utf8');
      assert.ok(!config.includes(token) && !config.includes(secret));
      assert.match(config, /helper = "!f\(\) .* exec '.*\/\.keyway\/credential-helper' get; }; f"/);
      assert.match(config, /usehttppath = true/i);
      const remote = await gitOk(['remote', 'get-url', 'origin'], env.workspacePath);
      assert.equal(remote, `${emu.urls.services}/${org}/Web/_git/web`);

      // Slow the git endpoint down so the fetch (and its helper) are alive while ps looks.
      const fault = emu.faults.add({ listener: 'services', path: `/${org}/Web/_git/web/**`, latencyMs: 400 });
      try {
        const fetching = git(['fetch', 'origin'], env.workspacePath);
        let sawGit = false;
        const until = Date.now() + 5_000;
        while (Date.now() < until) {
          const ps = await run('ps', ['-eww', '-o', 'args='], { env: process.env });
          assert.ok(!ps.stdout.includes(token), 'token in the process list');
          assert.ok(!ps.stdout.includes(secret), 'helper secret in the process list');
          if (/git(-remote-http| fetch)/.test(ps.stdout)) sawGit = true;
          if (sawGit) break;
        }
        assert.ok(sawGit, 'ps saw the fetch');
        assert.equal((await fetching).code, 0);
      } finally {
        emu.faults.remove(fault);
      }
      for (const text of [plane.logs.text, runner.logs.text]) {
        assert.ok(!text.includes(token), 'token in a log');
        assert.ok(!text.includes(secret), 'helper secret in a log');
      }
      const rows = JSON.stringify(await plane.database.db.selectFrom('environments').selectAll().execute());
      assert.ok(!rows.includes(token) && !rows.includes(secret));
    });

    it("`keyway git-credential` speaks the same protocol, in process and as git's helper", async () => {
      const env = await ready(plane.memberBrowser, webUrl);
      const secretFile = join(env.workspacePath, '..', '.keyway', 'secret');
      const socket = runner.runtime.environments.socketPath;
      const host = new URL(emu.urls.services).host;
      const stdout: string[] = [];
      const stderr: string[] = [];
      const stdin = new PassThrough();
      stdin.end(`protocol=http\nhost=${host}\npath=${org}/Web/_git/web\n\n`);
      const code = await runGitCredential(
        'get',
        { secretFile, socket },
        { stdin, stdout: { write: (t: string) => stdout.push(t) }, stderr: { write: (t: string) => stderr.push(t) }, env: {} },
      );
      assert.equal(code, 0);
      assert.equal(
        credentialField(stdout.join(''), 'password'),
        (await runner.runtime.tokens.getAccessToken(plane.member.id, integrationId)).token,
      );
      assert.deepEqual(stderr, []);

      // As git's helper in a plain clone outside the workspace layout.
      const elsewhere = mkdtempSync(join(tmpdir(), 'keyway-env-plain-'));
      const helper = `!'${process.execPath}' '${KEYWAY_BIN}' git-credential --secret-file '${secretFile}' --socket '${socket}'`;
      const cloned = await run(
        'git',
        [
          '-c',
          `credential.helper=${helper}`,
          '-c',
          'credential.useHttpPath=true',
          'clone',
          '--quiet',
          `${emu.urls.services}/${org}/Web/_git/web`,
          join(elsewhere, 'web'),
        ],
        {
          env: { ...GIT_ENV, KEYWAY_FROM_SOURCE: '1' },
        },
      );
      assert.equal(cloned.code, 0, cloned.stderr);
    });

    it("reports the helper script's own latency against a bare curl to the socket", async (t) => {
      const env = await ready(plane.memberBrowser, webUrl);
      const helperPath = join(env.workspacePath, '..', '.keyway', 'credential-helper');
      const secretFile = join(env.workspacePath, '..', '.keyway', 'secret');
      const socket = runner.runtime.environments.socketPath;
      const input = `protocol=http\nhost=${new URL(emu.urls.services).host}\npath=${org}/Web/_git/web\n\n`;
      const n = 40;
      const answers = new Map<string, string>();
      const measure = async (command: string, args: string[]) => {
        const samples: number[] = [];
        for (let i = 0; i < n + 3; i++) {
          const r = await run(command, args, { input, env: process.env });
          assert.equal(r.code, 0, r.stderr);
          answers.set(command, r.stdout);
          if (i >= 3) samples.push(r.ms);
        }
        return stats(samples);
      };
      const script = await measure(helperPath, ['get']);
      const helperAnswer = answers.get(helperPath) ?? '';
      const curl = await measure('curl', [
        '--silent',
        '--unix-socket',
        socket,
        '-H',
        `@${secretFile}`,
        '--data-binary',
        '@-',
        `http://keyway${CREDENTIAL_PATH}`,
      ]);
      const bareAnswer = answers.get('curl') ?? '';
      const health = await measure('curl', ['--silent', '--unix-socket', socket, 'http://keyway/v1/healthz']);
      const node = await measure(process.execPath, ['-e', '0']);
      const line = (name: string, s: ReturnType<typeof stats>) =>
        `${name}: median ${s.median.toFixed(1)} ms, p90 ${s.p90.toFixed(1)} ms, mean ${s.mean.toFixed(1)} ms`;
      const report = [
        `credential helper latency, ${n} sequential calls each:`,
        line('helper script (sh + curl + token lookup)', script),
        line('bare curl, same request', curl),
        line('bare curl, /v1/healthz', health),
        line('node -e 0 (what a Node helper would cost before any work)', node),
      ].join('\n  ');
      for (const l of report.split('\n')) t.diagnostic(l);
      // The figures are a report; the bound on them (helper ≤ 2× bare curl) is bench/02-git-helper.ts's.
      // Here: the script hands git what the socket hands curl.
      assert.ok(credentialField(helperAnswer, 'password'), 'the helper answers with a credential');
      assert.equal(credentialField(helperAnswer, 'password'), credentialField(bareAnswer, 'password'));
      assert.equal(credentialField(helperAnswer, 'username'), credentialField(bareAnswer, 'username'));
    });

    it("clone options: an integration's defaults (admins), a request's own; the runner's repository cache shown on its page and in /metrics", async () => {
      const defaultsUrl = `/api/v1/runners/${runnerId}/scm-integrations/${integrationId}/environment-defaults`;
      assert.deepEqual((await plane.memberBrowser.request({ method: 'GET', url: defaultsUrl })).json(), { filter: null, depth: null });
      assert.equal(
        (await plane.memberBrowser.request({ method: 'PUT', url: defaultsUrl, payload: { filter: 'blob:none' } })).statusCode,
        403,
        'admins only',
      );
      const refused = await plane.adminBrowser.request({ method: 'PUT', url: defaultsUrl, payload: { filter: 'blob:limit=1k' } });
      assert.equal(refused.statusCode, 400, refused.body);
      assert.equal((await plane.adminBrowser.request({ method: 'PUT', url: defaultsUrl, payload: { depth: -3 } })).statusCode, 400);
      // 0 reads as null (ajv's coercion): all history.
      assert.deepEqual((await plane.adminBrowser.request({ method: 'PUT', url: defaultsUrl, payload: { depth: 0 } })).json(), {
        filter: null,
        depth: null,
      });
      const set = await plane.adminBrowser.request({ method: 'PUT', url: defaultsUrl, payload: { filter: 'blob:none' } });
      assert.deepEqual(set.json(), { filter: 'blob:none', depth: null });
      try {
        // The integration's default: blobless.
        const blobless = await ready(plane.memberBrowser, apiUrl);
        assert.deepEqual((blobless as unknown as { clone: unknown }).clone, { filter: 'blob:none', depth: null });
        assert.equal(await gitOk(['config', 'remote.origin.partialclonefilter'], blobless.workspacePath), 'blob:none');
        // A request's own options win: shallow, every object.
        const shallow = await ready(plane.memberBrowser, apiUrl, { clone: { filter: null, depth: 1 } });
        assert.deepEqual((shallow as unknown as { clone: unknown }).clone, { filter: null, depth: 1 });
        assert.equal(await gitOk(['rev-parse', '--is-shallow-repository'], shallow.workspacePath), 'true');
        assert.equal((await git(['config', 'remote.origin.partialclonefilter'], shallow.workspacePath)).code, 1, 'not partial');
        const bad = await create(plane.memberBrowser, apiUrl, { clone: { filter: 'tree:0' } });
        assert.equal(bad.statusCode, 400, bad.body);
        const events = (
          await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?action=scm_integration.environment_defaults' })
        ).json().events as { details: { after: unknown } }[];
        assert.deepEqual(events[0]?.details.after, { filter: 'blob:none', depth: null });
      } finally {
        await plane.adminBrowser.request({ method: 'PUT', url: defaultsUrl, payload: { filter: null, depth: null } });
      }

      // The runner reported its cache after the environments above: totals, no repository names.
      await runner.runtime.environments.checkCache();
      const cache = await eventually(async () => {
        const got = (await plane.memberBrowser.request({ method: 'GET', url: `/api/v1/runners/${runnerId}/repository-cache` })).json();
        return got.repositories > 0 ? got : undefined;
      }, 'the cache report');
      assert.ok(cache.bytes > 0 && cache.limitBytes === 10240 * 1024 * 1024 && cache.replicas === 1, JSON.stringify(cache));
      assert.deepEqual(Object.keys(cache).sort(), ['bytes', 'limitBytes', 'replicas', 'repositories', 'updatedAt']);
      const metrics = await (await fetch(`${plane.url}/metrics`)).text();
      assert.match(metrics, /^keyway_runner_repository_cache_bytes [1-9]\d*$/m);
      assert.match(metrics, /^keyway_runner_repository_cache_limit_bytes 10737418240$/m);
      assert.match(metrics, /^keyway_runner_repository_cache_workspaces_total\{source="cache"\} [1-9]/m);
    });
  });
}
