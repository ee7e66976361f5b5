// The runner's handlers for journey 3 ("Open a repository"): resolve a parsed repository URL through
// the API with the user's credential, check access with a reason, and list what the user can reach.
// Every Azure DevOps call is made here, on the runner, with a token only the runner can read.
import { createAzureDevOpsClient } from '../../azure-devops/client.ts';
import type { AzureDevOpsClient } from '../../azure-devops/client.ts';
import type { FetchLike } from '../../azure-devops/guarded-fetch.ts';
import type { AzureDevOpsEndpoints } from '../../azure-devops/endpoints.ts';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import type { Account, GitRepository, Page } from '../../azure-devops/types.ts';
import type { RepositoryContext } from '../../azure-devops/url.ts';
import type { RunnerIntegration } from '../../control/integration.ts';
import type { ControlPayload } from '../../control/registry.ts';
import { HandlerError } from '../agent.ts';
import type { HandlerSet } from '../agent.ts';
import type { CredentialStore } from '../credentials/store.ts';
import { targetFor } from '../handlers/authorizations.ts';
import type { IntegrationSource } from '../oauth/integration-config.ts';
import type { AccessToken, TokenService } from '../oauth/tokens.ts';
import { classifyAzureDevOpsError, classifyTokenError, toHandlerError } from './access.ts';
import type { AccessReason, RepositoryInfo } from '../../control/repositories.ts';
import { TtlCache, nameKey } from './cache.ts';
import { offsetPage, pageSize, skipPage } from './paging.ts';
import { pullRequestSummary, repositoryInfo, resolveContext, withoutUserInfo } from './resolve.ts';
import type { RepositoryEntry } from './resolve.ts';

export const REPOSITORY_CACHE_TTL_MS = 30_000;

export interface RepositoryHandlerDeps {
  tokens: Pick<TokenService, 'getAccessToken'> & Partial<Pick<TokenService, 'rejected' | 'succeeded'>>;
  credentials: Pick<CredentialStore, 'get'>;
  integrations: Pick<IntegrationSource, 'remember'>;
  endpoints: AzureDevOpsEndpoints;
  /** How long a user's repository reads are reused. Default 30 s. */
  cacheTtlMs?: number;
  now?: () => number;
  fetch?: FetchLike;
}

const ACCESS_REASONS = new Set<string>(['not_authorized', 'reauthorization_required', 'not_found', 'oauth_blocked', 'unavailable']);
const NAME_MAX = 256;
/** What the token service throws when an early refresh cannot give a token. */
const TOKEN_FAILURES = new Set([
  'reauthorization_required',
  'refresh_unavailable',
  'not_authorized',
  'integration_gone',
  'oauth_disabled',
  'oauth_misconfigured',
]);

interface Session {
  integration: RunnerIntegration;
  token: AccessToken;
  client(organization: string): AzureDevOpsClient;
  /** REST requests sent so far in this session (retries included). */
  calls(): number;
  recordedOrganization(): Promise<string | null>;
  /** Classifies an Azure DevOps failure into a HandlerError with an access reason. */
  fail(err: unknown, organization: string, what: string): Promise<never>;
}

interface OrganizationItem {
  name: string;
  id: string | null;
  url: string | null;
}

interface OrganizationList {
  items: OrganizationItem[];
  source: 'accounts' | 'authorization';
  note: string | null;
}

function text(value: unknown, field: string, optional = false): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (optional) return undefined;
    throw new HandlerError('invalid_request', `${field} is required`, field);
  }
  // eslint-disable-next-line no-control-regex -- names with control characters are refused
  if (typeof value !== 'string' || value.length > NAME_MAX || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new HandlerError('invalid_request', `${field} must be a name of at most ${NAME_MAX} characters`, field);
  }
  return value;
}

function checkContext(value: unknown): RepositoryContext {
  const c = value as Partial<RepositoryContext> | undefined;
  if (!c || typeof c !== 'object' || (c.kind !== 'services' && c.kind !== 'server'))
    throw new HandlerError('invalid_request', 'context is required (a parsed repository URL)', 'context');
  text(c.organization, 'context.organization');
  text(c.project, 'context.project');
  text(c.repository, 'context.repository');
  const ref = c.ref;
  if (ref !== undefined) {
    const ok =
      ((ref.type === 'branch' || ref.type === 'tag') && typeof ref.name === 'string' && ref.name !== '') ||
      (ref.type === 'commit' && typeof ref.sha === 'string' && /^[0-9a-f]{4,40}$/i.test(ref.sha)) ||
      (ref.type === 'pullRequest' && Number.isSafeInteger(ref.pullRequestId) && ref.pullRequestId > 0);
    if (!ok) throw new HandlerError('invalid_request', 'context.ref is not a branch, tag, commit or pull request', 'context.ref');
  }
  return c as RepositoryContext;
}

function shortBranch(ref: string): string {
  return ref.replace(/^refs\/heads\//, '');
}

function repositoryItem(repo: GitRepository) {
  return {
    id: repo.id,
    name: repo.name,
    project: { id: repo.project?.id ?? '', name: repo.project?.name ?? '' },
    defaultBranch: repo.defaultBranch ? shortBranch(repo.defaultBranch) : null,
    webUrl: repo.webUrl ?? null,
    cloneUrl: withoutUserInfo(repo.remoteUrl) ?? null,
    isDisabled: repo.isDisabled ?? false,
  };
}

const byName = (a: { name: string }, b: { name: string }): number =>
  a.name.localeCompare(b.name, 'en', { sensitivity: 'base' }) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/** The runner's handlers for opening repositories: `resolve-context`, `check-repository-access`, `list-*`. */
type RepositoryKind =
  | 'resolve-context'
  | 'check-repository-access'
  | 'list-organizations'
  | 'list-projects'
  | 'list-repositories'
  | 'list-branches'
  | 'list-commits'
  | 'list-pull-requests';
/** The listings inside one repository. */
type InRepositoryKind = 'list-branches' | 'list-commits' | 'list-pull-requests';

export function createRepositoryHandlers(deps: RepositoryHandlerDeps): HandlerSet<RepositoryKind> {
  const ttl = deps.cacheTtlMs ?? REPOSITORY_CACHE_TTL_MS;
  const now = deps.now ?? Date.now;
  // Per credential and repository: the repository read and the commit ids seen in it.
  const repositories = new TtlCache<RepositoryEntry>(ttl, 2000, now);
  // Per credential: whole listings the service does not page (organizations, repositories).
  const lists = new TtlCache<unknown>(ttl, 500, now);

  const repoKey = (s: Session, organization: string, project: string, repository: string): string =>
    nameKey(s.token.credentialId, s.integration.id, organization, project, repository);

  function remember(
    s: Session,
    organization: string,
    requested: { project: string; repository: string } | undefined,
    entry: RepositoryEntry,
  ): void {
    if (requested) repositories.set(repoKey(s, organization, requested.project, requested.repository), entry);
    // Also under the canonical names, so a URL naming the repository by id or the short
    // `/_git/{repo}` form finds the same entry.
    repositories.set(repoKey(s, organization, entry.repository.project.name, entry.repository.name), entry);
  }

  // The agent has checked the payload against its schema: userId and integration.id are not empty.
  async function session({ userId, integration }: Pick<ControlPayload<RepositoryKind>, 'userId' | 'integration'>): Promise<Session> {
    deps.integrations.remember(integration);
    let token: AccessToken;
    try {
      token = await deps.tokens.getAccessToken(userId, integration.id);
    } catch (err) {
      if (err instanceof HandlerError) throw toHandlerError(classifyTokenError(err, integration.host));
      throw err;
    }
    const clients: AzureDevOpsClient[] = [];
    let recorded: Promise<string | null> | undefined;
    const s: Session = {
      integration,
      token,
      client(organization) {
        const client = createAzureDevOpsClient({
          target: targetFor(integration, organization),
          endpoints: deps.endpoints,
          credential: { kind: s.token.kind, token: s.token.token },
          // A token Azure DevOps refuses before its recorded expiry is refreshed once and the
          // request retried; the session goes on with the fresh token.
          refreshCredential: async () => {
            const fresh = await deps.tokens.rejected?.(s.token, 'rest');
            if (!fresh) return undefined;
            s.token = fresh;
            return { kind: fresh.kind, token: fresh.token };
          },
          onCredentialAccepted: () => {
            if (s.token.failing) void deps.tokens.succeeded?.(s.token).then(() => (s.token = { ...s.token, failing: false }));
          },
          // The management plane waits 30 s for the answer: retry, but not past that.
          maxRetries: 2,
          maxRetryDelayMs: 5_000,
          ...(deps.fetch ? { fetch: deps.fetch } : {}),
        });
        clients.push(client);
        return client;
      },
      calls: () => clients.reduce((n, c) => n + c.stats().requests, 0),
      recordedOrganization() {
        recorded ??= deps.credentials.get(token.credentialId).then((r) => {
          const org = (r?.metadata as { organization?: unknown } | undefined)?.organization;
          return typeof org === 'string' && org ? org : null;
        });
        return recorded;
      },
      async fail(err, organization, what) {
        // An early refresh that Entra refused: the token service said why (re-authorization).
        if (err instanceof HandlerError && TOKEN_FAILURES.has(err.code)) throw toHandlerError(classifyTokenError(err, integration.host));
        if (err instanceof AzureDevOpsError) {
          throw toHandlerError(
            classifyAzureDevOpsError(err, {
              kind: token.kind,
              deployment: integration.kind,
              organization,
              recordedOrganization: await s.recordedOrganization(),
              what,
            }),
          );
        }
        throw err;
      },
    };
    return s;
  }

  async function organizations(s: Session): Promise<OrganizationList> {
    const recorded = await s.recordedOrganization();
    const fallback = (note: string): OrganizationList => ({
      items: recorded ? [{ name: recorded, id: null, url: null }] : [],
      source: 'authorization',
      note,
    });
    if (s.integration.kind === 'server') {
      return fallback(
        'Azure DevOps Server has no organization listing for a user: the collection recorded with your authorization is listed; type another collection name to use it.',
      );
    }
    // Profile and accounts live on app.vssps.visualstudio.com; the client still wants an
    // organization for its collection URL, which these two calls never use.
    const client = s.client(recorded ?? 'organizations');
    try {
      const profile = await client.getProfile();
      const accounts: Account[] = (await client.listAccounts(profile.id)).items;
      const items = accounts
        .filter((a) => !a.accountStatus || a.accountStatus === 'enabled')
        .map((a) => ({ name: a.accountName, id: a.accountId ?? null, url: a.accountUri ?? null }))
        .sort(byName);
      return { items, source: 'accounts', note: null };
    } catch (err) {
      if (!(err instanceof AzureDevOpsError) || (err.kind !== 'unauthenticated' && err.kind !== 'forbidden'))
        return s.fail(err, recorded ?? 'organizations', 'your organizations');
      return fallback(
        s.token.kind === 'pat'
          ? `Azure DevOps lists your organizations (profile and accounts) only for a Personal Access Token valid for all accessible organizations with the User Profile (Read) scope; this token is not, so only the organization recorded with it${recorded ? ` ("${recorded}")` : ''} is listed. Type another organization name to use it.`
          : 'Keyway signs in with the Code scopes only, without User Profile (Read), so Azure DevOps does not list your organizations for this sign-in. Type the organization name, or paste a repository URL.',
      );
    }
  }

  async function repositoryList(s: Session, organization: string, project: string | undefined): Promise<GitRepository[]> {
    const key = `${nameKey(s.token.credentialId, s.integration.id, 'repositories', organization)}\u0000${project === undefined ? '*' : nameKey(project)}`;
    const hit = lists.get(key) as GitRepository[] | undefined;
    if (hit) return hit;
    const client = s.client(organization);
    let repos: GitRepository[];
    try {
      // The service answers the whole list at once (no paging parameters in git/7.1).
      repos = (await client.listRepositories(project)).items;
    } catch (err) {
      return s.fail(
        err,
        organization,
        project === undefined ? `the repositories of organization "${organization}"` : `project "${project}"`,
      );
    }
    repos = [...repos].sort((a, b) => byName({ name: a.project?.name ?? '' }, { name: b.project?.name ?? '' }) || byName(a, b));
    lists.set(key, repos);
    // A listed repository resolves warm afterwards.
    for (const repo of repos) {
      if (!repo.project?.name || !repo.webUrl || !repo.remoteUrl) continue;
      const info: RepositoryInfo = repositoryInfo(repo, {
        kind: s.integration.kind,
        host: s.integration.host,
        origin: s.integration.origin,
        organization,
        project: repo.project.name,
        repository: repo.name,
        cloneUrl: '',
        webUrl: '',
      });
      const key2 = repoKey(s, organization, info.project.name, info.name);
      if (!repositories.get(key2)) repositories.set(key2, { repository: info, commits: new Map() });
    }
    return repos;
  }

  function listing<T>(page: Page<T>, s: Session, extra: Record<string, unknown> = {}) {
    return { items: page.items, continuationToken: page.continuationToken ?? null, calls: s.calls(), ...extra };
  }

  // The schema says only "a string"; text() refuses empty, overlong and control-character names.
  function repositoryArgs(p: Pick<ControlPayload<InRepositoryKind>, 'organization' | 'project' | 'repository'>) {
    return {
      organization: text(p.organization, 'organization')!,
      project: text(p.project, 'project')!,
      repository: text(p.repository, 'repository')!,
    };
  }

  return {
    'resolve-context': async (payload) => {
      const context = checkContext(payload.context);
      const s = await session(payload);
      const key = repoKey(s, context.organization, context.project, context.repository);
      const cached = repositories.get(key);
      try {
        const { entry, ref } = await resolveContext(s.client(context.organization), context, cached);
        remember(s, context.organization, context, entry);
        return { repository: entry.repository, ref, calls: s.calls(), cached: cached !== undefined };
      } catch (err) {
        if (err instanceof AzureDevOpsError) repositories.delete(key);
        return s.fail(err, context.organization, `repository "${context.project}/${context.repository}"`);
      }
    },

    'check-repository-access': async (payload) => {
      const context = checkContext(payload.context);
      let s: Session;
      try {
        s = await session(payload);
      } catch (err) {
        if (err instanceof HandlerError && ACCESS_REASONS.has(err.code))
          return { hasAccess: false, reason: err.code as AccessReason, errorMessage: err.message, calls: 0 };
        throw err;
      }
      const key = repoKey(s, context.organization, context.project, context.repository);
      try {
        // Always asked (never answered from the cache), and the answer warms the cache.
        const repo = await s.client(context.organization).getRepository(context.project, context.repository);
        const entry: RepositoryEntry = { repository: repositoryInfo(repo, context), commits: repositories.get(key)?.commits ?? new Map() };
        remember(s, context.organization, context, entry);
        return { hasAccess: true, reason: null, errorMessage: null, repository: entry.repository, calls: s.calls() };
      } catch (err) {
        if (err instanceof HandlerError && TOKEN_FAILURES.has(err.code)) {
          const failure = classifyTokenError(err, s.integration.host);
          return { hasAccess: false, reason: failure.reason, errorMessage: failure.message, calls: s.calls() };
        }
        if (!(err instanceof AzureDevOpsError)) throw err;
        repositories.delete(key);
        const failure = classifyAzureDevOpsError(err, {
          kind: s.token.kind,
          deployment: s.integration.kind,
          organization: context.organization,
          recordedOrganization: await s.recordedOrganization(),
          what: `repository "${context.project}/${context.repository}"`,
        });
        return { hasAccess: false, reason: failure.reason, errorMessage: failure.message, calls: s.calls() };
      }
    },

    'list-organizations': async (payload) => {
      const p = payload;
      const top = pageSize(p.top);
      const s = await session(payload);
      const key = nameKey(s.token.credentialId, s.integration.id, 'organizations');
      let list = lists.get(key) as OrganizationList | undefined;
      if (!list) {
        list = await organizations(s);
        lists.set(key, list);
      }
      return listing(offsetPage(list.items, top, p.continuationToken), s, { source: list.source, note: list.note });
    },

    'list-projects': async (payload) => {
      const p = payload;
      const organization = text(p.organization, 'organization')!;
      const top = pageSize(p.top);
      const s = await session(payload);
      // Projects come from the organization's repository list: listing projects needs the Project
      // and Team (Read) scope (vso.project), which Keyway's sign-in and PAT instructions do not ask
      // for; the repository list needs Code (Read) only. Projects without a repository the user can
      // see are therefore not listed, which is what opening a repository needs.
      const repos = await repositoryList(s, organization, undefined);
      const projects = new Map<string, { id: string; name: string }>();
      for (const r of repos)
        if (r.project?.id && !projects.has(r.project.id)) projects.set(r.project.id, { id: r.project.id, name: r.project.name });
      return listing(offsetPage([...projects.values()].sort(byName), top, p.continuationToken), s, { source: 'repositories' });
    },

    'list-repositories': async (payload) => {
      const p = payload;
      const organization = text(p.organization, 'organization')!;
      const project = text(p.project, 'project', true);
      const top = pageSize(p.top);
      const s = await session(payload);
      const repos = await repositoryList(s, organization, project);
      return listing(offsetPage(repos.map(repositoryItem), top, p.continuationToken), s);
    },

    'list-branches': async (payload) => {
      const p = payload;
      const { organization, project, repository } = repositoryArgs(payload);
      const top = pageSize(p.top);
      const token = text(p.continuationToken, 'continuationToken', true);
      const s = await session(payload);
      let page: Page<{ name: string; fullName: string; sha: string }>;
      try {
        // The service pages refs with its own continuation token: passed through as is.
        const refs = await s
          .client(organization)
          .listRefs(project, repository, { filter: 'heads/', top, ...(token ? { continuationToken: token } : {}) });
        page = {
          items: refs.items.map((r) => ({ name: shortBranch(r.name), fullName: r.name, sha: r.objectId })),
          ...(refs.continuationToken ? { continuationToken: refs.continuationToken } : {}),
        };
      } catch (err) {
        return s.fail(err, organization, `repository "${project}/${repository}"`);
      }
      return listing(page, s);
    },

    'list-commits': async (payload) => {
      const p = payload;
      const { organization, project, repository } = repositoryArgs(payload);
      const branch = text(p.branch, 'branch', true);
      const top = pageSize(p.top);
      const s = await session(payload);
      const client = s.client(organization);
      try {
        // Commits page by $top/$skip only (git/7.1): the continuation token is the next offset.
        const page = await skipPage(top, p.continuationToken, (skip, n) =>
          client.listCommits(project, repository, { top: n, skip, ...(branch ? { branch } : {}) }),
        );
        return listing(
          {
            ...page,
            items: page.items.map((c) => ({
              sha: c.commitId,
              message: c.comment ?? '',
              author: { name: c.author?.name ?? null, email: c.author?.email ?? null, date: c.author?.date ?? null },
              committer: { name: c.committer?.name ?? null, email: c.committer?.email ?? null, date: c.committer?.date ?? null },
            })),
          },
          s,
        );
      } catch (err) {
        if (err instanceof AzureDevOpsError && err.kind === 'not-found' && branch && err.tfCode === 'TF401175') {
          throw new HandlerError('ref_not_found', `branch "${branch}" does not exist in repository "${project}/${repository}"`);
        }
        return s.fail(err, organization, `repository "${project}/${repository}"`);
      }
    },

    'list-pull-requests': async (payload) => {
      const p = payload;
      const { organization, project, repository } = repositoryArgs(payload);
      const status = text(p.status, 'status', true) ?? 'active';
      if (!['active', 'completed', 'abandoned', 'all'].includes(status))
        throw new HandlerError('invalid_request', 'status must be active, completed, abandoned or all', 'status');
      const top = pageSize(p.top);
      const s = await session(payload);
      const client = s.client(organization);
      try {
        const page = await skipPage(top, p.continuationToken, (skip, n) =>
          client.listPullRequests(project, repository, { status: status as 'active' | 'completed' | 'abandoned' | 'all', top: n, skip }),
        );
        return listing(
          {
            ...page,
            items: page.items.map((pr) => ({
              ...pullRequestSummary(pr),
              createdBy: pr.createdBy?.displayName ?? null,
              creationDate: pr.creationDate ?? null,
            })),
          },
          s,
        );
      } catch (err) {
        return s.fail(err, organization, `repository "${project}/${repository}"`);
      }
    },
  };
}
