// The repository cache (issue 20) with real git, the emulator and the runner store (SQLite and
// PostgreSQL): workspaces made from the cache are complete and independent, with the user's own
// refs; a user without access gets nothing from a warm cache; a cache deleted or corrupted
// mid-creation ends in a full clone; two replicas refresh a cold cache once; eviction under the
// size limit leaves existing workspaces intact; blobless and shallow environments.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, truncateSync } from 'node:fs';
import { devNull, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { register } from 'prom-client';
import { startSeeded } from '../../../emulator/test-support.ts';
import type { SeededWorld } from '../../../emulator/test-support.ts';
import { resolveEndpoints } from '../../azure-devops/endpoints.ts';
import { createLogger } from '../../logging/logger.ts';
import type { EnvironmentCloneOptions, EnvironmentProgressReport } from '../../control/environments.ts';
import { databaseKinds, POSTGRES_URL } from '../../../test/support/databases.ts';
import { openRunnerPieces, randomEncryptionKeys, servicesIntegration } from '../../../bench/support/runner-fixture.ts';
import { servicesRepository } from '../../../test/support/control-payloads.ts';
import type { RunnerFixtureConfig, RunnerPieces } from '../../../bench/support/runner-fixture.ts';
import { startEnvironments } from './service.ts';
import type { EnvironmentServiceOptions, Environments } from './service.ts';
import { cacheKey } from './repository-cache.ts';
import { HandlerError } from '../agent.ts';
import { runCollecting } from '../../../test/support/process.ts';

const GIT_ENV = {
  PATH: process.env.PATH,
  HOME: tmpdir(),
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: devNull,
  GIT_TERMINAL_PROMPT: '0',
  LC_ALL: 'C',
};

async function git(args: string[], cwd: string): Promise<string> {
  const { code, stdout, stderr } = await runCollecting('git', args, '', { cwd, env: GIT_ENV });
  if (code !== 0) throw new Error(`git ${args.join(' ')} (${code}): ${stderr}`);
  return stdout;
}

/** The workspace stands on its own: every object present, no alternates, no hint refs left, clean tree. */
async function assertComplete(worktree: string): Promise<void> {
  await git(['fsck', '--full', '--no-dangling'], worktree);
  assert.ok(!existsSync(join(worktree, '.git', 'objects', 'info', 'alternates')), 'no alternates: the workspace borrows nothing');
  assert.equal(await git(['for-each-ref', 'refs/keyway-cache/'], worktree), '', 'the cache hints are gone');
  assert.equal(await git(['status', '--porcelain'], worktree), '');
}

const ids = () => `env_${randomBytes(8).toString('hex')}`;

for (const { kind, skip } of await databaseKinds()) {
  describe(`repository cache (${kind})`, { skip }, () => {
    let s: SeededWorld;
    let dir: string;
    let config: RunnerFixtureConfig;
    let pieces: RunnerPieces;
    const opened: Array<{ environments: Environments; pieces: RunnerPieces }> = [];
    const reports = new Map<string, EnvironmentProgressReport[]>();
    let bobPat: string;
    let bobId: string;
    const integration = servicesIntegration('int_cache');

    before(async () => {
      s = await startSeeded();
      dir = mkdtempSync(join(tmpdir(), 'keyway-cache-test-'));
      const w = s.emu.world;
      // A repository whose pack is large enough that a clone and a ref advertisement differ by far.
      await w.createRepository(s.org, s.project, 'big', {
        commits: 40,
        branches: ['feature/x', 'gone'],
        tags: ['v1'],
        files: { 'assets/blob.bin': randomBytes(120_000).toString('base64') },
        createdBy: s.user.id,
      });
      const bob = w.addUser({ upn: `bob@${s.emu.defaultTenant.domain}`, displayName: 'Bob' });
      w.addMember(s.org, bob.id);
      bobId = bob.id;
      bobPat = w.createPat(bob.id, { scopes: ['vso.code'], orgs: [s.org] }).token;
      const schema = kind === 'postgres' ? `cache_${randomBytes(5).toString('hex')}` : undefined;
      config = {
        storeUrl: kind === 'postgres' ? POSTGRES_URL : `sqlite:${join(dir, 'runner.db')}`,
        ...(schema ? { schema } : {}),
        encryptionKeys: randomEncryptionKeys(),
        privateKey: '',
        integration,
      };
      pieces = await openRunnerPieces(config);
      for (const [user, secret] of [
        ['alice', s.pat],
        ['bob', bobPat],
      ] as const) {
        await pieces.credentials.insert({
          subject: { type: 'user', id: user },
          integrationId: integration.id,
          host: integration.host,
          method: 'pat',
          secret,
          metadata: { organization: s.org },
        });
      }
    });

    after(async () => {
      for (const o of opened) await o.environments.stop();
      for (const o of opened) if (o.pieces !== pieces) await o.pieces.close();
      if (config?.schema)
        await sql`drop schema if exists ${sql.id(config.schema)} cascade`.execute(pieces.store.database.db).catch(() => undefined);
      await pieces?.close();
      await s?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    /** A runner process's environments; `replicaOf` shares the store through a connection of its own. */
    async function runner(name: string, extra: Partial<EnvironmentServiceOptions> = {}, separateConnection = false): Promise<Environments> {
      const p = separateConnection ? await openRunnerPieces(config) : pieces;
      const tokens = p.tokens();
      const environments = await startEnvironments({
        dataDir: join(dir, name),
        db: p.store.database.db,
        getAccessToken: (u, i) => tokens.getAccessToken(u, i),
        rememberIntegration: () => undefined,
        endpoints: resolveEndpoints({ services: s.emu.urls.services, vssps: s.emu.urls.vssps }),
        logger: createLogger('silent'),
        progressIntervalMs: 0,
        report: async (id, report) => void reports.set(id, [...(reports.get(id) ?? []), report]),
        ...extra,
      });
      opened.push({ environments, pieces: p });
      return environments;
    }

    function create(environments: Environments, user: string, repository: string, clone?: EnvironmentCloneOptions, id = ids()) {
      return environments.handlers['environment-create']!(
        {
          environmentId: id,
          userId: user,
          integration,
          repository: servicesRepository(s.org, s.project, repository),
          ...(clone ? { clone } : {}),
        },
        { id: 'r', kind: 'environment-create', payload: null, deadlineAt: '' },
      ) as Promise<{ workspacePath: string }>;
    }

    async function settled(id: string): Promise<EnvironmentProgressReport> {
      const until = Date.now() + 60_000;
      for (;;) {
        const final = reports.get(id)?.find((r) => r.status === 'ready' || r.status === 'failed');
        if (final) return final;
        if (Date.now() > until) throw new Error(`environment ${id} did not finish`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }

    async function ready(environments: Environments, user: string, repository: string, clone?: EnvironmentCloneOptions) {
      const id = ids();
      const created = await create(environments, user, repository, clone, id);
      const final = await settled(id);
      assert.equal(final.status, 'ready', JSON.stringify(final.error));
      const phases = (reports.get(id) ?? []).flatMap((r) => r.progress?.phases ?? []);
      return { id, worktree: created.workspacePath, final, phases: [...new Set(phases)] };
    }

    /** A repository of `commits` commits holding one file of `bytes` random bytes (base64). */
    const addRepository = (name: string, commits: number, file: string, bytes: number) =>
      s.emu.world.createRepository(s.org, s.project, name, {
        commits,
        files: { [file]: randomBytes(bytes).toString('base64') },
        createdBy: s.user.id,
      });
    const cacheRow = async (environments: Environments, repository: string, variant: 'full' | 'blob:none' = 'full') =>
      environments.cache!.store.get(
        environments.cache!.id,
        cacheKey({ remoteUrl: `${s.emu.urls.services}/${s.org}/${s.project}/_git/${repository}`, variant }),
      );
    const workspaces = async (source: string) =>
      (await register.getSingleMetric('keyway_runner_repository_cache_workspaces_total')!.get()).values.find(
        (v) => v.labels.source === source,
      )?.value ?? 0;

    it("the second environment takes its objects from the cache: no pack is served, the workspace is complete and owns its objects, its refs are the user's own", async () => {
      const r = await runner('warm', { repositoryCache: { freshMs: 60_000 } });
      s.emu.resetCounters();
      const first = await ready(r, 'alice', 'big');
      const clonedBytes = s.emu.counters().gitBytesServed;
      // Cold: the cache's refresh is this user's fetch, its refs the workspace's (no second fetch).
      assert.ok(
        first.phases.includes('Cache refresh') && first.phases.includes('Local copy') && !first.phases.includes('User fetch'),
        first.phases.join(', '),
      );
      assert.ok(existsSync(join(first.worktree, 'assets', 'blob.bin')));
      assert.equal(
        (await git(['for-each-ref', '--format=%(refname)', 'refs/remotes/origin/', 'refs/tags/'], first.worktree))
          .trim()
          .split('\n')
          .sort()
          .join(' '),
        'refs/remotes/origin/HEAD refs/remotes/origin/feature/x refs/remotes/origin/gone refs/remotes/origin/main refs/tags/v1',
      );
      await assertComplete(first.worktree);

      // After the cache was refreshed: a branch goes and a commit arrives on the server.
      await s.emu.world.commit(s.org, s.project, 'big', { branch: 'main', files: { 'after-cache.txt': 'new\n' } });
      const repo = s.emu.world.requireRepository(s.org, s.project, 'big');
      await git(['update-ref', '-d', 'refs/heads/gone'], repo.gitDir);

      s.emu.resetCounters();
      const fromCache = await workspaces('cache');
      const second = await ready(r, 'alice', 'big');
      const secondBytes = s.emu.counters().gitBytesServed;
      assert.equal(await workspaces('cache'), fromCache + 1);
      assert.ok(
        !second.phases.includes('Cache refresh') && second.phases.includes('User fetch'),
        `a fresh cache is used as it is, the refs come from the user's fetch: ${second.phases.join(', ')}`,
      );
      assert.ok(secondBytes < clonedBytes / 10, `the second environment cost ${secondBytes} bytes, the first ${clonedBytes}`);
      await assertComplete(second.worktree);
      // The refs are what the user's fetch said, not what the cache held.
      const refs = await git(['for-each-ref', '--format=%(refname)', 'refs/remotes/origin/'], second.worktree);
      assert.ok(!refs.includes('refs/remotes/origin/gone'), refs);
      assert.ok(refs.includes('refs/remotes/origin/feature/x'));
      assert.equal(
        (await git(['rev-parse', 'HEAD'], second.worktree)).trim(),
        (await git(['rev-parse', 'refs/heads/main'], repo.gitDir)).trim(),
      );
      assert.ok(existsSync(join(second.worktree, 'after-cache.txt')), 'the commit made after the cache refresh came with the user fetch');
      assert.equal((await git(['rev-parse', '--abbrev-ref', '@{upstream}'], second.worktree)).trim(), 'origin/main');
      assert.equal((await git(['symbolic-ref', 'refs/remotes/origin/HEAD'], second.worktree)).trim(), 'refs/remotes/origin/main');
      assert.equal((await git(['tag', '--list'], second.worktree)).trim(), 'v1');
      // The workspace's pack files are its own names for the cache's: removing the cache takes nothing from it.
      const pack = readdirSync(join(second.worktree, '.git', 'objects', 'pack')).find((f) => f.endsWith('.pack'))!;
      assert.ok(statSync(join(second.worktree, '.git', 'objects', 'pack', pack)).nlink >= 2, 'linked, not copied');
      rmSync(r.cache!.dir, { recursive: true, force: true });
      await assertComplete(second.worktree);
      await git(['log', '--oneline', '-p', '-3'], second.worktree);
    });

    it('no credential rests in the cache or the staging area: no file holds a token, the configuration names no helper', async () => {
      const r = await runner('canary', { repositoryCache: { freshMs: 0 } });
      const env = await ready(r, 'alice', 'big');
      await ready(r, 'bob', 'big');
      const tokens = [s.pat, bobPat];
      const files = (root: string): string[] =>
        existsSync(root)
          ? readdirSync(root, { withFileTypes: true, recursive: true })
              .filter((d) => d.isFile())
              .map((d) => join(d.parentPath, d.name))
          : [];
      const scanned = [
        ...files(r.cache!.dir),
        ...files(join(dir, 'canary', 'workspaces', '.staging')),
        ...files(join(env.worktree, '.git')),
      ];
      assert.ok(scanned.length > 10, 'the scan reads the cache and the workspace');
      for (const file of scanned) {
        const text = readFileSync(file).toString('latin1');
        for (const token of tokens) assert.ok(!text.includes(token), `a token in ${file}`);
      }
      const cacheConfig = readFileSync(
        join(
          r.cache!.dir,
          `${cacheKey({ remoteUrl: `${s.emu.urls.services}/${s.org}/${s.project}/_git/big`, variant: 'full' })}.git`,
          'config',
        ),
        'utf8',
      );
      assert.doesNotMatch(cacheConfig, /helper|extraheader|@127/i);
    });

    it('a user without access cannot create an environment from a warm cache; the emulator sees their denied check; the refusal is the one of an uncached repository', async () => {
      const r = await runner('denied', { repositoryCache: { freshMs: 60_000 } });
      await ready(r, 'alice', 'big');
      const warm = await cacheRow(r, 'big');
      assert.ok(warm?.refreshedAt, 'the cache is warm');
      const world = s.emu.world;
      const bob = { id: bobId };
      const big = world.requireRepository(s.org, s.project, 'big');
      await world.createRepository(s.org, s.project, 'never-cached', { commits: 2, createdBy: s.user.id });
      const never = world.requireRepository(s.org, s.project, 'never-cached');
      world.denyRepositoryRead(big, bob.id);
      world.denyRepositoryRead(never, bob.id);
      try {
        const deniedBefore = world.repositoryDenials().length;
        const refusal = async (repository: string) => {
          const id = ids();
          const err = await create(r, 'bob', repository, undefined, id).then(
            () => assert.fail('created'),
            (e: unknown) => e,
          );
          assert.ok(err instanceof HandlerError);
          assert.ok(!existsSync(join(dir, 'denied', 'workspaces', id)), 'no workspace');
          assert.equal(reports.get(id), undefined, 'no progress');
          return { code: err.code, message: err.message.replaceAll(repository, '{repository}') };
        };
        const fromWarm = await refusal('big');
        const fromUncached = await refusal('never-cached');
        assert.equal(fromWarm.code, 'repository_not_found');
        assert.deepEqual(fromWarm, fromUncached, 'the same answer whether the runner holds the repository or not');
        const denials = world.repositoryDenials().slice(deniedBefore);
        assert.deepEqual(
          denials.map((d) => [d.identityId, d.repositoryId, d.via]),
          [
            [bob.id, big.id, 'rest'],
            [bob.id, never.id, 'rest'],
          ],
          "Azure DevOps was asked with bob's own credential and said no",
        );
        // The cache was not touched: not used, not refreshed; no cache row for the uncached repository.
        assert.deepEqual(await cacheRow(r, 'big'), warm);
        assert.equal(await cacheRow(r, 'never-cached'), undefined);
      } finally {
        world.allowRepositoryRead(big, bob.id);
        world.allowRepositoryRead(never, bob.id);
      }
    });

    it('a cache deleted mid-creation: the environment is cloned in full, complete; the next one builds the cache again', async () => {
      let deleteNow = true;
      const r = await runner('deleted', {
        repositoryCache: { freshMs: 0 },
        cacheHooks: {
          async beforeCopy(gitDir) {
            if (!deleteNow) return;
            deleteNow = false;
            rmSync(gitDir, { recursive: true, force: true });
          },
        },
      });
      await ready(r, 'alice', 'big');
      deleteNow = true;
      const fallbacks = await workspaces('fallback');
      const env = await ready(r, 'alice', 'big');
      assert.equal(await workspaces('fallback'), fallbacks + 1);
      assert.ok(env.phases.includes('Local copy') && env.phases.includes('Full clone'), env.phases.join(', '));
      await assertComplete(env.worktree);
      const afterFallback = await cacheRow(r, 'big');
      const again = await ready(r, 'alice', 'big');
      assert.ok(again.phases.includes('Cache refresh'), again.phases.join(', '));
      assert.ok((await cacheRow(r, 'big'))!.refreshes > afterFallback!.refreshes, 'built again');
      await assertComplete(again.worktree);
    });

    it('a corrupted cache: the environment is cloned in full and the cache is removed, then built again', async () => {
      const r = await runner('corrupt', { repositoryCache: { freshMs: 60_000 } });
      await ready(r, 'alice', 'big');
      const packs = join(
        r.cache!.dir,
        `${cacheKey({ remoteUrl: `${s.emu.urls.services}/${s.org}/${s.project}/_git/big`, variant: 'full' })}.git`,
        'objects',
        'pack',
      );
      for (const f of readdirSync(packs).filter((n) => n.endsWith('.pack'))) truncateSync(join(packs, f), 2048);
      const fallbacks = await workspaces('fallback');
      const env = await ready(r, 'alice', 'big');
      assert.equal(await workspaces('fallback'), fallbacks + 1);
      await assertComplete(env.worktree);
      const again = await ready(r, 'alice', 'big');
      assert.ok(again.phases.includes('Cache refresh'), `the broken cache was removed and is built again: ${again.phases.join(', ')}`);
      await assertComplete(again.worktree);
    });

    it('two replicas creating environments of one repository at once refresh the cache once', async () => {
      const shared = join(dir, 'shared-cache');
      // freshMs 0: nothing but the lease keeps the second replica from refreshing too.
      const a = await runner('replica-a', { repositoryCache: { dir: shared, freshMs: 0 } }, true);
      const b = await runner('replica-b', { repositoryCache: { dir: shared, freshMs: 0 } }, true);
      assert.equal(a.cache!.id, b.cache!.id, 'one cache directory, one id');
      await addRepository('together', 30, 'data.bin', 60_000);
      // A slow server keeps the first refresh going while the other replica asks.
      const slow = s.emu.faults.add({ listener: 'services', path: `/${s.org}/${s.project}/_git/together/**`, latencyMs: 700 });
      try {
        s.emu.resetCounters();
        const [one, two] = await Promise.all([ready(a, 'alice', 'together'), ready(b, 'bob', 'together')]);
        const row = await cacheRow(a, 'together');
        assert.equal(row?.refreshes, 1, 'one refresh for both');
        assert.equal(
          [one, two].filter((e) => e.phases.includes('Cache refresh: Receiving objects')).length,
          1,
          'one of them fetched into the cache',
        );
        const served = s.emu.counters().gitBytesServed;
        for (const e of [one, two]) await assertComplete(e.worktree);
        // What one clone of the repository costs, for comparison.
        s.emu.resetCounters();
        await git(
          [
            '-c',
            'credential.helper=',
            '-c',
            `credential.helper=!f() { echo username=x; echo password=${s.pat}; }; f`,
            'clone',
            '-q',
            s.emu.gitUrl(s.org, s.project, 'together'),
            join(dir, 'plain-together'),
          ],
          dir,
        );
        const oneClone = s.emu.counters().gitBytesServed;
        assert.ok(served < oneClone * 1.2, `two environments cost ${served} bytes, one clone ${oneClone}`);
      } finally {
        s.emu.faults.remove(slow);
      }
    });

    it("a runner restarted after being killed mid-refresh releases its previous life's lease; another process's live lease stays", async () => {
      const first = await runner('restarted', { repositoryCache: { freshMs: 60_000 } });
      await ready(first, 'alice', 'big');
      const key = cacheKey({ remoteUrl: `${s.emu.urls.services}/${s.org}/${s.project}/_git/big`, variant: 'full' });
      const instanceOf = (name: string) => `${hostname()}:${join(dir, name)}`;
      const store = first.cache!.store;
      // The killed process held the lease; another replica (another data directory) holds the other row's.
      assert.ok(await store.acquire(first.cache!.id, key, `${instanceOf('restarted')}#dead`, 600_000));
      await store.ensure(first.cache!.id, 'f'.repeat(64), 'http://example.invalid/other', 'full');
      assert.ok(await store.acquire(first.cache!.id, 'f'.repeat(64), `${instanceOf('elsewhere')}#alive`, 600_000));
      await first.stop();
      const again = await runner('restarted', { repositoryCache: { freshMs: 60_000 } });
      assert.equal((await store.get(again.cache!.id, key))?.leaseOwner, null, 'released at start');
      assert.equal((await store.get(again.cache!.id, 'f'.repeat(64)))?.leaseOwner, `${instanceOf('elsewhere')}#alive`);
      await ready(again, 'bob', 'big');
    });

    it('eviction under a size limit: the least recently used cache goes, existing workspaces stay intact', async () => {
      await addRepository('second', 8, 'second.bin', 40_000);
      // What the two caches take, measured by a runner without a tight limit.
      const probe = await runner('evict-probe', { repositoryCache: { freshMs: 60_000 } });
      await ready(probe, 'alice', 'big');
      await ready(probe, 'alice', 'second');
      const sizeBig = (await cacheRow(probe, 'big'))!.sizeBytes;
      const sizeSecond = (await cacheRow(probe, 'second'))!.sizeBytes;
      assert.ok(sizeBig > 8192 && sizeSecond > 8192, `${sizeBig} ${sizeSecond}`);

      // Room for one of them: the older goes once the newer arrives.
      const r = await runner('evict', { repositoryCache: { freshMs: 60_000, maxBytes: sizeBig + sizeSecond - 4096 } });
      const a = await ready(r, 'alice', 'big');
      await r.checkCache();
      assert.ok(await cacheRow(r, 'big'), 'under the limit alone: kept');
      const packA = readdirSync(join(a.worktree, '.git', 'objects', 'pack')).find((f) => f.endsWith('.pack'))!;
      assert.equal(statSync(join(a.worktree, '.git', 'objects', 'pack', packA)).nlink, 2, 'shared with the cache');
      const b = await ready(r, 'alice', 'second');
      await r.checkCache();
      assert.equal(await cacheRow(r, 'big'), undefined, 'the least recently used went');
      assert.ok(
        !existsSync(
          join(r.cache!.dir, `${cacheKey({ remoteUrl: `${s.emu.urls.services}/${s.org}/${s.project}/_git/big`, variant: 'full' })}.git`),
        ),
      );
      assert.ok(await cacheRow(r, 'second'), 'the most recently used stayed');
      const usage = await r.cache!.usage();
      assert.ok(usage.bytes <= usage.limitBytes && usage.repositories === 1, JSON.stringify(usage));
      assert.equal(statSync(join(a.worktree, '.git', 'objects', 'pack', packA)).nlink, 1, 'the workspace now alone holds its pack');
      for (const e of [a, b]) await assertComplete(e.worktree);
      assert.equal(
        (await git(['rev-list', '--count', 'HEAD'], a.worktree)).trim(),
        (await git(['rev-list', '--count', 'refs/heads/main'], s.emu.world.requireRepository(s.org, s.project, 'big').gitDir)).trim(),
      );
      await git(['log', '-p', '--oneline'], a.worktree);

      // A limit below any repository: every cache goes after use, and its workspace does not care.
      const tiny = await runner('evict-tiny', { repositoryCache: { freshMs: 60_000, maxBytes: 1 } });
      const c = await ready(tiny, 'alice', 'big');
      await tiny.checkCache();
      assert.equal((await tiny.cache!.usage()).repositories, 0);
      await assertComplete(c.worktree);
    });

    it('blobless: a partial workspace whose lazy fetches use the same credential; shallow: the tip only, without the cache', async () => {
      await addRepository('partial', 12, 'big.txt', 30_000);
      const r = await runner('partial', { repositoryCache: { freshMs: 60_000 } });
      const env = await ready(r, 'alice', 'partial', { filter: 'blob:none' });
      assert.equal((await git(['config', 'remote.origin.promisor'], env.worktree)).trim(), 'true');
      assert.equal((await git(['config', 'remote.origin.partialclonefilter'], env.worktree)).trim(), 'blob:none');
      assert.ok(await cacheRow(r, 'partial', 'blob:none'), 'a blobless cache');
      const missing = await git(['rev-list', '--objects', '--all', '--missing=print'], env.worktree);
      assert.match(missing, /^\?[0-9a-f]{40}$/m, 'old file contents are not there yet');
      // An old version of a file: git fetches it lazily, through the environment's credential helper.
      const old = await git(['show', 'HEAD~10:counter.txt'], env.worktree);
      assert.equal(old.trim(), '2');

      const shallow = await ready(r, 'alice', 'partial', { depth: 1 });
      assert.equal((await git(['rev-parse', '--is-shallow-repository'], shallow.worktree)).trim(), 'true');
      assert.equal((await git(['rev-list', '--count', 'HEAD'], shallow.worktree)).trim(), '1');
      assert.ok(!shallow.phases.some((p) => p.startsWith('Cache refresh') || p === 'Local copy'), shallow.phases.join(', '));

      await assert.rejects(
        create(r, 'alice', 'partial', { filter: 'blob:limit=1k' as 'blob:none' }),
        /clone options: filter is blob:none or null/,
      );
      await assert.rejects(create(r, 'alice', 'partial', { depth: 0 }), /depth a whole number/);
    });
  });
}
