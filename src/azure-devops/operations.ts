// The operations: for each REST call, where it goes (area, path, api-version, query) and how its
// answer is read, as a Plan for the transport. Nothing here sends a request.

import type {
  CallOptions,
  ListPatsOptions,
  ListProjectsOptions,
  ListRefsOptions,
  ListCommitsOptions,
  ListPullRequestsOptions,
  ListRepositoriesOptions,
  ListVariableGroupsOptions,
} from './client-types.ts';
import {
  API_VERSION,
  buildUrl,
  patsUrl,
  vsspsUrl,
  type AzureDevOpsEndpoints,
  type AzureDevOpsTarget,
  type QueryValue,
} from './endpoints.ts';
import type { AzureDevOpsError, AzureDevOpsErrorInit } from './errors.ts';
import { listOf, pageInBody } from './paging.ts';
import { asObject, jsonObject, type Fresh, type Method, type Plan } from './plan.ts';
import type {
  Account,
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
  Profile,
  TeamProject,
  TeamProjectReference,
  VariableGroup,
  VariableGroupParameters,
} from './types.ts';

export interface OperationContext {
  target: AzureDevOpsTarget;
  endpoints: AzureDevOpsEndpoints;
  /** The collection URL. */
  base: string;
  /** The kind of credential the client was built with (the PAT API takes only an Entra user token). */
  credentialKind: 'pat' | 'bearer';
  /** Builds an error from redacted text. */
  fail: (init: AzureDevOpsErrorInit) => AzureDevOpsError;
}

const PATS_REFUSAL_HINT = 'The PAT lifecycle API accepts only an Entra ID user token (not a PAT, not a service principal).';

function positiveInt(n: number, what: string): string {
  if (!Number.isSafeInteger(n) || n <= 0) throw new TypeError(`${what} must be a positive integer`);
  return String(n);
}

const one =
  <T>() =>
  (res: Fresh): T =>
    jsonObject(res) as T;

const signalOf = (opts?: CallOptions): { signal?: AbortSignal } => (opts?.signal ? { signal: opts.signal } : {});

/** A GET answered with JSON: one object (`one`) or a page of a list (`listOf`). */
function getJson<T>(
  operation: string,
  url: string,
  parse: (res: Fresh) => T,
  opts?: CallOptions,
  unsupported?: Plan<T>['unsupported'],
): Plan<T> {
  return {
    operation,
    method: 'GET',
    url,
    expect: 'json',
    parse,
    ...(unsupported ? { unsupported } : {}),
    ...signalOf(opts),
  };
}

const gitRepoPath = (project: string, repository: string): string[] => [project, '_apis', 'git', 'repositories', repository];

/** Plan builders for every REST operation of the client. */
export function operationPlans({ target, endpoints, base, credentialKind, fail }: OperationContext) {
  const api = (segments: readonly string[], query: Record<string, QueryValue> = {}): string =>
    buildUrl(base, segments, { ...query, 'api-version': API_VERSION.released });

  const servicesOnly = (operation: string): Plan<never>['unsupported'] =>
    target.kind === 'server'
      ? { message: `${operation} is available on Azure DevOps Services only, not on Azure DevOps Server` }
      : undefined;

  const patsUnsupported = (operation: string): Plan<never>['unsupported'] => {
    const server = servicesOnly(operation);
    if (server) return server;
    if (credentialKind !== 'bearer') {
      return {
        message: `${operation} needs an Entra ID user access token; Azure DevOps refuses personal access tokens on the PAT lifecycle API`,
        hint: 'Sign in with Entra ID to manage personal access tokens.',
      };
    }
    return undefined;
  };

  /** A call to the PAT lifecycle API: Services only, with an Entra user token only. */
  const patsPlan = <T>(plan: Omit<Plan<T>, 'unsupported' | 'refusalHint' | 'signal'>, opts?: CallOptions): Plan<T> => ({
    ...plan,
    unsupported: patsUnsupported(plan.operation),
    refusalHint: PATS_REFUSAL_HINT,
    ...signalOf(opts),
  });

  /** The profile and accounts APIs on the global vssps host (Services only), not the collection. */
  const vsspsApi = (segments: readonly string[], query: Record<string, QueryValue> = {}): string =>
    buildUrl(vsspsUrl(endpoints), segments, { ...query, 'api-version': API_VERSION.released });

  // Server targets never reach the request (patsUnsupported); the URL is still well-formed for errors.
  const patsBase = (): string => (target.kind === 'services' ? patsUrl(target.organization, endpoints) : base);

  /** The PAT lifecycle API, with its own api-version. */
  const patsApi = (query: Record<string, QueryValue> = {}): string =>
    buildUrl(patsBase(), ['_apis', 'tokens', 'pats'], { ...query, 'api-version': API_VERSION.pats });

  const variableGroupUrl = (groupId: number, query: Record<string, QueryValue> = {}): string =>
    api(['_apis', 'distributedtask', 'variablegroups', positiveInt(groupId, 'groupId')], query);

  /** Creates or replaces a variable group: the body is VariableGroupParameters, the answer the group. */
  const writeVariableGroup = (
    operation: string,
    method: Method,
    url: string,
    body: VariableGroupParameters,
    opts?: CallOptions,
  ): Plan<VariableGroup> => ({
    operation,
    method,
    url,
    body: { type: 'Vsts', ...body },
    expect: 'json',
    parse: one<VariableGroup>(),
    ...signalOf(opts),
  });

  const patResult = (o: Record<string, unknown>, operation: string): PatToken => {
    const error = typeof o.patTokenError === 'string' ? o.patTokenError : 'none';
    const token = asObject(o.patToken);
    if (error !== 'none' || !token) {
      throw fail({
        kind: 'bad-request',
        message: `${operation}: Azure DevOps refused the token request: ${error}`,
        adoMessage: error,
        typeKey: 'PatTokenError',
        operation,
        method: 'POST',
      });
    }
    return token as unknown as PatToken;
  };

  return {
    connectionData: (opts?: CallOptions): Plan<ConnectionData> => ({
      operation: 'connectionData',
      method: 'GET',
      // Location service: Microsoft's SDKs call it without api-version (and so does Keyway, which
      // keeps it working on older Azure DevOps Server versions).
      url: buildUrl(base, ['_apis', 'connectionData']),
      expect: 'json',
      parse: (res) => {
        const o = jsonObject(res);
        if (typeof o.instanceId !== 'string' || !asObject(o.authenticatedUser)) throw new Error('not connectionData');
        return o as unknown as ConnectionData;
      },
      ...signalOf(opts),
    }),
    getProfile: (opts?: CallOptions): Plan<Profile> =>
      getJson('getProfile', vsspsApi(['_apis', 'profile', 'profiles', 'me']), one<Profile>(), opts, servicesOnly('getProfile')),
    listAccounts: (memberId: string, opts?: CallOptions): Plan<Page<Account>> =>
      getJson('listAccounts', vsspsApi(['_apis', 'accounts'], { memberId }), listOf<Account>(), opts, servicesOnly('listAccounts')),

    listProjects: (opts: ListProjectsOptions = {}): Plan<Page<TeamProjectReference>> =>
      getJson(
        'listProjects',
        api(['_apis', 'projects'], {
          stateFilter: opts.stateFilter,
          $top: opts.top,
          $skip: opts.skip,
          continuationToken: opts.continuationToken,
        }),
        listOf<TeamProjectReference>(),
        opts,
      ),
    getProject: (projectNameOrId: string, opts: CallOptions & { includeCapabilities?: boolean } = {}): Plan<TeamProject> =>
      getJson(
        'getProject',
        api(['_apis', 'projects', projectNameOrId], { includeCapabilities: opts.includeCapabilities }),
        one<TeamProject>(),
        opts,
      ),
    listRepositories: (project?: string, opts: ListRepositoriesOptions = {}): Plan<Page<GitRepository>> =>
      getJson(
        'listRepositories',
        api([...(project !== undefined ? [project] : []), '_apis', 'git', 'repositories'], { includeHidden: opts.includeHidden }),
        listOf<GitRepository>(),
        opts,
      ),
    getRepository: (project: string, repositoryNameOrId: string, opts: CallOptions = {}): Plan<GitRepository> =>
      getJson('getRepository', api(gitRepoPath(project, repositoryNameOrId)), one<GitRepository>(), opts),
    listRefs: (project: string, repository: string, opts: ListRefsOptions = {}): Plan<Page<GitRef>> =>
      getJson(
        'listRefs',
        api([...gitRepoPath(project, repository), 'refs'], {
          // The filter is a prefix written without `refs/` (docs/azure-devops.md, "REST calls").
          filter: opts.filter?.replace(/^\/?refs\//, ''),
          filterContains: opts.filterContains,
          peelTags: opts.peelTags,
          $top: opts.top,
          continuationToken: opts.continuationToken,
        }),
        listOf<GitRef>(),
        opts,
      ),
    getItemContent: (
      project: string,
      repository: string,
      path: string,
      version?: GitVersion,
      opts: CallOptions = {},
    ): Plan<ItemContent> => {
      const itemPath = '/' + path.replace(/^\/+/, '');
      return {
        operation: 'getItemContent',
        method: 'GET',
        url: api([...gitRepoPath(project, repository), 'items'], {
          path: itemPath,
          // Raw bytes rather than GitItem JSON, whose `content` string cannot carry binary files.
          $format: 'octetStream',
          download: false,
          'versionDescriptor.version': version?.value,
          'versionDescriptor.versionType': version?.type,
        }),
        expect: 'bytes',
        accept: 'application/octet-stream, application/json;q=0.5',
        parse: (res) => {
          const bytes = res.bytes ?? new Uint8Array(0);
          const contentType = res.headers.get('content-type') ?? undefined;
          // A proxy's or sign-in HTML page is not the file (a real .html file comes as octet-stream).
          if (contentType && /text\/html/i.test(contentType)) throw new Error('an HTML page instead of the file');
          return {
            path: itemPath,
            bytes,
            text: new TextDecoder().decode(bytes),
            ...(contentType ? { contentType } : {}),
          };
        },
        ...signalOf(opts),
      };
    },
    getPullRequest: (project: string, pullRequestId: number, opts: CallOptions = {}): Plan<GitPullRequest> =>
      getJson(
        'getPullRequest',
        api([project, '_apis', 'git', 'pullrequests', positiveInt(pullRequestId, 'pullRequestId')]),
        one<GitPullRequest>(),
        opts,
      ),
    listPullRequests: (project: string, repository: string, opts: ListPullRequestsOptions = {}): Plan<Page<GitPullRequest>> =>
      getJson(
        'listPullRequests',
        api([...gitRepoPath(project, repository), 'pullrequests'], {
          'searchCriteria.status': opts.status,
          'searchCriteria.sourceRefName': opts.sourceRefName,
          'searchCriteria.targetRefName': opts.targetRefName,
          $top: opts.top,
          $skip: opts.skip,
        }),
        listOf<GitPullRequest>(),
        opts,
      ),
    listVariableGroups: (project: string, opts: ListVariableGroupsOptions = {}): Plan<Page<VariableGroup>> =>
      getJson(
        'listVariableGroups',
        api([project, '_apis', 'distributedtask', 'variablegroups'], {
          groupName: opts.groupName,
          actionFilter: opts.actionFilter,
          queryOrder: opts.queryOrder,
          $top: opts.top,
          continuationToken: opts.continuationToken,
        }),
        listOf<VariableGroup>(),
        opts,
      ),
    getVariableGroup: (project: string, groupId: number, opts: CallOptions = {}): Plan<VariableGroup> =>
      getJson(
        'getVariableGroup',
        api([project, '_apis', 'distributedtask', 'variablegroups', positiveInt(groupId, 'groupId')]),
        one<VariableGroup>(),
        opts,
      ),

    getCommit: (project: string, repository: string, commitId: string, opts?: CallOptions): Plan<GitCommit> =>
      getJson('getCommit', api([...gitRepoPath(project, repository), 'commits', commitId]), one<GitCommit>(), opts),
    listCommits: (project: string, repository: string, opts: ListCommitsOptions = {}): Plan<Page<GitCommitRef>> =>
      getJson(
        'listCommits',
        api([...gitRepoPath(project, repository), 'commits'], {
          'searchCriteria.itemVersion.version': opts.branch?.replace(/^refs\/heads\//, ''),
          'searchCriteria.itemVersion.versionType': opts.branch !== undefined ? 'branch' : undefined,
          'searchCriteria.$top': opts.top,
          'searchCriteria.$skip': opts.skip,
        }),
        listOf<GitCommitRef>(),
        opts,
      ),

    addVariableGroup: (body: VariableGroupParameters, opts?: CallOptions): Plan<VariableGroup> =>
      writeVariableGroup('addVariableGroup', 'POST', api(['_apis', 'distributedtask', 'variablegroups']), body, opts),
    updateVariableGroup: (groupId: number, body: VariableGroupParameters, opts?: CallOptions): Plan<VariableGroup> =>
      writeVariableGroup('updateVariableGroup', 'PUT', variableGroupUrl(groupId), body, opts),
    deleteVariableGroup: (groupId: number, projectIds: readonly string[], opts?: CallOptions): Plan<undefined> => {
      if (projectIds.length === 0) throw new TypeError('deleteVariableGroup needs at least one project id (projectIds is required)');
      return {
        operation: 'deleteVariableGroup',
        method: 'DELETE',
        url: variableGroupUrl(groupId, { projectIds: projectIds.join(',') }),
        expect: 'none',
        parse: () => undefined,
        ...signalOf(opts),
      };
    },

    listPats: (opts: ListPatsOptions = {}): Plan<Page<PatToken>> =>
      patsPlan(
        {
          operation: 'listPats',
          method: 'GET',
          url: patsApi({ displayFilterOption: opts.displayFilterOption, $top: opts.top, continuationToken: opts.continuationToken }),
          expect: 'json',
          // PagedPatTokens: the continuation token is in the body; "" means no more.
          parse: pageInBody<PatToken>('patTokens'),
        },
        opts,
      ),
    createPat: (request: PatCreateRequest, opts?: CallOptions): Plan<PatToken> =>
      patsPlan(
        {
          operation: 'createPat',
          method: 'POST',
          url: patsApi(),
          body: { displayName: request.displayName, scope: request.scope, validTo: request.validTo, allOrgs: request.allOrgs },
          expect: 'json',
          parse: (res) => patResult(jsonObject(res), 'createPat'),
        },
        opts,
      ),
    revokePat: (authorizationId: string, opts?: CallOptions): Plan<undefined> =>
      patsPlan(
        {
          operation: 'revokePat',
          method: 'DELETE',
          url: patsApi({ authorizationId }),
          expect: 'none',
          parse: () => undefined,
        },
        opts,
      ),
  };
}

export type OperationPlans = ReturnType<typeof operationPlans>;
