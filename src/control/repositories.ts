// Control-channel contract: what a runner answers about repositories (resolving a URL, listing,
// checking access). The runner builds these (runner/repositories), management relays them.

/** Why a user cannot read a repository (runner/repositories/access.ts tells them apart). */
export type AccessReason = 'not_authorized' | 'reauthorization_required' | 'not_found' | 'oauth_blocked' | 'unavailable';

export interface RepositoryInfo {
  id: string;
  name: string;
  project: { id: string; name: string };
  /** Short name (`main`); null for an empty repository. */
  defaultBranch: string | null;
  webUrl: string;
  /** HTTPS clone URL as Azure DevOps reports it, without the `{org}@` user name. */
  cloneUrl: string;
}

export interface ResolvedPullRequest {
  id: number;
  title: string;
  status: string;
  isDraft: boolean;
  /** `refs/heads/feature` */
  sourceRef: string;
  targetRef: string;
  /** `refs/pull/{id}/merge`: what a build of the pull request checks out. */
  mergeRef: string;
  mergeStatus: string | null;
  sourceSha: string | null;
  targetSha: string | null;
}

export interface ResolvedRef {
  type: 'branch' | 'tag' | 'commit' | 'pullRequest';
  /** Branch or tag short name, the full commit id, or the pull request's merge ref. */
  name: string;
  /** `refs/heads/x`, `refs/tags/x`, `refs/pull/{id}/merge`; absent for a commit. */
  fullName?: string;
  /** Commit id the ref points at; absent for the default branch of a repository URL (no extra call). */
  sha?: string;
  /** Branch only: it is the repository's default branch. */
  isDefault?: boolean;
  pullRequest?: ResolvedPullRequest;
}
