// A workspace made from the repository cache: what `git clone` would make, with the objects taken
// from the cache and the refs from the user's own fetch.
//
//   1. git init the workspace and write the settings `git clone --config` would write;
//   2. under the cache's lease: refresh the cache when it is due (git fetch with the creating
//      user's credential, through the same network guard as every clone), then link its packs into
//      the workspace and read its refs ("Cache refresh", "Local copy");
//   3. the user's own fetch ("User fetch"), with the cache's refs as temporary hints
//      (refs/keyway-cache/*) so git knows what it has: with nothing new on the server no pack
//      is sent at all, and with something new only that is; the hints are deleted afterwards;
//   4. the checkout, as `git clone` would do it.
//
// The caller checked the user's access with the user's credential before calling this; a failure
// here is the caller's to judge (a refusal by Azure DevOps ends the environment, anything else
// falls back to a full clone).
import { appendFile, chown, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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
  worktree: string;
  /** `-c` settings of every git that talks to the remote (network.ts). */
  network: string[];
  /**
   * The cache's fetch asks the environment's own socket through git's built-in client: never a
   * script from the workspace, which its user could have changed.
   */
  cacheCredential: string[];
  /** What `git clone --config` writes into the workspace (helpers, include.path). */
  workspaceConfig: GitConfigEntry[];
  checkout: CacheCheckout;
  /** git on the cache: as the runner. */
  runnerGit(): RunGitOptions;
  /** git in the workspace: as the environment's user when workspaces are isolated. */
  workspaceGit(): RunGitOptions;
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
 * The cache's refs as refs/keyway-cache/* in the new workspace's packed-refs file (the format of
 * gitrepository-layout(5) and git-pack-refs(1): `<object id> <ref name>` lines, sorted by name),
 * written in one step instead of one process per ref. The workspace has no refs yet, so the file is
 * new; git's fetch writes the refs it fetches as files of their own and leaves this one alone.
 */
async function writeHints(path: string, refs: readonly CacheRef[], owner?: { uid: number; gid: number }): Promise<void> {
  if (refs.length === 0) return;
  const lines = refs
    .map((r) => ({ name: `${HINTS}${r.name.slice('refs/'.length)}`, objectId: r.objectId }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((r) => `${r.objectId} ${r.name}\n`);
  await writeFile(path, `# pack-refs with: sorted \n${lines.join('')}`, { flag: 'wx', mode: 0o600 });
  if (owner) await chown(path, owner.uid, owner.gid);
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

export async function cloneFromCache(input: CacheCloneInput): Promise<{ fromCache: true; refreshed: boolean }> {
  const { worktree } = input;
  const { variant } = input;
  const filter = input.blobless ? ['--filter=blob:none'] : [];
  const inTree = (onProgress?: (p: CloneProgress) => void): RunGitOptions => ({ cwd: worktree, ...(onProgress ? { onProgress } : {}), ...input.workspaceGit() });

  await runGit(['init', '--quiet', worktree], input.workspaceGit());
  await appendFile(
    join(worktree, '.git', 'config'),
    formatGitConfig([
      ...input.workspaceConfig,
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
          await runGit([...input.network, ...input.cacheCredential, ...args], { onProgress: progress, ...input.runnerGit() });
        });
        refreshed = true;
      }
      input.step('Local copy')();
      await input.beforeCopy?.(session.gitDir);
      return session.copyInto(join(worktree, '.git', 'objects', 'pack'), input.owner);
    },
    { signal: input.signal, deadline: input.deadline, onWait: () => input.step('Cache refresh')() },
  );

  const packedRefs = join(worktree, '.git', 'packed-refs');
  await writeHints(packedRefs, refs, input.owner);
  const fetching = input.step('User fetch');
  fetching();
  await runGit([...input.network, 'fetch', '--progress', '--tags', '--no-write-fetch-head', ...filter, 'origin'], inTree(fetching));
  await removeHints(packedRefs);

  const checking = input.step('Checkout');
  const defaultBranch = input.checkout.kind === 'tag' ? undefined : input.checkout.kind === 'branch' ? input.checkout.branch : input.checkout.defaultBranch;
  if (input.checkout.kind === 'branch') {
    checking();
    await runGit(['checkout', '--progress', '-b', input.checkout.branch, '--track', `origin/${input.checkout.branch}`], inTree(checking));
  } else if (input.checkout.kind === 'tag') {
    checking();
    await runGit(['checkout', '--progress', '--detach', `refs/tags/${input.checkout.tag}`], inTree(checking));
  } else {
    await runGit(['branch', '--quiet', '--track', input.checkout.defaultBranch, `origin/${input.checkout.defaultBranch}`], inTree());
    await runGit(['symbolic-ref', 'HEAD', `refs/heads/${input.checkout.defaultBranch}`], inTree());
  }
  if (defaultBranch) await runGit(['symbolic-ref', 'refs/remotes/origin/HEAD', `refs/remotes/origin/${defaultBranch}`], inTree()).catch(() => undefined);
  return { fromCache: true, refreshed };
}
