// A workspace made from the repository cache: what `git clone` would make, with the objects taken
// from the cache and the refs from the user's own fetch.
//
//   1. git init the repository in a staging directory of the runner's own;
//   2. under the cache's lease: refresh the cache when it is due (with the creating user's
//      credential, through the same network guard as every clone), then link its packs into the
//      new repository and read its refs ("Cache refresh", "Local copy");
//   3. the user's own fetch ("User fetch"), with the cache's refs as temporary hints
//      (refs/keyway-cache/*) so git knows what it has: with nothing new on the server no pack
//      is sent at all, and with something new only that is; the hints are deleted afterwards.
//      When step 2 refreshed the cache, that refresh was the user's own fetch: its refs are used;
//   4. the checkout ("Checkout"), the settings `git clone --config` would write, and the move into
//      the workspace (handed to the environment's user first when workspaces are isolated).
//
// The caller checked the user's access with the user's credential before calling this; a failure
// here is the caller's to judge (a refusal by Azure DevOps ends the environment, anything else
// falls back to a full clone).
import { appendFile, lchown, lstat, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { formatGitConfig } from './git-config-file.ts';
import type { GitConfigEntry } from './git-config-file.ts';
import { runGit } from './git.ts';
import type { RunGitOptions } from './git.ts';
import type { CloneProgress } from './progress.ts';
import type { CacheRef, CacheVariant, RepositoryCache } from './repository-cache.ts';

/** What the workspace checks out once its refs are fetched. */
export type CacheCheckout =
  | { kind: 'branch'; branch: string }
  | { kind: 'tag'; tag: string }
  /** Nothing yet (a commit or a pull request's merge follows): HEAD on the default branch, as `git clone --no-checkout` leaves it. */
  | { kind: 'none'; defaultBranch: string };

export interface CacheCloneInput {
  cache: RepositoryCache;
  /** The cache to take objects from (a full cache also serves a blobless request: RepositoryCache.variantFor). */
  variant: CacheVariant;
  /** The request asked for a blobless workspace (file contents fetched lazily, with the same credential). */
  blobless: boolean;
  remoteUrl: string;
  /** Where the repository is built: a directory of the runner's own, on the workspace's file system. */
  staging: string;
  /** Where it goes once complete (the workspace's clone directory). */
  worktree: string;
  /** `-c` settings of every git that talks to the remote (network.ts). */
  network: string[];
  /**
   * The cache's fetch and the user's fetch ask the environment's own socket through git's built-in
   * client: never a script from the workspace, which its user could have changed.
   */
  credential: string[];
  /** What `git clone --config` writes into the workspace (helpers, include.path). */
  workspaceConfig: GitConfigEntry[];
  checkout: CacheCheckout;
  /** Limits of every git here (all run as the runner, in the cache or in the staging directory). */
  runnerGit(): RunGitOptions;
  /** Isolated workspaces: the environment's user, who gets the repository once it is complete. */
  owner?: { uid: number; gid: number } | undefined;
  /** Reports a step ("Cache refresh", "Local copy", "User fetch", "Checkout") with git's progress within it. */
  step(name: string): (progress?: CloneProgress) => void;
  signal: AbortSignal;
  deadline: number;
  /** Tests: runs inside the lease, just before the packs are linked. */
  beforeCopy?: (gitDir: string) => Promise<void>;
}

const HINTS = 'refs/keyway-cache/';

/**
 * Refs written as the new repository's packed-refs file (the format of gitrepository-layout(5) and
 * git-pack-refs(1): `<object id> <ref name>` lines, sorted by name), in one step instead of one
 * process per ref. The repository has no refs yet, so the file is new; a later fetch writes the refs
 * it fetches as files of their own and leaves this one alone.
 */
async function writePackedRefs(path: string, refs: readonly CacheRef[]): Promise<void> {
  if (refs.length === 0) return;
  const lines = [...refs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((r) => `${r.objectId} ${r.name}\n`);
  await writeFile(path, `# pack-refs with: sorted \n${lines.join('')}`, { flag: 'wx', mode: 0o600 });
}

/** Drops the hints again: what stays in the workspace are the refs of the user's own fetch. */
async function removeHints(path: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const kept: string[] = [];
  let skipPeeled = false;
  for (const line of text.split('\n')) {
    if (!line) continue;
    if (line.startsWith('^')) {
      if (!skipPeeled) kept.push(line);
      continue;
    }
    skipPeeled = line.includes(` ${HINTS}`);
    if (!skipPeeled) kept.push(line);
  }
  if (kept.every((l) => l.startsWith('#'))) await rm(path, { force: true });
  else await writeFile(path, `${kept.join('\n')}\n`);
}

/**
 * Hands the finished repository to the environment's user: every entry changes owner without
 * following symbolic links (a repository may hold links to anywhere), except the pack files
 * linked from the cache, which stay the runner's (read-only): changing their owner would change
 * the cache's own files.
 */
async function handOver(repo: string, owner: { uid: number; gid: number }): Promise<void> {
  const packs = join(repo, '.git', 'objects', 'pack');
  const pending = [repo];
  while (pending.length > 0) {
    const dir = pending.pop()!;
    await lchown(dir, owner.uid, owner.gid);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        pending.push(path);
        continue;
      }
      if (dir === packs && entry.isFile() && (await lstat(path)).nlink > 1) continue;
      await lchown(path, owner.uid, owner.gid);
    }
  }
}

export async function cloneFromCache(input: CacheCloneInput): Promise<{ fromCache: true; refreshed: boolean }> {
  // Built where only the runner can write, then moved into the workspace in one step: the runner
  // never writes through a path the environment's user could have replaced with a link, never
  // reads a configuration that user could edit (the include of network.gitconfig is added last),
  // and never runs the workspace's own credential helper script (only git's built-in client to
  // the environment's socket).
  const repo = input.staging;
  const { variant } = input;
  const filter = input.blobless ? ['--filter=blob:none'] : [];
  const asRunner = (onProgress?: (p: CloneProgress) => void): RunGitOptions => ({
    cwd: repo,
    ...(onProgress ? { onProgress } : {}),
    ...input.runnerGit(),
    // Isolated workspaces are private to their user: what the runner writes for them too.
    ...(input.owner ? { umask: 0o077 } : {}),
  });

  await runGit(['init', '--quiet', repo], { ...asRunner(), cwd: dirname(repo) });
  const config = join(repo, '.git', 'config');
  await appendFile(
    config,
    formatGitConfig([
      { section: 'remote', subsection: 'origin', key: 'url', value: input.remoteUrl },
      { section: 'remote', subsection: 'origin', key: 'fetch', value: '+refs/heads/*:refs/remotes/origin/*' },
    ]),
  );

  let refreshed = false;
  const refs: CacheRef[] = await input.cache.session(
    { remoteUrl: input.remoteUrl, variant },
    async (session) => {
      if (session.stale) {
        const progress = input.step('Cache refresh');
        progress();
        const cacheFilter = variant === 'blob:none' ? ['--filter=blob:none'] : [];
        await session.refresh(async (gitDir, cold) => {
          const args = cold
            ? ['clone', '--bare', '--progress', ...cacheFilter, '--', input.remoteUrl, gitDir]
            : [`--git-dir=${gitDir}`, 'fetch', '--progress', '--prune', '--no-write-fetch-head', ...cacheFilter, 'origin'];
          await runGit([...input.network, ...input.credential, ...args], { onProgress: progress, ...input.runnerGit() });
        });
        refreshed = true;
      }
      input.step('Local copy')();
      await input.beforeCopy?.(session.gitDir);
      return session.copyInto(join(repo, '.git', 'objects', 'pack'), input.owner);
    },
    { signal: input.signal, deadline: input.deadline, onWait: () => input.step('Cache refresh')() },
  );

  const packedRefs = join(repo, '.git', 'packed-refs');
  if (refreshed && variant === 'full' && !input.blobless) {
    // This creation's refresh was the user's own fetch (their credential, moments ago, under the
    // lease nobody else wrote through): its refs are the workspace's, as `git clone` maps them.
    await writePackedRefs(
      packedRefs,
      refs.flatMap((r) =>
        r.name.startsWith('refs/heads/')
          ? [{ name: `refs/remotes/origin/${r.name.slice('refs/heads/'.length)}`, objectId: r.objectId }]
          : r.name.startsWith('refs/tags/')
            ? [r]
            : [],
      ),
    );
  } else {
    await writePackedRefs(
      packedRefs,
      refs.map((r) => ({ name: `${HINTS}${r.name.slice('refs/'.length)}`, objectId: r.objectId })),
    );
    const fetching = input.step('User fetch');
    fetching();
    await runGit(
      [...input.network, ...input.credential, 'fetch', '--progress', '--tags', '--no-write-fetch-head', ...filter, 'origin'],
      asRunner(fetching),
    );
    await removeHints(packedRefs);
  }

  const checking = input.step('Checkout');
  // A blobless checkout fetches file contents as it goes: with the same credential and network rules.
  const remote = [...input.network, ...input.credential];
  const defaultBranch =
    input.checkout.kind === 'tag' ? undefined : input.checkout.kind === 'branch' ? input.checkout.branch : input.checkout.defaultBranch;
  if (input.checkout.kind === 'branch') {
    checking();
    await runGit(
      [...remote, 'checkout', '--progress', '-b', input.checkout.branch, '--track', `origin/${input.checkout.branch}`],
      asRunner(checking),
    );
  } else if (input.checkout.kind === 'tag') {
    checking();
    await runGit([...remote, 'checkout', '--progress', '--detach', `refs/tags/${input.checkout.tag}`], asRunner(checking));
  } else {
    await runGit(['branch', '--quiet', '--track', input.checkout.defaultBranch, `origin/${input.checkout.defaultBranch}`], asRunner());
    await runGit(['symbolic-ref', 'HEAD', `refs/heads/${input.checkout.defaultBranch}`], asRunner());
  }
  if (defaultBranch)
    await runGit(['symbolic-ref', 'refs/remotes/origin/HEAD', `refs/remotes/origin/${defaultBranch}`], asRunner()).catch(() => undefined);

  // What `git clone --config` writes, last: from here on the repository is the workspace's.
  await appendFile(config, formatGitConfig(input.workspaceConfig));
  if (input.owner) await handOver(repo, input.owner);
  await rename(repo, input.worktree);
  return { fromCache: true, refreshed };
}
