// The runner's object cache (issue 20): per repository a bare mirror, kept fresh by fetch, from which
// new workspaces take their objects, so the fiftieth environment of a repository costs Azure DevOps
// a ref advertisement instead of a clone.
//
//   {cacheDir}/.keyway-cache-id        names the directory in the runner store (replicas sharing
//                                      the directory share its rows and leases)
//   {cacheDir}/{key}.git               one bare repository per remote URL and variant (full, blob:none)
//
// What the cache never does: decide who may read a repository. The environment service checks the
// user's access with the user's own credential before it opens a session here, refreshes the cache
// with that same credential, and fetches the workspace's refs with it; the cache only supplies
// objects (service.ts, "the clone from the cache").
//
// Every mutation (refresh, compaction, eviction) and every copy happens under the cache's lease
// (cache-store.ts): a copy never sees a pack that a repack is about to delete. Workspaces get the
// cache's pack files as hard links (a copy across file systems): a workspace owns its objects from
// the first moment, so evicting or deleting the cache never breaks one, and the links cost no disk.
import { randomBytes, createHash } from 'node:crypto';
import { constants, existsSync } from 'node:fs';
import { appendFile, chmod, chown, copyFile, link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { sleep } from '../../http/retry.ts';
import type { Logger } from '../../logging/logger.ts';
import { createCacheStore } from './cache-store.ts';
import type { CacheRow, CacheVariant } from './cache-store.ts';
import { diskUsage } from './disk-usage.ts';
import { formatGitConfig } from './git-config-file.ts';
import { runGit } from './git.ts';
import { cacheMetrics } from './cache-metrics.ts';

export type { CacheVariant } from './cache-store.ts';

export interface RepositoryCacheOptions {
  /** Where the caches live (KEYWAY_REPOSITORY_CACHE_DIR). */
  dir: string;
  db: Kysely<RunnerDB>;
  /** The most the caches of this directory may take, in bytes (KEYWAY_REPOSITORY_CACHE_MB); least recently used go first. */
  maxBytes: number;
  /** A cache refreshed this recently is used as it is (KEYWAY_REPOSITORY_CACHE_FRESH_SECONDS); the user's own fetch brings what it lacks. */
  freshMs: number;
  logger: Logger;
  /** Names this runner process in lease rows. */
  instance: string;
  /** Local git commands on the cache stop when silent this long. */
  stallTimeoutMs: number;
  leaseTtlMs?: number;
  /** How often a creation waiting for another's lease looks again. */
  pollMs?: number;
}

export interface CacheEntry {
  remoteUrl: string;
  variant: CacheVariant;
}

export interface CacheRef {
  objectId: string;
  name: string;
}

export interface CacheUsage {
  bytes: number;
  repositories: number;
  limitBytes: number;
}

/** Another runner process holds the cache longer than this creation may wait: clone without it. */
export class CacheBusyError extends Error {
  constructor() {
    super('another runner process is still refreshing the repository cache');
    this.name = 'CacheBusyError';
  }
}

/** What a creation may do with one repository's cache while it holds the lease. */
export interface CacheSession {
  readonly gitDir: string;
  readonly variant: CacheVariant;
  /** The directory holds a cache (false: cold, or deleted behind the runner's back). */
  readonly present: boolean;
  /**
   * Whether a refresh is due: cold, or last refreshed more than freshMs ago and not by another
   * creation while this one waited for the lease (that refresh is this one's too).
   */
  readonly stale: boolean;
  /**
   * Brings the cache up to date with the creating user's credential: `fill(gitDir, cold)` runs
   * `git clone --bare` into a new directory when the cache is cold (moved into place once
   * complete; a clone trusts its self-contained pack where a fetch would walk every object again),
   * `git fetch` into it otherwise.
   */
  refresh(fill: (gitDir: string, cold: boolean) => Promise<void>): Promise<void>;
  /** Links (or copies) the cache's packs into `packDir`, then reads the cache's refs. */
  copyInto(packDir: string, owner?: { uid: number; gid: number }): Promise<CacheRef[]>;
  /** The cache turned out broken (a failed copy, unreadable objects): remove it; the next creation builds it again. */
  discard(reason: string): Promise<void>;
}

const ID_FILE = '.keyway-cache-id';
const PACK = /^pack-[0-9a-f]{40,64}\.pack$/;
/** Packs a cache may collect (one per fetch) before they are merged. */
const MAX_PACKS = 16;

/** The cache directory's id: the same for every process that shares the directory. */
async function directoryId(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, ID_FILE);
  try {
    await writeFile(path, `cache_${randomBytes(12).toString('base64url')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const id = (await readFile(path, 'utf8')).trim();
  if (!/^cache_[A-Za-z0-9_-]{8,64}$/.test(id)) throw new Error(`${path} does not hold a cache id; remove it and restart the runner`);
  return id;
}

/**
 * The directory name of a repository's cache: nothing of the URL reaches the file system. The URL
 * as it is, not lower-cased: the cache fetches with the credential of the environment asking, whose
 * helper serves exactly its own URL (a `Web` and a `web` spelling of one repository get a cache each).
 */
export function cacheKey(entry: CacheEntry): string {
  return createHash('sha256').update(`${entry.variant}\n${entry.remoteUrl}`).digest('hex');
}

/** Hard link, or copy where a link cannot be made (another file system, a file system without links). */
async function linkOrCopy(from: string, to: string, owner?: { uid: number; gid: number }): Promise<void> {
  let linked = false;
  try {
    await link(from, to);
    linked = true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
  }
  if (linked) {
    // An isolated workspace's user reads the runner's file through the link: git writes packs
    // read-only for all (0444) unless the runner's umask said otherwise. Only holders of a link
    // reach the file: the cache directory stays the runner's alone (0700).
    if (owner && ((await stat(from)).mode & 0o004) === 0) await chmod(from, 0o444);
    return;
  }
  // Never onto an existing name: a copy over a link would write into the cache's own file.
  await copyFile(from, to, constants.COPYFILE_EXCL);
  // A copy is the workspace's own file; a link stays the runner's (read-only, 0444 as git wrote it).
  if (owner) await chown(to, owner.uid, owner.gid);
}

export async function createRepositoryCache(options: RepositoryCacheOptions) {
  const { logger, dir } = options;
  const store = createCacheStore(options.db);
  const cacheId = await directoryId(dir);
  const owner = `${options.instance}#${randomBytes(6).toString('hex')}`;
  const leaseTtlMs = options.leaseTtlMs ?? 60_000;
  const pollMs = options.pollMs ?? 100;
  const gitLimits = () => ({ stallTimeoutMs: options.stallTimeoutMs, timeoutMs: 10 * 60_000 });
  /** In-process: one session per cache at a time (the lease covers other processes). */
  const locks = new Map<string, Promise<unknown>>();
  const busy = new Set<string>();
  const gitDirOf = (key: string) => join(dir, `${key}.git`);
  const isPresent = (gitDir: string) => existsSync(join(gitDir, 'HEAD')) && existsSync(join(gitDir, 'objects', 'pack'));

  async function withLocalLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(key) ?? Promise.resolve();
    const mine = previous.catch(() => undefined).then(fn);
    locks.set(key, mine);
    try {
      return await mine;
    } finally {
      if (locks.get(key) === mine) locks.delete(key);
    }
  }

  /**
   * What a cache's configuration adds to what `git clone --bare` wrote (the remote's URL, and for
   * a blobless cache the promisor settings): packs kept as they arrive, never collected behind the
   * runner's back, and the refs a later fetch updates.
   */
  async function configure(gitDir: string): Promise<void> {
    const settings = [
      { section: 'gc', key: 'auto', value: '0' },
      { section: 'maintenance', key: 'auto', value: 'false' },
      // Every fetch leaves a pack (no loose objects): a workspace takes whole files.
      { section: 'fetch', key: 'unpackLimit', value: '1' },
      { section: 'transfer', key: 'unpackLimit', value: '1' },
      { section: 'core', key: 'logAllRefUpdates', value: 'false' },
      { section: 'remote', subsection: 'origin', key: 'fetch', value: '+refs/heads/*:refs/heads/*' },
      { section: 'remote', subsection: 'origin', key: 'fetch', value: '+refs/tags/*:refs/tags/*' },
    ];
    await appendFile(join(gitDir, 'config'), formatGitConfig(settings));
  }

  async function packCount(gitDir: string): Promise<number> {
    return (await readdir(join(gitDir, 'objects', 'pack')).catch(() => [] as string[])).filter((n) => PACK.test(n)).length;
  }

  async function session<T>(
    entry: CacheEntry,
    work: (s: CacheSession) => Promise<T>,
    opts: { signal?: AbortSignal; deadline: number; onWait?: () => void },
  ): Promise<T> {
    const key = cacheKey(entry);
    const gitDir = gitDirOf(key);
    const asked = Date.now();
    return withLocalLock(key, async () => {
      await store.ensure(cacheId, key, entry.remoteUrl, entry.variant);
      while (!(await store.acquire(cacheId, key, owner, leaseTtlMs))) {
        opts.signal?.throwIfAborted();
        if (Date.now() > opts.deadline) throw new CacheBusyError();
        opts.onWait?.();
        await sleep(pollMs, opts.signal);
      }
      busy.add(key);
      const renew = setInterval(
        () => void store.renew(cacheId, key, owner, leaseTtlMs).catch(() => undefined),
        Math.max(250, Math.floor(leaseTtlMs / 3)),
      );
      renew.unref();
      try {
        const row = (await store.get(cacheId, key)) as CacheRow;
        let present = isPresent(gitDir);
        if (!present && row.refreshedAt) await store.reset(cacheId, key, owner);
        const refreshedAt = present && row.refreshedAt ? Date.parse(row.refreshedAt) : undefined;
        const stale = refreshedAt === undefined || (Date.now() - refreshedAt >= options.freshMs && refreshedAt < asked);
        let discarded = false;
        const s: CacheSession = {
          gitDir,
          variant: entry.variant,
          get present() {
            return present;
          },
          stale,
          async refresh(fill) {
            if (!present) {
              const temporary = join(dir, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
              try {
                await fill(temporary, true);
                await configure(temporary);
                await rm(gitDir, { recursive: true, force: true });
                await rename(temporary, gitDir);
              } catch (err) {
                await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
                throw err;
              }
            } else {
              await fill(gitDir, false);
              // One pack per fetch: merge the small ones now and then (geometric: big packs stay as they are).
              if ((await packCount(gitDir)) > MAX_PACKS)
                await runGit(['--git-dir', gitDir, 'repack', '--quiet', '-d', '--geometric=2'], gitLimits());
            }
            present = true;
            await store.refreshed(cacheId, key, owner, await diskUsage(gitDir));
            cacheMetrics.refreshes.inc();
          },
          async copyInto(packDir, fileOwner) {
            const packs = join(gitDir, 'objects', 'pack');
            const names = new Set(await readdir(packs));
            for (const name of [...names].filter((n) => PACK.test(n))) {
              const base = name.slice(0, -'.pack'.length);
              if (!names.has(`${base}.idx`)) continue;
              // The pack before its index: git never sees an index whose pack is not there yet.
              await linkOrCopy(join(packs, name), join(packDir, name), fileOwner);
              await linkOrCopy(join(packs, `${base}.idx`), join(packDir, `${base}.idx`), fileOwner);
              if (names.has(`${base}.promisor`))
                await linkOrCopy(join(packs, `${base}.promisor`), join(packDir, `${base}.promisor`), fileOwner);
            }
            const listed = await runGit(['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname) %(refname)'], gitLimits());
            await store.used(cacheId, key);
            return listed.stdout
              .split('\n')
              .filter(Boolean)
              .map((line) => {
                const [objectId = '', name = ''] = line.split(' ');
                return { objectId, name };
              })
              .filter((r) => /^[0-9a-f]{40,64}$/.test(r.objectId) && r.name.startsWith('refs/'));
          },
          async discard(reason) {
            if (discarded) return;
            discarded = true;
            logger.warn({ cache: key, reason }, 'repository cache removed: it will be built again by the next environment');
            present = false;
            await rm(gitDir, { recursive: true, force: true }).catch(() => undefined);
            await store.reset(cacheId, key, owner).catch(() => undefined);
          },
        };
        return await work(s);
      } finally {
        clearInterval(renew);
        busy.delete(key);
        await store.release(cacheId, key, owner).catch(() => undefined);
      }
    });
  }

  /** Measures every cache of the directory and removes the least recently used until they fit. */
  async function evict(): Promise<number> {
    let evicted = 0;
    const rows = await store.list(cacheId);
    const sizes = new Map<string, number>();
    for (const row of rows) {
      const size = isPresent(gitDirOf(row.key)) ? await diskUsage(gitDirOf(row.key)) : 0;
      sizes.set(row.key, size);
      if (size !== row.sizeBytes && !busy.has(row.key)) await store.setSize(cacheId, row.key, size).catch(() => undefined);
    }
    let total = [...sizes.values()].reduce((a, b) => a + b, 0);
    for (const row of rows) {
      if (total <= options.maxBytes) break;
      if (busy.has(row.key)) continue;
      // Someone is refreshing or copying from it: it is in use, so not the least recently used.
      if (!(await store.acquire(cacheId, row.key, owner, leaseTtlMs))) continue;
      try {
        await rm(gitDirOf(row.key), { recursive: true, force: true });
        await store.delete(cacheId, row.key, owner);
      } finally {
        await store.release(cacheId, row.key, owner).catch(() => undefined);
      }
      total -= sizes.get(row.key) ?? 0;
      evicted++;
      cacheMetrics.evictions.inc();
      logger.info(
        { cache: row.key, bytes: sizes.get(row.key), lastUsedAt: row.lastUsedAt },
        'repository cache evicted (least recently used; KEYWAY_REPOSITORY_CACHE_MB)',
      );
    }
    await removeOrphans(rows);
    await usage();
    return evicted;
  }

  /** Directories no row names (a runner stopped mid-refresh): removed once they are an hour old. */
  async function removeOrphans(rows: CacheRow[]): Promise<void> {
    const known = new Set(rows.map((r) => `${r.key}.git`));
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      if (name === ID_FILE || known.has(name)) continue;
      const path = join(dir, name);
      const st = await stat(path).catch(() => undefined);
      if (!st || Date.now() - st.mtimeMs < 3_600_000) continue;
      if (/^[0-9a-f]{64}\.git$/.test(name) && (await store.get(cacheId, name.slice(0, -4)))) continue;
      await rm(path, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  async function usage(): Promise<CacheUsage> {
    const rows = await store.list(cacheId);
    const held = rows.filter((r) => r.sizeBytes > 0);
    const result = { bytes: held.reduce((a, r) => a + r.sizeBytes, 0), repositories: held.length, limitBytes: options.maxBytes };
    cacheMetrics.bytes.set(result.bytes);
    cacheMetrics.repositories.set(result.repositories);
    cacheMetrics.limitBytes.set(result.limitBytes);
    return result;
  }

  /** A blobless request is served from a full cache when there is one: the workspace then needs no lazy fetches. */
  async function variantFor(remoteUrl: string, requested: CacheVariant): Promise<CacheVariant> {
    if (requested === 'full') return 'full';
    const full = await store.get(cacheId, cacheKey({ remoteUrl, variant: 'full' }));
    return full?.refreshedAt && isPresent(gitDirOf(full.key)) ? 'full' : 'blob:none';
  }

  // Runner processes are one per data directory (`instance`): leases its previous life held are stale.
  const released = await store.releaseStale(cacheId, options.instance, owner);
  if (released > 0) logger.info({ released }, 'repository cache leases of a previous run of this runner released');
  await usage();
  return { id: cacheId, dir, session, evict, usage, variantFor, store };
}

export type RepositoryCache = Awaited<ReturnType<typeof createRepositoryCache>>;
