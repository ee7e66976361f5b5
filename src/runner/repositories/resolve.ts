// Resolving a parsed repository URL through the Azure DevOps API, in as few calls as the API allows:
//
// | form                    | cold                                       | warm (repository cached) |
// | repository (no ref)     | getRepository                              | 0                        |
// | branch / tag            | getRepository ∥ listRefs(filter=heads/x)   | listRefs                 |
// | commit                  | getRepository ∥ getCommit                  | 0 (a commit id is stable)|
// | pull request            | getRepository ∥ getPullRequest             | getPullRequest           |
//
// "∥": sent together, so a cold resolution costs one round trip. The pull request's own `repository`
// carries id, name and project but no default branch or web URL (GitPullRequest in git/7.1 and the
// service's answers), so a cold pull request form needs the repository read as well.
import { pages } from '../../azure-devops/client.ts';
import type { AzureDevOpsClient } from '../../azure-devops/client.ts';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import type { GitPullRequest, GitRef, GitRepository } from '../../azure-devops/types.ts';
import type { RepositoryContext } from '../../azure-devops/url.ts';
import { formatRepositoryUrl } from '../../azure-devops/url.ts';
import type { RepositoryInfo, ResolvedPullRequest, ResolvedRef } from '../../control/repositories.ts';
import { HandlerError } from '../agent.ts';

/** What the resolution cache keeps per credential and repository. */
export interface RepositoryEntry {
  repository: RepositoryInfo;
  /** Commit ids as asked (lower case, possibly abbreviated) → full id. */
  commits: Map<string, string>;
}

export interface Resolution {
  entry: RepositoryEntry;
  ref: ResolvedRef | null;
}

const shortBranch = (ref: string): string => ref.replace(/^refs\/heads\//, '');

/** A pull request as both resolving and listing describe it. */
export function pullRequestSummary(pr: GitPullRequest) {
  return {
    id: pr.pullRequestId,
    title: pr.title ?? '',
    status: pr.status ?? 'notSet',
    isDraft: pr.isDraft ?? false,
    sourceRef: pr.sourceRefName ?? '',
    targetRef: pr.targetRefName ?? '',
    mergeRef: `refs/pull/${pr.pullRequestId}/merge`,
  };
}

export function withoutUserInfo(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return undefined;
  }
}

export function repositoryInfo(
  repo: Pick<GitRepository, 'id' | 'name' | 'project' | 'defaultBranch' | 'webUrl' | 'remoteUrl'>,
  context: RepositoryContext,
): RepositoryInfo {
  const canonical = { ...context, project: repo.project?.name ?? context.project, repository: repo.name, ref: undefined, path: undefined };
  const base = formatRepositoryUrl(canonical);
  return {
    id: repo.id,
    name: repo.name,
    project: { id: repo.project?.id ?? '', name: repo.project?.name ?? context.project },
    defaultBranch: repo.defaultBranch ? shortBranch(repo.defaultBranch) : null,
    webUrl: repo.webUrl ?? base,
    cloneUrl: withoutUserInfo(repo.remoteUrl) ?? base,
  };
}

/** The ref named `refs/{prefix}` exactly (the service's filter is a prefix match). */
async function findRef(client: AzureDevOpsClient, context: RepositoryContext, prefix: string, peel: boolean): Promise<GitRef | undefined> {
  const wanted = `refs/${prefix}`;
  for await (const ref of pages((token) =>
    client.listRefs(context.project, context.repository, {
      filter: prefix,
      ...(peel ? { peelTags: true } : {}),
      ...(token ? { continuationToken: token } : {}),
    }),
  )) {
    // No early exit on order: the service's sort order of refs is not documented.
    if (ref.name === wanted) return ref;
  }
  return undefined;
}

function refNotFound(message: string): HandlerError {
  return new HandlerError('ref_not_found', message);
}

/** 404 from a ref call means the ref is missing (the repository read, sent alongside, succeeded). */
function asRefError(err: unknown, message: string): unknown {
  return err instanceof AzureDevOpsError && err.kind === 'not-found' ? refNotFound(message) : err;
}

/**
 * Resolves the context's repository (unless `cached`) and its ref. Throws AzureDevOpsError for what
 * the caller classifies, and HandlerError `ref_not_found`, `pull_request_not_found` or
 * `pull_request_not_in_repository` for refs that do not exist.
 */
export async function resolveContext(client: AzureDevOpsClient, context: RepositoryContext, cached?: RepositoryEntry): Promise<Resolution> {
  const repositoryCall: Promise<RepositoryEntry> = cached
    ? Promise.resolve(cached)
    : client
        .getRepository(context.project, context.repository)
        .then((repo) => ({ repository: repositoryInfo(repo, context), commits: new Map() }));
  const ref = context.ref;
  const repoLabel = `repository "${context.project}/${context.repository}"`;

  let refCall: Promise<unknown>;
  switch (ref?.type) {
    case undefined:
      refCall = Promise.resolve(undefined);
      break;
    case 'branch':
      refCall = findRef(client, context, `heads/${ref.name}`, false).catch((e: unknown) =>
        Promise.reject(asRefError(e, `branch "${ref.name}" does not exist in ${repoLabel}`)),
      );
      break;
    case 'tag':
      refCall = findRef(client, context, `tags/${ref.name}`, true).catch((e: unknown) =>
        Promise.reject(asRefError(e, `tag "${ref.name}" does not exist in ${repoLabel}`)),
      );
      break;
    case 'commit': {
      const known = cached?.commits.get(ref.sha.toLowerCase());
      refCall = known
        ? Promise.resolve(known)
        : client.getCommit(context.project, context.repository, ref.sha).then(
            (commit) => commit.commitId.toLowerCase(),
            (e: unknown) => Promise.reject(asRefError(e, `commit ${ref.sha} does not exist in ${repoLabel}`)),
          );
      break;
    }
    case 'pullRequest':
      refCall = client
        .getPullRequest(context.project, ref.pullRequestId)
        .catch((e: unknown) =>
          Promise.reject(
            e instanceof AzureDevOpsError && e.kind === 'not-found'
              ? new HandlerError(
                  'pull_request_not_found',
                  `pull request ${ref.pullRequestId} does not exist in project "${context.project}", or you may not see it`,
                )
              : e,
          ),
        );
      break;
  }

  const [repoOutcome, refOutcome] = await Promise.allSettled([repositoryCall, refCall]);
  // The repository's own failure says more than its ref's (both fail when the repository is missing).
  if (repoOutcome.status === 'rejected') throw repoOutcome.reason;
  if (refOutcome.status === 'rejected') throw refOutcome.reason;
  const entry = repoOutcome.value;
  const repository = entry.repository;
  const value = refOutcome.value;

  switch (ref?.type) {
    case undefined:
      return {
        entry,
        ref: repository.defaultBranch
          ? { type: 'branch', name: repository.defaultBranch, fullName: `refs/heads/${repository.defaultBranch}`, isDefault: true }
          : null,
      };
    case 'branch': {
      const found = value as GitRef | undefined;
      if (!found) throw refNotFound(`branch "${ref.name}" does not exist in ${repoLabel}`);
      return {
        entry,
        ref: {
          type: 'branch',
          name: ref.name,
          fullName: found.name,
          sha: found.objectId,
          isDefault: repository.defaultBranch === ref.name,
        },
      };
    }
    case 'tag': {
      const found = value as GitRef | undefined;
      if (!found) throw refNotFound(`tag "${ref.name}" does not exist in ${repoLabel}`);
      // An annotated tag's objectId is the tag object; peeledObjectId is the commit.
      return { entry, ref: { type: 'tag', name: ref.name, fullName: found.name, sha: found.peeledObjectId ?? found.objectId } };
    }
    case 'commit': {
      const sha = value as string;
      entry.commits.set(ref.sha.toLowerCase(), sha);
      entry.commits.set(sha, sha);
      return { entry, ref: { type: 'commit', name: sha, sha } };
    }
    case 'pullRequest': {
      const pr = value as GitPullRequest;
      if (pr.repository?.id && pr.repository.id.toLowerCase() !== repository.id.toLowerCase()) {
        throw new HandlerError(
          'pull_request_not_in_repository',
          `pull request ${ref.pullRequestId} belongs to repository "${pr.repository.name}", not "${repository.name}"; check the URL`,
        );
      }
      const pullRequest: ResolvedPullRequest = {
        ...pullRequestSummary(pr),
        mergeStatus: pr.mergeStatus ?? null,
        sourceSha: pr.lastMergeSourceCommit?.commitId ?? null,
        targetSha: pr.lastMergeTargetCommit?.commitId ?? null,
      };
      const sha = pr.lastMergeCommit?.commitId;
      const { mergeRef } = pullRequest;
      return { entry, ref: { type: 'pullRequest', name: mergeRef, fullName: mergeRef, ...(sha ? { sha } : {}), pullRequest } };
    }
  }
}
