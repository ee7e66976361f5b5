// Containment of environments (issue 15), end to end: management plane, runner, emulator and real
// git. Each attack of the issue, refused: a PAT in any part of a context URL, a Server host that
// redirects git to a refused address, a name that resolves differently the second time, a stalled
// host, a flood of environments; and idle environments removed, disk use reported. Ends with the
// secret-canary scan of logs, responses and the management database. (The sync attacks are in
// src/management/syncs/syncs.test.ts and in the authorization matrix.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { Browser } from '../support/management.ts';
import { eventually, startTestPlane, startTestRunner } from '../support/plane.ts';
import type { TestPlane, TestRunner } from '../support/plane.ts';
import { dumpManagementTables } from '../support/automation.ts';
import { startGitHostFront, startTrap } from '../support/git-host-front.ts';
import type { GitHostFront } from '../support/git-host-front.ts';
import { startEmulator } from '../../emulator/index.ts';
import type { EmulatorHandle } from '../../emulator/index.ts';
import { systemLookup } from '../../src/azure-devops/guarded-fetch.ts';
import { CREDENTIAL_PATH } from '../../src/runner/environments/credential-server.ts';
import { CanaryScan } from './support/canary.ts';
import { preferredKind } from './support/world.ts';
import { runCollecting } from '../support/process.ts';

const HOME = mkdtempSync(join(tmpdir(), 'keyway-containment-home-'));
const GIT_ENV = { ...process.env, HOME, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: devNull, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
const STALL_MS = 2500;

const run = (command: string, args: string[], cwd: string) => runCollecting(command, args, '', { cwd, env: GIT_ENV });

function askSocket(socketPath: string, secret: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: CREDENTIAL_PATH, method: 'POST', headers: { authorization: `Bearer ${secret}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A PAT-shaped value (legacy format), made at run time. */
const canaryPat = () => Array.from({ length: 52 }, () => 'abcdefghijklmnopqrstuvwxyz234567'[randomInt(32)]).join('');

/** A resolver whose answers the test scripts per name: each call takes the next answer, the last one repeats. */
function scriptedResolver() {
  const scripts = new Map<string, string[][]>();
  const calls = new Map<string, number>();
  return {
    script(name: string, ...answers: string[][]) {
      scripts.set(name, answers);
      calls.set(name, 0);
    },
    calls: (name: string) => calls.get(name) ?? 0,
    lookup: async (hostname: string) => {
      const answers = scripts.get(hostname);
      if (!answers) return systemLookup(hostname);
      const n = calls.get(hostname) ?? 0;
      calls.set(hostname, n + 1);
      return (answers[Math.min(n, answers.length - 1)] ?? []).map((address) => ({ address }));
    },
  };
}

interface Env {
  id: string;
  status: string;
  contextUrl: string;
  workspacePath: string;
  error: { code: string; message: string } | null;
  diskBytes: number | null;
  lastUsedAt: string | null;
}

for (const kind of [await preferredKind()]) {
  describe(`containment of environments (${kind})`, () => {
    let emu: EmulatorHandle;
    let plane: TestPlane;
    let runner: TestRunner;
    let runnerId: string;
    let servicesIntegration: string;
    let redirectFront: GitHostFront;
    let stallFront: GitHostFront;
    let legit: GitHostFront;
    let redirectTrap: Awaited<ReturnType<typeof startTrap>>;
    const rebindTraps: Awaited<ReturnType<typeof startTrap>>[] = [];
    const serverIntegrations: Record<string, string> = {};
    const dns = scriptedResolver();
    const canaries = new CanaryScan();
    const org = 'fabrikam';
    let webUrl: string;
    const legacyPath = '/tfs/DefaultCollection/Legacy/_git/legacy';

    before(async () => {
      emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
      const w = emu.world;
      w.addOrganization(org);
      w.addProject(org, 'Web');
      w.addOrganization('DefaultCollection', { server: true });
      w.addProject('DefaultCollection', 'Legacy');
      const memberAdo = w.addUser({ upn: `member@${emu.defaultTenant.domain}`, displayName: 'Member' });
      const adminAdo = w.addUser({ upn: `admin@${emu.defaultTenant.domain}`, displayName: 'Admin' });
      for (const o of [org, 'DefaultCollection']) for (const u of [memberAdo, adminAdo]) w.addMember(o, u.id);
      await w.createRepository(org, 'Web', 'web', { commits: 5, createdBy: memberAdo.id });
      await w.createRepository('DefaultCollection', 'Legacy', 'legacy', { commits: 5, createdBy: memberAdo.id });
      webUrl = `${emu.urls.services}/${org}/Web/_git/web`;

      const serverOrigin = new URL(emu.urls.server).origin;
      redirectTrap = await startTrap('127.0.0.1');
      // Redirects git to 0.0.0.0, which the host policy always refuses (on Linux it reaches this host).
      redirectFront = await startGitHostFront(serverOrigin, () => ({
        kind: 'redirect',
        to: (path) => `http://0.0.0.0:${redirectTrap.port}${path}`,
      }));
      stallFront = await startGitHostFront(serverOrigin, () => ({ kind: 'stall' }));
      // The rebinding name: the runner's resolver answers 127.0.0.2 (the real server) first; the
      // system (what git would ask by itself) answers loopback, where a trap listens on the same port.
      for (let attempt = 0; ; attempt++) {
        legit = await startGitHostFront(serverOrigin, () => ({ kind: 'pass' }), { address: '127.0.0.2' });
        try {
          rebindTraps.push(await startTrap('127.0.0.1', legit.port));
          rebindTraps.push(await startTrap('::1', legit.port).catch(() => undefined as never));
          break;
        } catch (err) {
          for (const t of rebindTraps.splice(0)) await t?.close();
          await legit.close();
          if (attempt > 10) throw err;
        }
      }
      dns.script('localhost', ['127.0.0.2']);

      plane = await startTestPlane(kind, {
        entraAuthorityUrl: emu.urls.login,
        azureDevOpsServicesUrl: emu.urls.services,
        environmentLimits: { environmentsPerUser: 4, clonesPerUser: 2 },
      });
      const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'containment' } });
      runnerId = created.json().runner.id;
      runner = await startTestRunner(plane.url, created.json().exchangeToken, {
        endpoints: { services: emu.urls.services, vssps: emu.urls.vssps, serverHostLookup: dns.lookup },
        extra: {
          environmentOptions: {
            progressIntervalMs: 0,
            stallTimeoutMs: STALL_MS,
            maxEnvironments: 6,
            maxClones: 3,
            idleTimeoutMs: 3_600_000,
            maintenanceIntervalMs: 3_600_000,
          },
        },
      });
      const services = await plane.adminBrowser.request({
        method: 'POST',
        url: `/api/v1/runners/${runnerId}/scm-integrations`,
        payload: { scmId: 'azure-devops', host: 'dev.azure.com', pat: { enabled: true } },
      });
      assert.equal(services.statusCode, 201, services.body);
      servicesIntegration = services.json().integration.id;
      for (const [name, host] of [
        ['redirect', `${redirectFront.origin}/tfs`],
        ['stall', `${stallFront.origin}/tfs`],
        ['rebind', `http://localhost:${legit.port}/tfs`],
      ] as const) {
        const res = await plane.adminBrowser.request({
          method: 'POST',
          url: `/api/v1/runners/${runnerId}/scm-integrations`,
          payload: { scmId: 'azure-devops', host, pat: { enabled: true } },
        });
        assert.equal(res.statusCode, 201, res.body);
        serverIntegrations[name] = res.json().integration.id;
      }
      canaries.source('logs', 'management plane log', () => plane.logs.text);
      canaries.source('logs', 'runner log', () => runner.logs.text);
      canaries.database('management database', plane.database.db as never, plane.database.schema);
      for (const [browser, user] of [
        [plane.memberBrowser, memberAdo],
        [plane.adminBrowser, adminAdo],
      ] as const) {
        const pats = {
          services: w.createPat(user.id, { scopes: ['vso.code_write'], orgs: [org] }).token,
          server: w.createPat(user.id, { scopes: ['vso.code_write'], orgs: ['DefaultCollection'] }).token,
        };
        canaries.watch(pats.services, 'Azure DevOps PAT');
        canaries.watch(pats.server, 'Azure DevOps Server PAT');
        const stored = await browser.request({
          method: 'POST',
          url: '/api/v1/scm/pat',
          payload: { integrationId: servicesIntegration, organization: org, token: pats.services },
        });
        assert.equal(stored.statusCode, 201, stored.body);
        for (const integrationId of Object.values(serverIntegrations)) {
          const res = await browser.request({
            method: 'POST',
            url: '/api/v1/scm/pat',
            payload: { integrationId, organization: 'DefaultCollection', token: pats.server },
          });
          assert.equal(res.statusCode, 201, res.body);
        }
      }
    });

    after(async () => {
      await runner?.stop();
      await plane?.close();
      for (const s of [redirectFront, stallFront, legit, redirectTrap, ...rebindTraps]) await s?.close();
      await emu?.close();
    });

    const seen = (what: string, res: LightMyRequestResponse) => {
      canaries.response(what, res);
      return res;
    };
    const create = async (browser: Browser, contextUrl: string) =>
      seen(
        'POST /api/v1/environments',
        await browser.request({ method: 'POST', url: '/api/v1/environments', payload: { contextUrl, runnerId } }),
      );
    const get = async (browser: Browser, id: string) =>
      seen('GET /api/v1/environments/{id}', await browser.request({ method: 'GET', url: `/api/v1/environments/${id}` })).json() as Env;
    const settled = (browser: Browser, id: string, timeoutMs = 30_000) =>
      eventually(
        async () => {
          const env = await get(browser, id);
          return env.status === 'cloning' ? undefined : env;
        },
        `environment ${id} to settle`,
        timeoutMs,
      );
    async function removeAll(browser: Browser) {
      const list = (await browser.request({ method: 'GET', url: '/api/v1/environments' })).json().environments as Env[];
      for (const env of list)
        assert.equal((await browser.request({ method: 'DELETE', url: `/api/v1/environments/${env.id}` })).statusCode, 204);
    }
    /** One more environment of the admin's is admitted and gets ready; then every environment is removed. */
    async function admitsOneMoreThenRemoveAll(label: string) {
      const res = await create(plane.adminBrowser, webUrl);
      assert.equal(res.statusCode, 201, `${label}: ${res.body}`);
      await settled(plane.adminBrowser, res.json().id);
      await removeAll(plane.memberBrowser);
      await removeAll(plane.adminBrowser);
    }
    const gitProcessesFor = async (port: number) =>
      (await run('ps', ['-eo', 'args'], HOME)).stdout.split('\n').filter((l) => l.includes(`:${port}`) && /git/.test(l));

    it('a PAT in the query, the fragment, the path or the user info of a context URL is never stored, logged or returned', async () => {
      // Starting with a letter, the PAT reads as a page name after the repository (ignored); with a digit it is refused.
      const pat = `k${canaryPat().slice(1)}`;
      canaries.watch(pat, 'PAT in a context URL');
      canaries.watch(`2${pat.slice(1)}`, 'PAT in a context URL path');
      const kept = [
        `${webUrl}?version=GBmain&token=${pat}`,
        `${webUrl}?version=GBmain&utm_source=mail&access_token=${pat}#L1`,
        `${webUrl}#${pat}`,
        `${webUrl}/${pat}`,
        `${webUrl}?path=%2F${pat}`,
      ];
      for (const contextUrl of kept) {
        const res = await create(plane.memberBrowser, contextUrl);
        assert.equal(res.statusCode, 201, res.body);
        assert.ok(!res.body.includes(pat), `the answer to ${contextUrl.replace(pat, '<PAT>')} carries the PAT`);
        const env = res.json() as Env;
        assert.match(
          env.contextUrl,
          new RegExp(`^${webUrl.replace(/[.?]/g, '\\$&')}(\\?version=GBmain)?$`),
          'only the canonical URL is kept',
        );
        assert.equal((await settled(plane.memberBrowser, env.id)).status, 'ready');
        await removeAll(plane.memberBrowser);
      }
      for (const contextUrl of [`${webUrl.replace('http://', `http://${pat}@`)}`, `${webUrl.replace('http://', `http://user:${pat}@`)}`]) {
        const res = await create(plane.memberBrowser, contextUrl);
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().error.code, 'invalid_context_url');
        assert.match(res.json().error.message, /remove the credentials from the URL/);
        assert.ok(!res.body.includes(pat));
      }
      const digitFirst = `2${pat.slice(1)}`;
      const deeper = await create(plane.memberBrowser, `${webUrl}/${digitFirst}`);
      assert.equal(deeper.statusCode, 400, deeper.body);
      assert.match(deeper.json().error.message, /unexpected "\/\[redacted\]" after the repository name/);
      assert.ok(!deeper.body.includes(digitFirst));
      const list = await plane.memberBrowser.request({ method: 'GET', url: '/api/v1/environments' });
      assert.ok(!list.body.includes(pat));
      const audit = await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/audit-events?limit=500' });
      assert.ok(!audit.body.includes(pat), 'audit log');
      assert.ok(!(await dumpManagementTables(plane)).includes(pat), 'management database');
      assert.ok(!plane.logs.text.includes(pat), 'management log');
      assert.ok(!runner.logs.text.includes(pat), 'runner log');
      for (const where of [audit.body, list.body, plane.logs.text, runner.logs.text]) assert.ok(!where.includes(digitFirst));
      await removeAll(plane.memberBrowser);
    });

    it("git does not follow a Server host's redirect to a refused address: the environment fails with the reason and nothing reaches the address", async () => {
      // The attack is real: git on its own follows the redirect to 0.0.0.0.
      const plain = await run('git', ['ls-remote', `${redirectFront.origin}${legacyPath}`], HOME);
      assert.notEqual(plain.code, 0);
      assert.ok(redirectTrap.hits.length > 0, 'plain git followed the redirect');
      redirectTrap.hits.length = 0;

      const res = await create(plane.memberBrowser, `${redirectFront.origin}${legacyPath}`);
      assert.equal(res.statusCode, 201, res.body);
      const env = await settled(plane.memberBrowser, res.json().id);
      assert.equal(env.status, 'failed');
      assert.equal(env.error?.code, 'redirect_refused');
      assert.match(env.error?.message ?? '', /answered git with a redirect \(HTTP 302\), which Keyway does not follow/);
      assert.ok(redirectFront.gitRequests().length > 0, 'git asked the host');
      assert.deepEqual(redirectTrap.hits, [], 'nothing reached the redirect target');
      assert.ok(!existsSync(join(env.workspacePath, '..')), 'the workspace is removed');
      await removeAll(plane.memberBrowser);
    });

    it('git connects only to the address the runner vetted: a name that resolves differently the second time never reaches git', async () => {
      const url = `http://localhost:${legit.port}${legacyPath}`;
      const [trap] = rebindTraps;
      // What the system resolver says is where git would go by itself.
      await run('git', ['ls-remote', url], HOME);
      assert.ok(
        rebindTraps.some((t) => t && t.hits.length > 0),
        'plain git resolves the name itself and reaches the trap',
      );
      for (const t of rebindTraps) if (t) t.hits.length = 0;

      dns.script('localhost', ['127.0.0.2'], ['127.0.0.1']);
      const res = await create(plane.memberBrowser, url);
      assert.equal(res.statusCode, 201, res.body);
      const env = await settled(plane.memberBrowser, res.json().id);
      assert.equal(env.status, 'ready', JSON.stringify(env.error));
      assert.equal(dns.calls('localhost'), 1, 'the name is resolved once for the whole creation (REST and git)');
      assert.ok(
        legit.gitRequests().some((r) => r.includes('git-upload-pack')),
        'the clone came from the vetted address',
      );
      assert.ok(trap, 'a trap listens on the rebound address');
      assert.deepEqual(
        rebindTraps.flatMap((t) => t?.hits ?? []),
        [],
        'nothing reached the rebound address',
      );

      // The user's own git in the workspace keeps to the vetted address and follows no redirect.
      const network = readFileSync(join(env.workspacePath, '..', '.keyway', 'network.gitconfig'), 'utf8');
      assert.match(network, new RegExp(`curloptResolve = localhost:${legit.port}:127\\.0\\.0\\.2`));
      assert.match(network, /followRedirects = false/);
      const fetched = await run('git', ['fetch', 'origin'], env.workspacePath);
      assert.equal(fetched.code, 0, fetched.stderr);
      assert.deepEqual(
        rebindTraps.flatMap((t) => t?.hits ?? []),
        [],
      );

      // Checked again later, a name that now resolves to a refused address keeps the vetted one.
      dns.script('localhost', ['169.254.169.254']);
      await runner.runtime.environments.maintain();
      assert.equal(readFileSync(join(env.workspacePath, '..', '.keyway', 'network.gitconfig'), 'utf8'), network);
      assert.match(runner.logs.text, /no longer passes the host policy; the workspace keeps the addresses checked before/);

      // A name that resolves to a refused address at creation is refused before anything is written.
      dns.script('localhost', ['127.0.0.2', '0.0.0.0']);
      const refused = await create(plane.memberBrowser, url);
      assert.equal(refused.statusCode, 422, refused.body);
      assert.equal(refused.json().error.code, 'host_refused');
      assert.match(refused.json().error.message, /localhost resolves to 0\.0\.0\.0: 0\.0\.0\.0 is not a usable host address/);
      const listed = (await plane.memberBrowser.request({ method: 'GET', url: '/api/v1/environments' })).json().environments as Env[];
      assert.deepEqual(
        listed.map((e) => e.id),
        [env.id],
        'the refused environment left no row',
      );
      dns.script('localhost', ['127.0.0.2']);
      await removeAll(plane.memberBrowser);
    });

    it('a flood of environments: per-user and per-runner limits refuse with the limit and how to free it; nothing passes them', async () => {
      const flood = await Promise.all(Array.from({ length: 30 }, () => create(plane.memberBrowser, webUrl)));
      const admitted = flood.filter((r) => r.statusCode === 201).map((r) => r.json().id as string);
      const refused = flood.filter((r) => r.statusCode !== 201);
      assert.ok(admitted.length >= 1 && admitted.length <= 4, `admitted ${admitted.length}`);
      for (const r of refused) {
        assert.equal(r.statusCode, 429, r.body);
        const { code, message } = r.json().error;
        assert.ok(code === 'clone_limit' || code === 'environment_limit', code);
        assert.match(
          message,
          code === 'clone_limit'
            ? /KEYWAY_CLONES_PER_USER=2\): wait until one is ready \(or delete one\)/
            : /KEYWAY_ENVIRONMENTS_PER_USER=4\): delete environments you no longer need/,
        );
      }
      for (const id of admitted) assert.equal((await settled(plane.memberBrowser, id)).status, 'ready');
      const onRunner = await runner.store.database.db.selectFrom('environments').select('id').execute();
      assert.deepEqual(onRunner.map((r) => r.id).sort(), [...admitted].sort(), 'the runner cloned exactly the admitted ones');

      // Up to the per-user limit, then refused until one is deleted.
      while (admitted.length < 4) {
        const res = await create(plane.memberBrowser, webUrl);
        assert.equal(res.statusCode, 201, res.body);
        admitted.push(res.json().id);
        await settled(plane.memberBrowser, res.json().id);
      }
      const fifth = await create(plane.memberBrowser, webUrl);
      assert.equal(fifth.statusCode, 429);
      assert.equal(fifth.json().error.code, 'environment_limit');
      assert.match(fifth.json().error.message, /you have 4 environments/);

      // The runner's own limit (6): the admin's third environment is one too many for it.
      for (let i = 0; i < 2; i++) {
        const res = await create(plane.adminBrowser, webUrl);
        assert.equal(res.statusCode, 201, res.body);
        await settled(plane.adminBrowser, res.json().id);
      }
      const full = await create(plane.adminBrowser, webUrl);
      assert.equal(full.statusCode, 429, full.body);
      assert.equal(full.json().error.code, 'runner_environment_limit');
      assert.match(
        full.json().error.message,
        /this runner holds 6 environments \(limit 6, KEYWAY_RUNNER_MAX_ENVIRONMENTS\): delete environments that are no longer needed, or pick another runner/,
      );

      // Deleting frees the place.
      assert.equal((await plane.memberBrowser.request({ method: 'DELETE', url: `/api/v1/environments/${admitted[0]}` })).statusCode, 204);
      await admitsOneMoreThenRemoveAll('again');
    });

    it('a stalled host: git is stopped with everything it started, the environment fails with the reason, the workspace goes; concurrent clones are limited per user and per runner', async () => {
      const url = `${stallFront.origin}${legacyPath}`;
      const first = await create(plane.memberBrowser, url);
      assert.equal(first.statusCode, 201, first.body);
      const second = await create(plane.memberBrowser, url);
      assert.equal(second.statusCode, 201, second.body);
      await stallFront.stalled();
      const stalledEnv = first.json() as Env;
      const secret = readFileSync(join(stalledEnv.workspacePath, '..', '.keyway', 'secret'), 'utf8')
        .trim()
        .replace(/^Authorization: Bearer /, '');
      assert.ok((await gitProcessesFor(stallFront.port)).length > 0, 'git is running against the stalled host');

      // Two clones are the member's limit; the runner's is three.
      const third = await create(plane.memberBrowser, url);
      assert.equal(third.statusCode, 429, third.body);
      assert.equal(third.json().error.code, 'clone_limit');
      assert.equal(third.headers['retry-after'], '30');
      const adminOne = await create(plane.adminBrowser, url);
      assert.equal(adminOne.statusCode, 201, adminOne.body);
      const adminTwo = await create(plane.adminBrowser, webUrl);
      assert.equal(adminTwo.statusCode, 429, adminTwo.body);
      assert.equal(adminTwo.json().error.code, 'runner_clone_limit');
      assert.match(
        adminTwo.json().error.message,
        /limit 3, KEYWAY_RUNNER_MAX_CLONES\): wait until one finishes and try again, or pick another runner/,
      );

      const env = await settled(plane.memberBrowser, stalledEnv.id, STALL_MS * 8);
      assert.equal(env.status, 'failed');
      assert.equal(env.error?.code, 'clone_stalled');
      // git clone, or the repository cache's fetch when the cache is on (the default): the same guard.
      assert.match(
        env.error?.message ?? '',
        new RegExp(
          `git (clone|fetch) received nothing from 127\\.0\\.0\\.1:${stallFront.port} for 2\\.5 s \\(KEYWAY_GIT_STALL_TIMEOUT_SECONDS\\), so it was stopped and the workspace removed`,
        ),
      );
      for (const [browser, id] of [
        [plane.memberBrowser, second.json().id],
        [plane.adminBrowser, adminOne.json().id],
      ] as const)
        assert.equal((await settled(browser, id, STALL_MS * 8)).status, 'failed');
      assert.ok(!existsSync(join(stalledEnv.workspacePath, '..')), 'the workspace is removed');
      assert.deepEqual(await gitProcessesFor(stallFront.port), [], 'no git, remote helper or credential helper is left running');
      const host = new URL(stallFront.origin).host;
      assert.equal(
        await askSocket(
          runner.runtime.environments.socketPath,
          secret,
          `protocol=http\nhost=${host}\npath=tfs/DefaultCollection/Legacy/_git/legacy\n\n`,
        ),
        401,
        "the failed environment's secret serves nothing",
      );
      // Failed environments hold no clone slot and no place.
      await admitsOneMoreThenRemoveAll('after');
    });

    it('idle environments are removed by the runner with the reason; used ones stay and report disk use and last use', async () => {
      const idle = (await create(plane.memberBrowser, webUrl)).json() as Env;
      const used = (await create(plane.memberBrowser, webUrl)).json() as Env;
      for (const e of [idle, used]) assert.equal((await settled(plane.memberBrowser, e.id)).status, 'ready');
      const fetched = await run('git', ['fetch', 'origin'], used.workspacePath);
      assert.equal(fetched.code, 0, fetched.stderr);
      const db = runner.store.database.db;
      await eventually(
        async () => (await db.selectFrom('environments').select('last_used_at').where('id', '=', used.id).executeTakeFirst())?.last_used_at,
        'the use to be recorded',
      );
      const longAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
      await db.updateTable('environments').set({ created_at: longAgo, last_used_at: null }).where('id', '=', idle.id).execute();

      await runner.runtime.environments.maintain();
      const removed = await eventually(async () => {
        const got = await get(plane.memberBrowser, idle.id);
        return got.status === 'failed' ? got : undefined;
      }, 'the idle environment to be reported removed');
      assert.equal(removed.error?.code, 'idle_removed');
      assert.match(
        removed.error?.message ?? '',
        /its git had not been used for 1 hours \(KEYWAY_ENVIRONMENT_IDLE_HOURS; last use .*\)\. Create it again when you need it\./,
      );
      assert.ok(!existsSync(join(idle.workspacePath, '..')));
      assert.equal(await db.selectFrom('environments').select('id').where('id', '=', idle.id).executeTakeFirst(), undefined);

      const kept = await eventually(async () => {
        const got = await get(plane.memberBrowser, used.id);
        return got.lastUsedAt ? got : undefined;
      }, 'the usage report');
      assert.equal(kept.status, 'ready');
      assert.ok((kept.diskBytes ?? 0) > 10_000, `disk use ${kept.diskBytes}`);
      assert.ok(Date.now() - Date.parse(kept.lastUsedAt!) < 60_000);
      assert.ok(existsSync(kept.workspacePath));
      await removeAll(plane.memberBrowser);
    });

    it('no secret canary in logs, responses or the management database', async () => {
      const { scanned, canaries: count } = await canaries.assertClean();
      console.log(`# canaries: ${count} secrets, scanned ${JSON.stringify(scanned)} characters, 0 hits`);
    });
  });
}
