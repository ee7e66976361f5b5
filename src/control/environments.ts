// What the management plane and a runner exchange about environments. Shared by both planes;
// nothing here is ever a credential: the runner fetches the user's token itself, and the helper's
// secret never leaves the runner's disk.
import type { RepositoryRef } from '../azure-devops/url.ts';
import type { RunnerIntegration } from './integration.ts';

export const ENVIRONMENT_REQUESTS = {
  /** Check access, prepare the workspace and start the clone; answers before the clone finishes. */
  create: 'environment-create',
  /** Stop a clone in progress, invalidate the helper secret, remove the workspace. */
  delete: 'environment-delete',
  /** The runner's view of an environment (reconciles a progress report that got lost). */
  status: 'environment-status',
} as const;

/** The runner posts progress here (runner auth; only its own environments). */
export const environmentProgressPath = (environmentId: string) =>
  `/api/v1/runner/environments/${encodeURIComponent(environmentId)}/progress`;

export type EnvironmentStatus = 'cloning' | 'ready' | 'failed' | 'deleting';

/** Which commit of a pull request to check out: the service's merge of source into target, or the source branch. */
export type PullRequestCheckout = 'merge' | 'source';

export interface EnvironmentRepository {
  kind: 'services' | 'server';
  host: string;
  origin: string;
  virtualDirectory?: string;
  organization: string;
  collection?: string;
  project: string;
  repository: string;
}

/**
 * How much of the repository an environment fetches: per request, else the integration's defaults,
 * else everything.
 */
export interface EnvironmentCloneOptions {
  /** `blob:none`: a blobless partial clone (file contents arrive when git needs them); null: every object. */
  filter?: 'blob:none' | null;
  /** Commits of history to fetch (a shallow clone); null: all of it. */
  depth?: number | null;
}

export interface EnvironmentCreatePayload {
  environmentId: string;
  userId: string;
  integration: RunnerIntegration;
  repository: EnvironmentRepository;
  ref?: RepositoryRef;
  pullRequestCheckout?: PullRequestCheckout;
  clone?: EnvironmentCloneOptions;
}

export interface EnvironmentCreateResult {
  workspacePath: string;
  /** The credential-free remote URL configured as `origin`. */
  remoteUrl: string;
}

export interface EnvironmentProgressValue {
  phase: string;
  percent: number;
  phases: string[];
}

export interface EnvironmentCheckout {
  /** The commit HEAD points at. */
  commit: string;
  /** e.g. "branch main", "tag v1.0 (detached)", "pull request 7 merge commit (detached)". */
  description: string;
  /** The local branch checked out, when HEAD is on one. */
  branch: string | null;
}

/** What a workspace takes and when its git last asked for a credential. */
export interface EnvironmentUsage {
  diskBytes: number;
  lastUsedAt: string | null;
}

/**
 * One report from the runner. `status` moves only from cloning to ready or failed; `deleted` confirms
 * a deletion (one that was queued while the runner was unreachable finishes with it); `usage`
 * updates disk use and last use; `removed` says the runner removed the environment by itself
 * (idle too long), with the reason in `error`.
 */
export interface EnvironmentProgressReport {
  status: 'cloning' | 'ready' | 'failed' | 'deleted' | 'usage' | 'removed';
  progress?: EnvironmentProgressValue;
  error?: { code: string; message: string };
  checkout?: EnvironmentCheckout;
  usage?: EnvironmentUsage;
}

/** A report about the clone itself (not a deletion). */
export type CloneReport = EnvironmentProgressReport & { status: 'cloning' | 'ready' | 'failed' };

export interface EnvironmentStatusResult extends CloneReport {
  exists: boolean;
}

/** A runner process reports its repository cache's disk use here (runner auth; totals only, never which repositories). */
export const REPOSITORY_CACHE_REPORT_PATH = '/api/v1/runner/repository-cache';

export interface RepositoryCacheReport {
  /** `{hostname}:{dataDir}` of the runner process (replicas report one each). */
  instance: string;
  bytes: number;
  limitBytes: number;
  repositories: number;
}
