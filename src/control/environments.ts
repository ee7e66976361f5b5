// What the management plane and a runner exchange about environments. Shared by both planes;
// nothing here is ever a credential: the runner fetches the user's token itself, and the helper's
// secret never leaves the runner's disk.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import type { RepositoryRef } from '../azure-devops/url.ts';
import { RunnerIntegration } from './integration.ts';
import { NonEmpty, Nullable } from './schema.ts';

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
export const PULL_REQUEST_CHECKOUTS = ['merge', 'source'] as const;
export type PullRequestCheckout = (typeof PULL_REQUEST_CHECKOUTS)[number];

export const EnvironmentRepository = Type.Object({
  kind: Type.Enum(['services', 'server'] as const),
  host: NonEmpty(),
  origin: NonEmpty(),
  virtualDirectory: Type.Optional(Type.String()),
  organization: NonEmpty(),
  collection: Type.Optional(Type.String()),
  project: NonEmpty(),
  repository: NonEmpty(),
});
export type EnvironmentRepository = Static<typeof EnvironmentRepository>;

/**
 * How much of the repository an environment fetches: per request, else the integration's defaults,
 * else everything.
 */
export const EnvironmentCloneOptions = Type.Object({
  /** `blob:none`: a blobless partial clone (file contents arrive when git needs them); null: every object. */
  filter: Type.Optional(Nullable(Type.Literal('blob:none'))),
  /** Commits of history to fetch (a shallow clone); null: all of it. */
  depth: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 1_000_000 }))),
});
export type EnvironmentCloneOptions = Static<typeof EnvironmentCloneOptions>;

/** A ref as the URL parser gives it; the runner checks a name again before it reaches git's command line. */
const RepositoryRefSchema = Type.Unsafe<RepositoryRef>(
  Type.Object({ type: Type.Enum(['branch', 'tag', 'commit', 'pullRequest'] as const) }),
);

export const EnvironmentCreatePayload = Type.Object({
  environmentId: NonEmpty(),
  userId: NonEmpty(),
  integration: RunnerIntegration,
  repository: EnvironmentRepository,
  ref: Type.Optional(RepositoryRefSchema),
  pullRequestCheckout: Type.Optional(Type.Enum(PULL_REQUEST_CHECKOUTS)),
  clone: Type.Optional(EnvironmentCloneOptions),
});
export type EnvironmentCreatePayload = Static<typeof EnvironmentCreatePayload>;

export const EnvironmentCreateResult = Type.Object({
  workspacePath: Type.String(),
  /** The credential-free remote URL configured as `origin`. */
  remoteUrl: Type.String(),
});
export type EnvironmentCreateResult = Static<typeof EnvironmentCreateResult>;

export const EnvironmentProgressValue = Type.Object({ phase: Type.String(), percent: Type.Number(), phases: Type.Array(Type.String()) });
export type EnvironmentProgressValue = Static<typeof EnvironmentProgressValue>;

export const EnvironmentCheckout = Type.Object({
  /** The commit HEAD points at. */
  commit: Type.String(),
  /** e.g. "branch main", "tag v1.0 (detached)", "pull request 7 merge commit (detached)". */
  description: Type.String(),
  /** The local branch checked out, when HEAD is on one. */
  branch: Nullable(Type.String()),
});
export type EnvironmentCheckout = Static<typeof EnvironmentCheckout>;

/** What a workspace takes and when its git last asked for a credential. */
export const EnvironmentUsage = Type.Object({ diskBytes: Type.Number(), lastUsedAt: Nullable(Type.String()) });
export type EnvironmentUsage = Static<typeof EnvironmentUsage>;

const reportFields = {
  progress: Type.Optional(EnvironmentProgressValue),
  error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  checkout: Type.Optional(EnvironmentCheckout),
  usage: Type.Optional(EnvironmentUsage),
};

/**
 * One report from the runner. `status` moves only from cloning to ready or failed; `deleted` confirms
 * a deletion (one that was queued while the runner was unreachable finishes with it); `usage`
 * updates disk use and last use; `removed` says the runner removed the environment by itself
 * (idle too long), with the reason in `error`.
 */
export const EnvironmentProgressReport = Type.Object({
  status: Type.Enum(['cloning', 'ready', 'failed', 'deleted', 'usage', 'removed'] as const),
  ...reportFields,
});
export type EnvironmentProgressReport = Static<typeof EnvironmentProgressReport>;

/** A report about the clone itself (not a deletion). */
export const CloneReport = Type.Object({ status: Type.Enum(['cloning', 'ready', 'failed'] as const), ...reportFields });
export type CloneReport = Static<typeof CloneReport>;

export const EnvironmentStatusResult = Type.Object({ ...CloneReport.properties, exists: Type.Boolean() });
export type EnvironmentStatusResult = Static<typeof EnvironmentStatusResult>;

/** environment-delete: which environment, and who asked (for the runner's log). */
export const EnvironmentDeletePayload = Type.Object({ environmentId: NonEmpty(), userId: Type.Optional(Type.String()) });
export type EnvironmentDeletePayload = Static<typeof EnvironmentDeletePayload>;

/** A runner process reports its repository cache's disk use here (runner auth; totals only, never which repositories). */
export const REPOSITORY_CACHE_REPORT_PATH = '/api/v1/runner/repository-cache';

export interface RepositoryCacheReport {
  /** `{hostname}:{dataDir}` of the runner process (replicas report one each). */
  instance: string;
  bytes: number;
  limitBytes: number;
  repositories: number;
}
