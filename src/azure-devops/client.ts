// The one module that talks to the Azure DevOps REST API (Services and Server). Nothing else in
// Keyway builds Azure DevOps URLs, picks api-versions, sets auth headers or maps Azure DevOps errors.
//
// Protocol facts: docs/azure-devops.md (and docs/throttling.md). Paths, parameters and shapes:
// emulator/contract/azure-devops-rest-7.1/ (OpenAPI 2.0, one folder per area).
//
// This file puts the client together: transport.ts sends a request (credential, retries, pacing)
// and response.ts reads its answer; operations.ts says what each REST call is; paging.ts follows
// continuation tokens; probe.ts holds the probes that send no REST call.

import { VERSION } from '../version.ts';
import type { AzureDevOpsClient, AzureDevOpsClientOptions, ConditionalReads } from './client-types.ts';
import { collectionUrl, resolveEndpoints, validateTarget } from './endpoints.ts';
import type { FetchLike } from './guarded-fetch.ts';
import { operationPlans } from './operations.ts';
import { probeAzureDevOpsHost, probeReceivePack } from './probe.ts';
import { createTransport } from './transport.ts';
import { defaultFetch } from './wire.ts';

export type {
  AzureDevOpsClient,
  AzureDevOpsClientOptions,
  CallOptions,
  ClientStats,
  ConditionalReadName,
  ConditionalReads,
  ListCommitsOptions,
  ListPatsOptions,
  ListProjectsOptions,
  ListPullRequestsOptions,
  ListRefsOptions,
  ListRepositoriesOptions,
  ListVariableGroupsOptions,
} from './client-types.ts';
export { pages } from './paging.ts';
export { probeAzureDevOpsHost, probeServerPrefixes, type ProbeOptions, type ServerPrefixAnswer } from './probe.ts';

export function createAzureDevOpsClient(options: AzureDevOpsClientOptions): AzureDevOpsClient {
  validateTarget(options.target);
  const target = options.target;
  const endpoints = resolveEndpoints(options.endpoints);
  const base = collectionUrl(target, endpoints);
  const fetchImpl: FetchLike = options.fetch ?? defaultFetch(target, endpoints);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const userAgent = options.userAgent ?? `Keyway/${VERSION}`;
  const transport = createTransport(options, { base, fetch: fetchImpl, timeoutMs, userAgent });
  const { execute } = transport;
  const plans = operationPlans({ target, endpoints, base, credentialKind: options.credential.kind, fail: transport.fail });

  return {
    target,
    collectionUrl: base,

    probeReceivePack: async (project, repository, opts = {}) =>
      probeReceivePack(transport.sendOnce, base, project, repository, opts.signal),
    connectionData: (opts) => execute(plans.connectionData(opts)),
    probeHost: (opts) =>
      probeAzureDevOpsHost({
        target,
        endpoints,
        fetch: fetchImpl,
        timeoutMs,
        userAgent,
        ...(opts?.signal ? { signal: opts.signal } : {}),
      }),

    getProfile: (opts) => execute(plans.getProfile(opts)),
    listAccounts: (memberId, opts) => execute(plans.listAccounts(memberId, opts)),

    listProjects: (opts) => execute(plans.listProjects(opts)),
    getProject: (p, opts) => execute(plans.getProject(p, opts)),
    listRepositories: (p, opts) => execute(plans.listRepositories(p, opts)),
    getRepository: (p, r, opts) => execute(plans.getRepository(p, r, opts)),
    listRefs: (p, r, opts) => execute(plans.listRefs(p, r, opts)),
    getCommit: (p, r, commitId, opts) => execute(plans.getCommit(p, r, commitId, opts)),
    listCommits: (p, r, opts) => execute(plans.listCommits(p, r, opts)),
    getItemContent: (p, r, path, version, opts) => execute(plans.getItemContent(p, r, path, version, opts)),
    getPullRequest: (p, id, opts) => execute(plans.getPullRequest(p, id, opts)),
    listPullRequests: (p, r, opts) => execute(plans.listPullRequests(p, r, opts)),

    listVariableGroups: (p, opts) => execute(plans.listVariableGroups(p, opts)),
    getVariableGroup: (p, id, opts) => execute(plans.getVariableGroup(p, id, opts)),
    addVariableGroup: (body, opts) => execute(plans.addVariableGroup(body, opts)),
    updateVariableGroup: (groupId, body, opts) => execute(plans.updateVariableGroup(groupId, body, opts)),
    deleteVariableGroup: async (groupId, projectIds, opts) => {
      await execute(plans.deleteVariableGroup(groupId, projectIds, opts));
    },

    listPats: (opts) => execute(plans.listPats(opts)),
    createPat: (request, opts) => execute(plans.createPat(request, opts)),
    revokePat: async (authorizationId, opts) => {
      await execute(plans.revokePat(authorizationId, opts));
    },

    ifNoneMatch: (etag) => {
      const c = { etag };
      const reads: ConditionalReads = {
        listProjects: (opts) => execute(plans.listProjects(opts), c),
        getProject: (p, opts) => execute(plans.getProject(p, opts), c),
        listRepositories: (p, opts) => execute(plans.listRepositories(p, opts), c),
        getRepository: (p, r, opts) => execute(plans.getRepository(p, r, opts), c),
        listRefs: (p, r, opts) => execute(plans.listRefs(p, r, opts), c),
        getItemContent: (p, r, path, v, opts) => execute(plans.getItemContent(p, r, path, v, opts), c),
        getPullRequest: (p, id, opts) => execute(plans.getPullRequest(p, id, opts), c),
        listPullRequests: (p, r, opts) => execute(plans.listPullRequests(p, r, opts), c),
        listVariableGroups: (p, opts) => execute(plans.listVariableGroups(p, opts), c),
        getVariableGroup: (p, id, opts) => execute(plans.getVariableGroup(p, id, opts), c),
      };
      return reads;
    },

    stats: transport.stats,
    lastRateLimit: transport.lastRateLimit,
  };
}
