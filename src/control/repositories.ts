// Control-channel contract: what a runner answers about repositories (resolving a URL, listing,
// checking access). The runner builds these (runner/repositories), management relays them.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { Nullable } from './schema.ts';

/** Why a user cannot read a repository (runner/repositories/access.ts tells them apart). */
export const ACCESS_REASONS = ['not_authorized', 'reauthorization_required', 'not_found', 'oauth_blocked', 'unavailable'] as const;
export type AccessReason = (typeof ACCESS_REASONS)[number];

export const RepositoryInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  project: Type.Object({ id: Type.String(), name: Type.String() }),
  /** Short name (`main`); null for an empty repository. */
  defaultBranch: Nullable(Type.String()),
  webUrl: Type.String(),
  /** HTTPS clone URL as Azure DevOps reports it, without the `{org}@` user name. */
  cloneUrl: Type.String(),
});
export type RepositoryInfo = Static<typeof RepositoryInfo>;

/**
 * What a resolved pull request and a listed one both say (runner/repositories/resolve.ts
 * pullRequestSummary). The id stays outside: a number in one, an integer in the other, and the
 * API document says so.
 */
const PULL_REQUEST_SUMMARY = {
  title: Type.String(),
  status: Type.String(),
  isDraft: Type.Boolean(),
  /** `refs/heads/feature` */
  sourceRef: Type.String(),
  targetRef: Type.String(),
  /** `refs/pull/{id}/merge`: what a build of the pull request checks out. */
  mergeRef: Type.String(),
};

export const ResolvedPullRequest = Type.Object({
  id: Type.Number(),
  ...PULL_REQUEST_SUMMARY,
  mergeStatus: Nullable(Type.String()),
  sourceSha: Nullable(Type.String()),
  targetSha: Nullable(Type.String()),
});
export type ResolvedPullRequest = Static<typeof ResolvedPullRequest>;

export const ResolvedRef = Type.Object({
  type: Type.Enum(['branch', 'tag', 'commit', 'pullRequest'] as const),
  /** Branch or tag short name, the full commit id, or the pull request's merge ref. */
  name: Type.String(),
  /** `refs/heads/x`, `refs/tags/x`, `refs/pull/{id}/merge`; absent for a commit. */
  fullName: Type.Optional(Type.String()),
  /** Commit id the ref points at; absent for the default branch of a repository URL (no extra call). */
  sha: Type.Optional(Type.String()),
  /** Branch only: it is the repository's default branch. */
  isDefault: Type.Optional(Type.Boolean()),
  pullRequest: Type.Optional(ResolvedPullRequest),
});
export type ResolvedRef = Static<typeof ResolvedRef>;

/** resolve-context: the repository a parsed URL names, and its ref resolved. */
export const ResolveContextResult = Type.Object({
  repository: RepositoryInfo,
  ref: Nullable(ResolvedRef),
  /** Azure DevOps requests this answer took (0 when all came from the runner's cache). */
  calls: Type.Number(),
  cached: Type.Boolean(),
});

/** check-repository-access: a refusal is an answer (with its reason), not a failure. */
export const RepositoryAccessResult = Type.Object({
  hasAccess: Type.Boolean(),
  reason: Nullable(Type.Enum(ACCESS_REASONS)),
  errorMessage: Nullable(Type.String()),
  repository: Type.Optional(RepositoryInfo),
  calls: Type.Number(),
});

/** One page of a listing; `continuationToken` null on the last page. */
export const Listing = <T extends Parameters<typeof Type.Array>[0]>(item: T, extra: Parameters<typeof Type.Object>[0] = {}) =>
  Type.Object({ items: Type.Array(item), continuationToken: Nullable(Type.String()), calls: Type.Number(), ...extra });

const Person = Type.Object({ name: Nullable(Type.String()), email: Nullable(Type.String()), date: Nullable(Type.String()) });

/**
 * What one item of each listing holds, and what a page of it adds: what the runner answers and what
 * the management plane's API relays (src/management/repositories/routes.ts pages these), one schema
 * for both.
 */
export const LISTING_ITEMS = {
  organizations: {
    item: Type.Object({ name: Type.String(), id: Nullable(Type.String()), url: Nullable(Type.String()) }),
    extra: {
      /** accounts: the organizations Azure DevOps lists for the user; authorization: the one recorded with the authorization. */
      source: Type.Union([Type.Literal('accounts'), Type.Literal('authorization')]),
      note: Nullable(Type.String({ description: 'Why the list may be incomplete' })),
    },
  },
  projects: { item: Type.Object({ id: Type.String(), name: Type.String() }), extra: { source: Type.Literal('repositories') } },
  repositories: {
    item: Type.Object({
      id: Type.String(),
      name: Type.String(),
      project: Type.Object({ id: Type.String(), name: Type.String() }),
      defaultBranch: Nullable(Type.String()),
      webUrl: Nullable(Type.String()),
      cloneUrl: Nullable(Type.String()),
      isDisabled: Type.Boolean(),
    }),
    extra: {},
  },
  branches: { item: Type.Object({ name: Type.String(), fullName: Type.String(), sha: Type.String() }), extra: {} },
  commits: { item: Type.Object({ sha: Type.String(), message: Type.String(), author: Person, committer: Person }), extra: {} },
  'pull-requests': {
    item: Type.Object({
      id: Type.Integer(),
      ...PULL_REQUEST_SUMMARY,
      createdBy: Nullable(Type.String()),
      creationDate: Nullable(Type.String()),
    }),
    extra: {},
  },
} as const;

export const OrganizationListing = Listing(LISTING_ITEMS.organizations.item, LISTING_ITEMS.organizations.extra);
export const ProjectListing = Listing(LISTING_ITEMS.projects.item, LISTING_ITEMS.projects.extra);
export const RepositoryListing = Listing(LISTING_ITEMS.repositories.item);
export const BranchListing = Listing(LISTING_ITEMS.branches.item);
export const CommitListing = Listing(LISTING_ITEMS.commits.item);
export const PullRequestListing = Listing(LISTING_ITEMS['pull-requests'].item);
