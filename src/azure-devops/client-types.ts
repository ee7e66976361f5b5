// The Azure DevOps client's public surface: its options, its methods and what they answer.
// client.ts builds one; transport.ts, operations.ts, paging.ts and probe.ts do the work.

import type { FetchLike } from './guarded-fetch.ts';
import type { AzureDevOpsEndpoints, AzureDevOpsTarget } from './endpoints.ts';
import type { RatePacer } from './pacing.ts';
import type { RateLimitInfo } from './retry.ts';
import type { Sleep } from '../http/retry.ts';
import type {
  Account,
  AzureDevOpsCredential,
  Conditional,
  ConnectionData,
  GitCommit,
  GitCommitRef,
  GitPullRequest,
  GitRef,
  GitRepository,
  GitVersion,
  ItemContent,
  Page,
  PatCreateRequest,
  PatToken,
  ProbeResult,
  Profile,
  PullRequestStatus,
  TeamProject,
  TeamProjectReference,
  VariableGroup,
  VariableGroupParameters,
} from './types.ts';

export interface AzureDevOpsClientOptions {
  target: AzureDevOpsTarget;
  /** Overrides of the Services hosts (sovereign clouds, the emulator); ignored for Server targets. */
  endpoints?: Partial<AzureDevOpsEndpoints>;
  credential: AzureDevOpsCredential;
  fetch?: FetchLike;
  sleep?: Sleep;
  /** Uniform [0, 1) for backoff jitter. */
  random?: () => number;
  /** Epoch milliseconds (Retry-After dates). */
  now?: () => number;
  /** Retries after the first attempt for 5xx and network failures. Default 3. */
  maxRetries?: number;
  /** Retries of requests refused with 429 (they did not run; see RetryPolicy). Default 8. */
  maxThrottledRetries?: number;
  /** Longest single wait before a retry. Default 60 000. */
  maxRetryDelayMs?: number;
  /** First backoff ceiling for 5xx and network retries. Default 500. */
  baseRetryDelayMs?: number;
  /** Per attempt, including reading the body. Default 30 000. */
  timeoutMs?: number;
  /** Larger answers fail with `unexpected-response`. Default 32 MiB. */
  maxResponseBytes?: number;
  /** Called with the `X-RateLimit-*` values of every response that carries them (also 200s). */
  onRateLimit?: (info: RateLimitInfo) => void;
  /**
   * Turns the rate-limit headers into waits before the next request (pacing.ts). Default: one pacer
   * per credential and host in this process, shared by every client built with that token.
   */
  pacer?: RatePacer;
  /** Default `Keyway/{version}`. */
  userAgent?: string;
  /**
   * Asked once per client when Azure DevOps refuses the credential itself (401 TF400813 for a token
   * it does not accept, or the sign-in page): a fresh credential to retry the request with, or
   * undefined when none can help. What it throws reaches the caller instead of the refusal.
   */
  refreshCredential?: () => Promise<AzureDevOpsCredential | undefined>;
  /** Called after each answer that accepted the credential (a 2xx). */
  onCredentialAccepted?: () => void;
}

export interface CallOptions {
  /** Cancels the call, including waits between retries. */
  signal?: AbortSignal;
}

export interface ListProjectsOptions extends CallOptions {
  stateFilter?: 'deleting' | 'new' | 'wellFormed' | 'createPending' | 'all' | 'unchanged' | 'deleted';
  top?: number;
  skip?: number;
  continuationToken?: string;
}

export interface ListRepositoriesOptions extends CallOptions {
  includeHidden?: boolean;
}

export interface ListRefsOptions extends CallOptions {
  /** Prefix without `refs/`: `heads/`, `tags/`, `heads/release/`. A leading `refs/` is removed. */
  filter?: 'heads/' | 'tags/' | (string & {});
  /** Substring match on the ref name. */
  filterContains?: string;
  peelTags?: boolean;
  top?: number;
  continuationToken?: string;
}

export interface ListCommitsOptions extends CallOptions {
  /** Branch name without `refs/heads/`; default branch when absent. */
  branch?: string;
  top?: number;
  skip?: number;
}

export interface ListPullRequestsOptions extends CallOptions {
  /** Default (service side): `active`. */
  status?: PullRequestStatus;
  sourceRefName?: string;
  targetRefName?: string;
  top?: number;
  skip?: number;
}

export interface ListVariableGroupsOptions extends CallOptions {
  /** Exact name, or a pattern with `*`. */
  groupName?: string;
  actionFilter?: 'none' | 'manage' | 'use';
  queryOrder?: 'idAscending' | 'idDescending';
  top?: number;
  continuationToken?: string;
}

export interface ListPatsOptions extends CallOptions {
  displayFilterOption?: 'active' | 'revoked' | 'expired' | 'all';
  top?: number;
  continuationToken?: string;
}

export interface ClientStats {
  /** HTTP requests sent (each attempt counts). */
  requests: number;
  /** Of those, how many were retries. */
  retries: number;
  /** Milliseconds spent waiting because Azure DevOps's rate-limit headers asked for it (before any 429). */
  pacedMs?: number;
}

export interface AzureDevOpsClient {
  readonly target: AzureDevOpsTarget;
  /** `https://dev.azure.com/{org}` or `{origin}{vdir}/{collection}`. */
  readonly collectionUrl: string;

  /** `GET {collection}/_apis/connectionData`: who the credential is, and what kind of deployment answers. */
  connectionData(opts?: CallOptions): Promise<ConnectionData>;
  /**
   * Whether the credential may open a push to a repository, without pushing: git's receive-pack
   * advertisement (`GET …/_git/{repo}/info/refs?service=git-receive-pack`), which changes nothing.
   * `allowed` (the advertisement came), `refused` (401/403), or `unknown` (anything else).
   */
  probeReceivePack(project: string, repository: string, opts?: CallOptions): Promise<'allowed' | 'refused' | 'unknown'>;
  /** Unauthenticated: does the target URL answer like Azure DevOps at all? Never throws for network failures. */
  probeHost(opts?: CallOptions): Promise<ProbeResult>;

  /** Services only: `GET {vssps}/_apis/profile/profiles/me`. */
  getProfile(opts?: CallOptions): Promise<Profile>;
  /** Services only: organizations `memberId` belongs to. */
  listAccounts(memberId: string, opts?: CallOptions): Promise<Page<Account>>;

  listProjects(opts?: ListProjectsOptions): Promise<Page<TeamProjectReference>>;
  getProject(projectNameOrId: string, opts?: CallOptions & { includeCapabilities?: boolean }): Promise<TeamProject>;

  /** Repositories of a project, or of the whole organization when `project` is undefined. */
  listRepositories(project?: string, opts?: ListRepositoriesOptions): Promise<Page<GitRepository>>;
  getRepository(project: string, repositoryNameOrId: string, opts?: CallOptions): Promise<GitRepository>;
  listRefs(project: string, repository: string, opts?: ListRefsOptions): Promise<Page<GitRef>>;
  getCommit(project: string, repository: string, commitId: string, opts?: CallOptions): Promise<GitCommit>;
  /** Newest first. The service pages commits by `top`/`skip` only. */
  listCommits(project: string, repository: string, opts?: ListCommitsOptions): Promise<Page<GitCommitRef>>;
  /** The file's bytes at a version (default branch when `version` is absent). */
  getItemContent(project: string, repository: string, path: string, version?: GitVersion, opts?: CallOptions): Promise<ItemContent>;
  getPullRequest(project: string, pullRequestId: number, opts?: CallOptions): Promise<GitPullRequest>;
  listPullRequests(project: string, repository: string, opts?: ListPullRequestsOptions): Promise<Page<GitPullRequest>>;

  listVariableGroups(project: string, opts?: ListVariableGroupsOptions): Promise<Page<VariableGroup>>;
  getVariableGroup(project: string, groupId: number, opts?: CallOptions): Promise<VariableGroup>;
  /** POST: not retried after a 5xx or network failure (it may have been applied). */
  addVariableGroup(body: VariableGroupParameters, opts?: CallOptions): Promise<VariableGroup>;
  updateVariableGroup(groupId: number, body: VariableGroupParameters, opts?: CallOptions): Promise<VariableGroup>;
  /** Removes the group from these projects (deleted when no project is left). */
  deleteVariableGroup(groupId: number, projectIds: readonly string[], opts?: CallOptions): Promise<void>;

  /** Services only, Entra user token only. */
  listPats(opts?: ListPatsOptions): Promise<Page<PatToken>>;
  /** Services only, Entra user token only. The result's `token` is the new secret. */
  createPat(request: PatCreateRequest, opts?: CallOptions): Promise<PatToken>;
  /** Services only, Entra user token only. */
  revokePat(authorizationId: string, opts?: CallOptions): Promise<void>;

  /**
   * Conditional GETs: `client.ifNoneMatch(etag).getRepository(p, r)` answers `{ notModified: true }`
   * on 304, else the value with its `ETag`. Pass `null` when nothing is cached yet, to get the ETag.
   */
  ifNoneMatch(etag: string | null): ConditionalReads;

  stats(): ClientStats;
  /** The last `X-RateLimit-*` values seen, if any. */
  lastRateLimit(): RateLimitInfo | undefined;
}

export type ConditionalReadName =
  | 'listProjects'
  | 'getProject'
  | 'listRepositories'
  | 'getRepository'
  | 'listRefs'
  | 'getItemContent'
  | 'getPullRequest'
  | 'listPullRequests'
  | 'listVariableGroups'
  | 'getVariableGroup';

export type ConditionalReads = {
  [K in ConditionalReadName]: (
    ...args: Parameters<AzureDevOpsClient[K]>
  ) => Promise<Conditional<Awaited<ReturnType<AzureDevOpsClient[K]>>>>;
};
