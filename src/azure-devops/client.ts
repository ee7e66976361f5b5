// The one module that talks to the Azure DevOps REST API (Services and Server). Nothing else in
// Keyway builds Azure DevOps URLs, picks api-versions, sets auth headers or maps Azure DevOps errors.
//
// Protocol facts: docs/azure-devops.md (and docs/throttling.md). Paths, parameters and shapes:
// emulator/contract/azure-devops-rest-7.1/ (OpenAPI 2.0, one folder per area).
//
// The credential lives only in this closure and in the Authorization header of outgoing requests.
// Errors are built from redacted text, carry no headers and no raw `cause`.

import { VERSION } from '../version.ts';
import { guardedFetch, HOST_REFUSED } from './guarded-fetch.ts';
import type { FetchLike } from './guarded-fetch.ts';
import {
  API_VERSION,
  buildUrl,
  collectionUrl,
  describeTarget,
  patsUrl,
  resolveEndpoints,
  validateTarget,
  vsspsUrl,
  type AzureDevOpsEndpoints,
  type AzureDevOpsTarget,
  type QueryValue,
} from './endpoints.ts';
import {
  AzureDevOpsError,
  createRedactor,
  isSignInRedirect,
  kindForStatus,
  refusesCredential,
  parseAdoErrorBody,
  parseTfCode,
  readTenantHints,
  type AzureDevOpsErrorInit,
  type Redactor,
} from './errors.ts';
import { sharedRatePacer, type RatePacer } from './pacing.ts';
import {
  DEFAULT_RETRY_POLICY,
  decideRetry,
  defaultSleep,
  readRateLimit,
  throttleSeconds,
  type RateLimitInfo,
  type RetryPolicy,
  type Sleep,
} from './retry.ts';
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
import { runnerMetrics } from '../telemetry/runner-metrics.ts';

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

// ---- internals ---------------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';

interface Fresh {
  status: number;
  headers: Headers;
  /** Parsed JSON when the plan expects JSON. */
  json?: unknown;
  bytes?: Uint8Array;
}

/** One REST call: where, how, and how to read a successful answer. */
interface Plan<T> {
  operation: string;
  method: Method;
  url: string;
  body?: unknown;
  /** POST/PATCH that may be retried after a 5xx or network failure. */
  idempotent?: boolean;
  expect: 'json' | 'bytes' | 'none';
  accept?: string;
  signal?: AbortSignal;
  parse: (res: Fresh) => T;
  /** Why the call cannot work; thrown before any request. */
  unsupported?: { message: string; hint?: string };
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\b/i;

/**
 * Bad credentials answer 401 instead of a 203 sign-in page or a 302
 * (docs/azure-devops.md, "Refused tokens").
 */
const SUPPRESS_SIGN_IN = { 'X-TFS-FedAuthRedirect': 'Suppress', 'X-VSS-ReauthenticationAction': 'Suppress' } as const;

/** Internal: a failure that happened before an HTTP answer (or while reading its body). */
class TransportFailure extends Error {
  constructor(
    readonly code: string,
    readonly timedOut: boolean,
  ) {
    super(code);
  }
}

/**
 * Walks `cause` chains and AggregateErrors for a Node/undici error code (`ECONNREFUSED`,
 * `ENOTFOUND`, `UND_ERR_SOCKET`…); without one, the innermost message (undici's "bad port").
 */
function networkCode(err: unknown): string {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  let innermost: string | undefined;
  while (cur && typeof cur === 'object' && !seen.has(cur)) {
    seen.add(cur);
    const code = (cur as { code?: unknown }).code;
    // Keyway's own refusal (guarded-fetch.ts) says which address and why; its text holds no secret.
    if (code === HOST_REFUSED) return `${HOST_REFUSED}: ${(cur as Error).message}`;
    if (typeof code === 'string' && code) return code;
    const errors = (cur as { errors?: unknown }).errors;
    if (Array.isArray(errors) && errors.length > 0) {
      const inner = networkCode(errors[0]);
      if (inner !== 'network-error') return inner;
    }
    const message = (cur as { message?: unknown }).message;
    if (typeof message === 'string' && message && message !== 'fetch failed') innermost = message.slice(0, 80);
    cur = (cur as { cause?: unknown }).cause;
  }
  return innermost ?? 'network-error';
}

function looksLikeHtml(bytes: Uint8Array): boolean {
  const head = new TextDecoder().decode(bytes.subarray(0, 512)).trimStart().toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<head') || head.startsWith('<body');
}

function asObject(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function optionalToken(v: string | null | undefined): string | undefined {
  return v ? v : undefined;
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** Server hosts are an admin's input: their addresses are checked as the runner connects. */
function defaultFetch(target: AzureDevOpsTarget, endpoints: AzureDevOpsEndpoints): FetchLike {
  return target.kind === 'server'
    ? guardedFetch(endpoints.allowInsecureServerHosts, endpoints.serverHostLookup)
    : (url, init) => fetch(url, init);
}

export function createAzureDevOpsClient(options: AzureDevOpsClientOptions): AzureDevOpsClient {
  validateTarget(options.target);
  const target = options.target;
  const endpoints = resolveEndpoints(options.endpoints);
  const base = collectionUrl(target, endpoints);
  const fetchImpl: FetchLike = options.fetch ?? defaultFetch(target, endpoints);
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const policy: RetryPolicy = {
    maxRetries: options.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries,
    maxThrottledRetries: options.maxThrottledRetries ?? DEFAULT_RETRY_POLICY.maxThrottledRetries,
    maxRetryDelayMs: options.maxRetryDelayMs ?? DEFAULT_RETRY_POLICY.maxRetryDelayMs,
    baseDelayMs: options.baseRetryDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
  };
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxResponseBytes = options.maxResponseBytes ?? 32 * 1024 * 1024;
  const userAgent = options.userAgent ?? `Keyway/${VERSION}`;

  const checkCredential = (credential: AzureDevOpsCredential | undefined): AzureDevOpsCredential => {
    if (
      !credential ||
      (credential.kind !== 'pat' && credential.kind !== 'bearer') ||
      typeof credential.token !== 'string' ||
      !credential.token
    ) {
      throw new TypeError('credential must be { kind: "pat" | "bearer", token: non-empty string }');
    }
    return credential;
  };
  // PAT: Basic with an empty user name (any works: docs/azure-devops.md, "Personal Access Tokens");
  // bearer: an Entra access token.
  const authorizationOf = (credential: AzureDevOpsCredential): string =>
    credential.kind === 'pat' ? `Basic ${Buffer.from(`:${credential.token}`, 'utf8').toString('base64')}` : `Bearer ${credential.token}`;
  let authorization = authorizationOf(checkCredential(options.credential));
  let redact: Redactor = createRedactor(options.credential.token);
  let refreshed = false;

  const counters: ClientStats = { requests: 0, retries: 0 };
  let lastRate: RateLimitInfo | undefined;
  // Keyed by the credential the client started with: a refreshed token is the same identity.
  const pacer = options.pacer ?? sharedRatePacer(new URL(base).origin, options.credential.token);
  // Time as this client has lived it: an injected sleep (tests) may return at once, yet the wait it
  // stood for has passed as far as pacing is concerned.
  let sleptUntil = 0;
  const clock = (): number => Math.max(now(), sleptUntil);
  const pause = async (ms: number, signal: AbortSignal | undefined): Promise<void> => {
    const from = clock();
    await sleep(ms, signal);
    sleptUntil = Math.max(sleptUntil, from + ms);
  };

  // Every string that goes into an error passes the redactor, whatever its source.
  const fail = (init: AzureDevOpsErrorInit): AzureDevOpsError => {
    const clean = Object.fromEntries(
      Object.entries(init).map(([k, v]) => [k, k !== 'kind' && typeof v === 'string' ? redact(v) : v]),
    ) as unknown as AzureDevOpsErrorInit;
    return new AzureDevOpsError(clean);
  };

  const reportRate = (headers: Headers, status: number): void => {
    const info = readRateLimit(headers, now());
    if (!info) {
      pacer.observe(undefined, clock());
      return;
    }
    lastRate = info;
    // Retry-After means "pause" on a success (rate-limits documentation), a 429 and a 503 (RFC 9110
    // §10.2.3); on other errors it is not about this credential's pace.
    const pause = (status >= 200 && status < 300) || status === 429 || status === 503;
    const { retryAfterSeconds, ...rest } = info;
    pacer.observe(pause || retryAfterSeconds === undefined ? info : rest, clock());
    if (options.onRateLimit) {
      try {
        options.onRateLimit({ ...info });
      } catch {
        // A failing observer must not fail the call.
      }
    }
  };

  async function readBody(res: Response, limit: number, where: { plan: Plan<unknown>; attempts: number }): Promise<Uint8Array> {
    const declared = Number(res.headers.get('content-length') ?? '');
    const tooLarge = (): AzureDevOpsError =>
      fail({
        kind: 'unexpected-response',
        message: `${where.plan.operation}: answer larger than ${limit} bytes`,
        status: res.status,
        method: where.plan.method,
        url: where.plan.url,
        operation: where.plan.operation,
        attempts: where.attempts,
      });
    if (Number.isFinite(declared) && declared > limit) {
      await res.body?.cancel().catch(() => undefined);
      throw tooLarge();
    }
    if (!res.body) return new Uint8Array(0);
    const reader = res.body.getReader();
    try {
      return await readAtMost(reader, limit, tooLarge);
    } catch (e) {
      if (e instanceof AzureDevOpsError) throw e;
      throw new TransportFailure(networkCode(e), false);
    }
  }

  /** Runs a plan with retries. `ifNoneMatch` set (even null) → conditional result. */
  async function execute<T>(plan: Plan<T>, conditional?: { etag: string | null }): Promise<T | Conditional<T>> {
    if (plan.unsupported) {
      throw fail({
        kind: 'unsupported',
        message: plan.unsupported.message,
        operation: plan.operation,
        method: plan.method,
        url: plan.url,
        attempts: 0,
        ...(plan.unsupported.hint ? { hint: plan.unsupported.hint } : {}),
      });
    }
    const callerSignal = plan.signal;
    const abortedError = (attempts: number): AzureDevOpsError =>
      fail({
        kind: 'aborted',
        message: `${plan.operation}: cancelled by the caller`,
        operation: plan.operation,
        method: plan.method,
        url: plan.url,
        attempts,
      });

    let retries = 0;
    let throttledRetries = 0;
    let attempts = 0;
    for (;;) {
      if (callerSignal?.aborted) throw abortedError(attempts);
      // Slow down when Azure DevOps said so (Retry-After, X-RateLimit-Delay, a low X-RateLimit-Remaining),
      // before it has to delay or block us.
      const wait = pacer.reserve(clock());
      if (wait > 0) {
        if (wait > policy.maxRetryDelayMs) {
          const seconds = Math.ceil(wait / 1000);
          throw fail({
            kind: 'throttled',
            message: `${plan.operation}: Azure DevOps asked this credential to pause for ${seconds} s before its next request`,
            retryAfterSeconds: seconds,
            method: plan.method,
            url: plan.url,
            operation: plan.operation,
            attempts,
          });
        }
        try {
          await pause(wait, callerSignal);
        } catch (e) {
          if (callerSignal?.aborted) throw abortedError(attempts);
          throw e;
        }
        counters.pacedMs = (counters.pacedMs ?? 0) + wait;
      }
      attempts++;
      counters.requests++;
      // Per attempt, covering the body too; cleared as soon as the attempt is over.
      const timeout = new AbortController();
      const timer = setTimeout(() => timeout.abort(new DOMException(`no answer within ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
      const timeoutSignal = timeout.signal;
      const signal = callerSignal ? AbortSignal.any([callerSignal, timeoutSignal]) : timeoutSignal;
      const headers: Record<string, string> = {
        Authorization: authorization,
        Accept: plan.accept ?? 'application/json',
        ...SUPPRESS_SIGN_IN,
        'User-Agent': userAgent,
      };
      if (plan.body !== undefined) headers['Content-Type'] = 'application/json; charset=utf-8';
      if (conditional?.etag) headers['If-None-Match'] = conditional.etag;

      let failure: { status?: number; error: AzureDevOpsError; throttle?: number } | undefined;
      try {
        let res: Response;
        try {
          res = await fetchImpl(plan.url, {
            method: plan.method,
            headers,
            ...(plan.body !== undefined ? { body: JSON.stringify(plan.body) } : {}),
            // Redirects are judged here: a 302 may be the sign-in page, and following one elsewhere
            // would carry the credential along.
            redirect: 'manual',
            signal,
          });
        } catch (e) {
          throw new TransportFailure(networkCode(e), timeoutSignal.aborted);
        }
        runnerMetrics.azureDevOpsRequests.inc({ operation: plan.operation, status: String(res.status) });
        reportRate(res.headers, res.status);
        const outcome = await judge(res, plan, conditional, attempts);
        if (outcome.done) {
          options.onCredentialAccepted?.();
          return outcome.value;
        }
        failure = outcome.failure;
      } catch (e) {
        if (e instanceof AzureDevOpsError) throw e;
        if (callerSignal?.aborted) throw abortedError(attempts);
        const timedOut = timeoutSignal.aborted || (e instanceof TransportFailure && e.timedOut);
        const code = timedOut ? 'timeout' : e instanceof TransportFailure ? e.code : networkCode(e);
        if (e instanceof TransportFailure || timedOut)
          runnerMetrics.azureDevOpsRequests.inc({ operation: plan.operation, status: 'network' });
        failure = {
          error: fail({
            kind: 'network',
            message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} failed: ${timedOut ? `no answer within ${timeoutMs} ms` : code}`,
            networkCode: code,
            method: plan.method,
            url: plan.url,
            operation: plan.operation,
            attempts,
          }),
        };
      } finally {
        clearTimeout(timer);
      }

      // A refused credential gets one fresh one (a token revoked before its recorded expiry); the
      // retry does not count against the retry budget, which is for transient failures.
      if (!refreshed && options.refreshCredential && refusesCredential(failure.error)) {
        refreshed = true;
        const fresh = await options.refreshCredential();
        if (fresh) {
          const previous = redact;
          const next = createRedactor(checkCredential(fresh).token);
          authorization = authorizationOf(fresh);
          // Both tokens stay redacted: an error of a later attempt may quote either.
          redact = (text) => next(previous(text));
          continue;
        }
      }
      const decision = decideRetry(
        {
          ...(failure.status !== undefined ? { status: failure.status } : {}),
          ...(failure.throttle !== undefined ? { throttleSeconds: failure.throttle } : {}),
        },
        {
          retriesSoFar: retries,
          throttledSoFar: throttledRetries,
          method: plan.method,
          ...(plan.idempotent ? { idempotent: true } : {}),
          policy,
          random,
        },
      );
      if (!decision.retry) throw failure.error;
      runnerMetrics.retryDelaySeconds.inc(
        { operation: plan.operation, reason: failure.throttle !== undefined || failure.status === 429 ? 'throttled' : 'error' },
        decision.delayMs / 1000,
      );
      try {
        await pause(decision.delayMs, callerSignal);
      } catch (e) {
        if (callerSignal?.aborted) throw abortedError(attempts);
        throw e;
      }
      if (callerSignal?.aborted) throw abortedError(attempts);
      if (failure.status === 429) throttledRetries++;
      else retries++;
      counters.retries++;
    }
  }

  type Judged<T> =
    { done: true; value: T | Conditional<T> } | { done: false; failure: { status: number; error: AzureDevOpsError; throttle?: number } };

  async function judge<T>(
    res: Response,
    plan: Plan<T>,
    conditional: { etag: string | null } | undefined,
    attempts: number,
  ): Promise<Judged<T>> {
    const status = res.status;
    const common = { status, method: plan.method, url: plan.url, operation: plan.operation, attempts };
    const discard = async (): Promise<void> => {
      await res.body?.cancel().catch(() => undefined);
    };

    if (status === 304 && conditional?.etag) {
      await discard();
      return { done: true, value: { notModified: true, etag: res.headers.get('etag') ?? conditional.etag } };
    }

    // 203 Non-Authoritative Information is how Azure DevOps serves its HTML sign-in page to a
    // rejected credential when the suppress header is ignored; it is never a REST success.
    if (status === 203 || isSignInRedirect(status, res.headers)) {
      await discard();
      return {
        done: false,
        failure: {
          status,
          error: fail({
            kind: 'unauthenticated',
            message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} → HTTP ${status} (${status === 203 ? 'sign-in page' : 'redirect to sign-in'})`,
            ...common,
            ...readTenantHints(res.headers),
          }),
        },
      };
    }

    if (status >= 200 && status < 300) {
      if (plan.expect === 'none') {
        await discard();
        return { done: true, value: wrap(plan.parse({ status, headers: res.headers }), res, conditional) };
      }
      const bytes = await readBody(res, maxResponseBytes, { plan, attempts });
      const contentType = res.headers.get('content-type') ?? '';
      if (plan.expect === 'bytes') {
        return { done: true, value: wrap(plan.parse({ status, headers: res.headers, bytes }), res, conditional) };
      }
      const unexpected = (what: string): Judged<T> => {
        throw fail({
          kind: 'unexpected-response',
          message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} → HTTP ${status} ${what}`,
          ...common,
        });
      };
      if (looksLikeHtml(bytes) || /html/i.test(contentType)) return unexpected('with an HTML page instead of JSON');
      if (!JSON_TYPE.test(contentType))
        return unexpected(`with ${contentType ? `content type ${contentType.split(';')[0]}` : 'no content type'} instead of JSON`);
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        return unexpected('with a body that is not valid JSON');
      }
      let value: T;
      try {
        value = plan.parse({ status, headers: res.headers, json });
      } catch (e) {
        if (e instanceof AzureDevOpsError) throw e;
        return unexpected(`with JSON of an unexpected shape (${e instanceof Error ? e.message : 'parse failed'})`);
      }
      return { done: true, value: wrap(value, res, conditional) };
    }

    if (status >= 300 && status < 400) {
      await discard();
      throw fail({
        kind: 'unexpected-response',
        message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} → HTTP ${status} redirect${status === 304 ? ' (not asked for)' : ''}; Keyway does not follow redirects from Azure DevOps`,
        ...common,
      });
    }

    // 4xx / 5xx: Azure DevOps error body when there is one.
    let body: ReturnType<typeof parseAdoErrorBody>;
    try {
      const bytes = await readBody(res, 64 * 1024, { plan, attempts });
      body = parseAdoErrorBody(new TextDecoder().decode(bytes));
    } catch {
      body = undefined;
    }
    const kind = kindForStatus(status);
    const rate = readRateLimit(res.headers, now());
    const throttle = status === 429 ? throttleSeconds(rate) : undefined;
    const tfCode = parseTfCode(body?.message);
    const tenant = status === 401 || status === 403 ? readTenantHints(res.headers) : {};
    const error = fail({
      kind,
      message: `${plan.operation}: ${plan.method} ${pathOf(plan.url)} → HTTP ${status}${body?.message ? `: ${body.message}` : ''}`,
      ...common,
      ...(tfCode ? { tfCode } : {}),
      ...(body?.typeKey ? { typeKey: body.typeKey } : {}),
      ...(body?.message ? { adoMessage: body.message } : {}),
      ...(throttle !== undefined ? { retryAfterSeconds: throttle } : {}),
      ...tenant,
      ...(plan.unsupported ? {} : hintFor(plan.operation, kind)),
    });
    return { done: false, failure: { status, error, ...(throttle !== undefined ? { throttle } : {}) } };
  }

  function wrap<T>(value: T, res: Response, conditional: { etag: string | null } | undefined): T | Conditional<T> {
    if (!conditional) return value;
    const etag = res.headers.get('etag');
    return etag ? { notModified: false, value, etag } : { notModified: false, value };
  }

  function hintFor(operation: string, kind: string): { hint?: string } {
    if (PAT_OPERATIONS.has(operation) && (kind === 'unauthenticated' || kind === 'forbidden')) {
      return { hint: 'The PAT lifecycle API accepts only an Entra ID user token (not a PAT, not a service principal).' };
    }
    return {};
  }

  // ---- plans -------------------------------------------------------------------------------------

  const api = (segments: readonly string[], query: Record<string, QueryValue> = {}): string =>
    buildUrl(base, segments, { ...query, 'api-version': API_VERSION.released });

  const servicesOnly = (operation: string): Plan<never>['unsupported'] =>
    target.kind === 'server'
      ? { message: `${operation} is available on Azure DevOps Services only, not on Azure DevOps Server` }
      : undefined;

  const patsUnsupported = (operation: string): Plan<never>['unsupported'] => {
    const server = servicesOnly(operation);
    if (server) return server;
    if (options.credential.kind !== 'bearer') {
      return {
        message: `${operation} needs an Entra ID user access token; Azure DevOps refuses personal access tokens on the PAT lifecycle API`,
        hint: 'Sign in with Entra ID to manage personal access tokens.',
      };
    }
    return undefined;
  };

  const object = (res: Fresh): Record<string, unknown> => {
    const o = asObject(res.json);
    if (!o) throw new Error('expected a JSON object');
    return o;
  };

  /**
   * `{"count": n, "value": [...]}` (the specs type lists as arrays; the service wraps them:
   * docs/azure-devops.md, "REST calls").
   */
  const listOf =
    <T>() =>
    (res: Fresh): Page<T> => {
      const value = Array.isArray(res.json) ? res.json : object(res).value;
      if (!Array.isArray(value)) throw new Error('expected {"value": [...]}');
      const token = optionalToken(res.headers.get('x-ms-continuationtoken'));
      return token ? { items: value as T[], continuationToken: token } : { items: value as T[] };
    };

  const one =
    <T>() =>
    (res: Fresh): T =>
      object(res) as T;

  const signalOf = (opts?: CallOptions): { signal?: AbortSignal } => (opts?.signal ? { signal: opts.signal } : {});

  /** A GET answered with JSON: one object (`one`) or a page of a list (`listOf`). */
  const getJson = <T>(
    operation: string,
    url: string,
    parse: (res: Fresh) => T,
    opts?: CallOptions,
    unsupported?: Plan<T>['unsupported'],
  ): Plan<T> => ({
    operation,
    method: 'GET',
    url,
    expect: 'json',
    parse,
    ...(unsupported ? { unsupported } : {}),
    ...signalOf(opts),
  });

  /** The profile and accounts APIs on the global vssps host (Services only), not the collection. */
  const vsspsApi = (segments: readonly string[], query: Record<string, QueryValue> = {}): string =>
    buildUrl(vsspsUrl(endpoints), segments, { ...query, 'api-version': API_VERSION.released });

  /** The PAT lifecycle API, with its own api-version. */
  const patsApi = (query: Record<string, QueryValue> = {}): string =>
    buildUrl(patsBaseFor(), ['_apis', 'tokens', 'pats'], { ...query, 'api-version': API_VERSION.pats });

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

  const gitRepoPath = (project: string, repository: string): string[] => [project, '_apis', 'git', 'repositories', repository];

  const plans = {
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
  };

  const client: AzureDevOpsClient = {
    target,
    collectionUrl: base,

    async probeReceivePack(project, repository, opts = {}) {
      // git smart HTTP, not REST: no api-version; the repository path as git remotes spell it.
      const url = buildUrl(base, [project, '_git', repository, 'info', 'refs'], { service: 'git-receive-pack' });
      const signal = opts.signal ? AbortSignal.any([opts.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
      let res: Response;
      try {
        res = await fetchImpl(url, {
          method: 'GET',
          headers: { Authorization: authorization, 'User-Agent': userAgent, ...SUPPRESS_SIGN_IN },
          redirect: 'manual',
          signal,
        });
      } catch {
        return 'unknown';
      }
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 200 && /application\/x-git-receive-pack-advertisement/i.test(res.headers.get('content-type') ?? ''))
        return 'allowed';
      if (res.status === 401 || res.status === 403) return 'refused';
      return 'unknown';
    },

    connectionData: (opts) =>
      execute({
        operation: 'connectionData',
        method: 'GET',
        // Location service: Microsoft's SDKs call it without api-version (and so does Keyway, which
        // keeps it working on older Azure DevOps Server versions).
        url: buildUrl(base, ['_apis', 'connectionData']),
        expect: 'json',
        parse: (res) => {
          const o = object(res);
          if (typeof o.instanceId !== 'string' || !asObject(o.authenticatedUser)) throw new Error('not connectionData');
          return o as unknown as ConnectionData;
        },
        ...signalOf(opts),
      }) as Promise<ConnectionData>,

    probeHost: (opts) =>
      probeAzureDevOpsHost({
        target,
        endpoints,
        fetch: fetchImpl,
        timeoutMs,
        userAgent,
        ...signalOf(opts),
      }),

    getProfile: (opts) =>
      execute(
        getJson('getProfile', vsspsApi(['_apis', 'profile', 'profiles', 'me']), one<Profile>(), opts, servicesOnly('getProfile')),
      ) as Promise<Profile>,

    listAccounts: (memberId, opts) =>
      execute(
        getJson('listAccounts', vsspsApi(['_apis', 'accounts'], { memberId }), listOf<Account>(), opts, servicesOnly('listAccounts')),
      ) as Promise<Page<Account>>,

    listProjects: (opts) => execute(plans.listProjects(opts)) as Promise<Page<TeamProjectReference>>,
    getProject: (p, opts) => execute(plans.getProject(p, opts)) as Promise<TeamProject>,
    listRepositories: (p, opts) => execute(plans.listRepositories(p, opts)) as Promise<Page<GitRepository>>,
    getRepository: (p, r, opts) => execute(plans.getRepository(p, r, opts)) as Promise<GitRepository>,
    listRefs: (p, r, opts) => execute(plans.listRefs(p, r, opts)) as Promise<Page<GitRef>>,
    getItemContent: (p, r, path, version, opts) => execute(plans.getItemContent(p, r, path, version, opts)) as Promise<ItemContent>,
    getPullRequest: (p, id, opts) => execute(plans.getPullRequest(p, id, opts)) as Promise<GitPullRequest>,
    listPullRequests: (p, r, opts) => execute(plans.listPullRequests(p, r, opts)) as Promise<Page<GitPullRequest>>,
    listVariableGroups: (p, opts) => execute(plans.listVariableGroups(p, opts)) as Promise<Page<VariableGroup>>,
    getVariableGroup: (p, id, opts) => execute(plans.getVariableGroup(p, id, opts)) as Promise<VariableGroup>,

    getCommit: (project, repository, commitId, opts) =>
      execute(
        getJson('getCommit', api([...gitRepoPath(project, repository), 'commits', commitId]), one<GitCommit>(), opts),
      ) as Promise<GitCommit>,

    listCommits: (project, repository, opts = {}) =>
      execute(
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
      ) as Promise<Page<GitCommitRef>>,

    addVariableGroup: (body, opts) =>
      execute(
        writeVariableGroup('addVariableGroup', 'POST', api(['_apis', 'distributedtask', 'variablegroups']), body, opts),
      ) as Promise<VariableGroup>,

    updateVariableGroup: (groupId, body, opts) =>
      execute(writeVariableGroup('updateVariableGroup', 'PUT', variableGroupUrl(groupId), body, opts)) as Promise<VariableGroup>,

    deleteVariableGroup: async (groupId, projectIds, opts) => {
      if (projectIds.length === 0) throw new TypeError('deleteVariableGroup needs at least one project id (projectIds is required)');
      await execute({
        operation: 'deleteVariableGroup',
        method: 'DELETE',
        url: variableGroupUrl(groupId, { projectIds: projectIds.join(',') }),
        expect: 'none',
        parse: () => undefined,
        ...signalOf(opts),
      });
    },

    listPats: (opts = {}) =>
      execute({
        operation: 'listPats',
        method: 'GET',
        url: patsApi({ displayFilterOption: opts.displayFilterOption, $top: opts.top, continuationToken: opts.continuationToken }),
        expect: 'json',
        // PagedPatTokens: the continuation token is in the body; "" means no more.
        parse: (res) => {
          const o = object(res);
          if (!Array.isArray(o.patTokens)) throw new Error('expected {"patTokens": [...]}');
          const token = typeof o.continuationToken === 'string' ? optionalToken(o.continuationToken) : undefined;
          return token ? { items: o.patTokens as PatToken[], continuationToken: token } : { items: o.patTokens as PatToken[] };
        },
        unsupported: patsUnsupported('listPats'),
        ...signalOf(opts),
      }) as Promise<Page<PatToken>>,

    createPat: (request, opts) =>
      execute({
        operation: 'createPat',
        method: 'POST',
        url: patsApi(),
        body: { displayName: request.displayName, scope: request.scope, validTo: request.validTo, allOrgs: request.allOrgs },
        expect: 'json',
        parse: (res) => patResult(object(res), 'createPat'),
        unsupported: patsUnsupported('createPat'),
        ...signalOf(opts),
      }) as Promise<PatToken>,

    revokePat: async (authorizationId, opts) => {
      await execute({
        operation: 'revokePat',
        method: 'DELETE',
        url: patsApi({ authorizationId }),
        expect: 'none',
        parse: () => undefined,
        unsupported: patsUnsupported('revokePat'),
        ...signalOf(opts),
      });
    },

    ifNoneMatch: (etag) => {
      const c = { etag };
      return {
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
      } as ConditionalReads;
    },

    stats: () => ({ ...counters }),
    lastRateLimit: () => (lastRate ? { ...lastRate } : undefined),
  };

  function patsBaseFor(): string {
    // Server targets never reach the request (patsUnsupported); the URL is still well-formed for errors.
    return target.kind === 'services' ? patsUrl(target.organization, endpoints) : base;
  }

  function patResult(o: Record<string, unknown>, operation: string): PatToken {
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
  }

  return client;
}

const PAT_OPERATIONS = new Set(['listPats', 'createPat', 'revokePat']);

function positiveInt(n: number, what: string): string {
  if (!Number.isSafeInteger(n) || n <= 0) throw new TypeError(`${what} must be a positive integer`);
  return String(n);
}

// ---- probe ---------------------------------------------------------------------------------------

export interface ProbeOptions {
  target: AzureDevOpsTarget;
  endpoints?: Partial<AzureDevOpsEndpoints>;
  fetch?: FetchLike;
  timeoutMs?: number;
  userAgent?: string;
  signal?: AbortSignal;
}

/**
 * Asks `{collection}/_apis/connectionData` without credentials whether this is Azure DevOps.
 * Azure DevOps answers with `X-TFS-*` / `X-VSS-*` headers (401 with a challenge, 203 sign-in page,
 * 302 to sign-in) or connectionData JSON with `deploymentType`; an ordinary web server does neither.
 * Never throws for network failures: they answer `isAzureDevOps: false` with the reason.
 */
export async function probeAzureDevOpsHost(opts: ProbeOptions): Promise<ProbeResult> {
  validateTarget(opts.target);
  const endpoints = resolveEndpoints(opts.endpoints);
  const url = buildUrl(collectionUrl(opts.target, endpoints), ['_apis', 'connectionData']);
  const fetchImpl: FetchLike = opts.fetch ?? defaultFetch(opts.target, endpoints);
  const timeoutSignal = AbortSignal.timeout(opts.timeoutMs ?? 10_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeoutSignal]) : timeoutSignal;
  let res: Response;
  try {
    res = await fetchImpl(url, {
      method: 'GET',
      headers: {
        Accept: 'application/json',
        ...SUPPRESS_SIGN_IN,
        'User-Agent': opts.userAgent ?? `Keyway/${VERSION}`,
      },
      redirect: 'manual',
      signal,
    });
  } catch (e) {
    if (opts.signal?.aborted) {
      throw new AzureDevOpsError({
        kind: 'aborted',
        message: 'probeHost: cancelled by the caller',
        operation: 'probeHost',
        method: 'GET',
        url,
      });
    }
    const code = timeoutSignal.aborted ? 'timeout' : networkCode(e);
    if (code.startsWith(HOST_REFUSED)) return { isAzureDevOps: false, reason: `not connected: ${code.slice(HOST_REFUSED.length + 2)}` };
    return { isAzureDevOps: false, reason: `no answer from ${describeTarget(opts.target)} (${code})` };
  }
  const status = res.status;
  const adoHeaders: string[] = [];
  res.headers.forEach((_v, name) => {
    if (/^x-(tfs|vss)-/i.test(name)) adoHeaders.push(name.toLowerCase());
  });
  const www = res.headers.get('www-authenticate') ?? '';
  const federated = /TFS-Federated/i.test(www);
  const tenant = readTenantHints(res.headers).resourceTenantId;

  let deploymentType: string | undefined;
  let adoErrorBody: string | undefined;
  const contentType = res.headers.get('content-type') ?? '';
  if (JSON_TYPE.test(contentType)) {
    try {
      const text = await readLimited(res, 256 * 1024);
      const o = asObject(JSON.parse(text));
      if (status === 200 && o && typeof o.deploymentType === 'string' && typeof o.instanceId === 'string')
        deploymentType = o.deploymentType;
      // The service's error body: {"$id","innerException","message":"TF400813: …","typeName","typeKey",…}.
      const err = status >= 400 ? parseAdoErrorBody(text) : undefined;
      const code = parseTfCode(err?.message);
      if (o && '$id' in o && err?.typeKey && code) adoErrorBody = `${code} ${err.typeKey}`;
    } catch {
      // not JSON after all
    }
  } else {
    await res.body?.cancel().catch(() => undefined);
  }

  const base: Omit<ProbeResult, 'isAzureDevOps' | 'reason'> = {
    status,
    ...(deploymentType ? { deploymentType } : {}),
    ...(tenant ? { resourceTenantId: tenant } : {}),
  };
  if (deploymentType) return { ...base, isAzureDevOps: true, reason: `connectionData answered with deploymentType '${deploymentType}'` };
  if (adoHeaders.length > 0 || federated) {
    const signs = [...new Set(adoHeaders)].slice(0, 4).join(', ') || 'WWW-Authenticate: TFS-Federated';
    return { ...base, isAzureDevOps: true, reason: `HTTP ${status} with Azure DevOps headers (${signs})` };
  }
  if (adoErrorBody) return { ...base, isAzureDevOps: true, reason: `HTTP ${status} with an Azure DevOps error body (${adoErrorBody})` };
  return {
    ...base,
    isAzureDevOps: false,
    reason: `HTTP ${status}${contentType ? ` ${contentType.split(';')[0]}` : ''} without any Azure DevOps header or error body: this URL does not look like Azure DevOps`,
  };
}

/** What `{origin}{prefix}/_apis/connectionData` answered, for finding where a Server collection starts. */
export interface ServerPrefixAnswer {
  /** `''`, `/tfs`, `/tfs/DefaultCollection`… */
  prefix: string;
  /** Azure DevOps answers here (connectionData, or a challenge with its headers); else nothing Azure DevOps is here. */
  answers: boolean;
  /**
   * From a connectionData body only: `deployment` when the host answering is the server itself
   * (`instanceId` equals `deploymentId`), `collection` when it is a collection of it.
   */
  level?: 'deployment' | 'collection';
  unreachable?: boolean;
  reason: string;
}

/**
 * Asks `_apis/connectionData` at each prefix of a Server path, from the origin down: Azure DevOps
 * Server answers there both for itself (under its virtual directory) and for each collection, so
 * the first prefix that answers is where the server is, and what follows it names a collection.
 * Only 200 with connectionData, or an authentication challenge carrying Azure DevOps's headers,
 * counts as an answer: a 404 (with or without those headers) means nothing is served there.
 */
export async function probeServerPrefixes(opts: {
  origin: string;
  segments: readonly string[];
  fetch?: FetchLike;
  timeoutMs?: number;
  allowInsecure?: boolean;
}): Promise<ServerPrefixAnswer[]> {
  const fetchImpl: FetchLike = opts.fetch ?? guardedFetch(opts.allowInsecure ?? false);
  const answers: ServerPrefixAnswer[] = [];
  for (let i = 0; i <= opts.segments.length; i++) {
    const prefixSegments = opts.segments.slice(0, i);
    const prefix = prefixSegments.map((s) => `/${s}`).join('');
    const url = buildUrl(opts.origin.replace(/\/+$/, ''), [...prefixSegments, '_apis', 'connectionData']);
    let res: Response;
    try {
      res = await fetchImpl(url, {
        method: 'GET',
        headers: { Accept: 'application/json', ...SUPPRESS_SIGN_IN, 'User-Agent': `Keyway/${VERSION}` },
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (e) {
      answers.push({ prefix, answers: false, unreachable: true, reason: `no answer (${networkCode(e)})` });
      // An origin that does not answer will not answer deeper paths either.
      break;
    }
    const contentType = res.headers.get('content-type') ?? '';
    let body: Record<string, unknown> | undefined;
    let errorBody = false;
    if (JSON_TYPE.test(contentType)) {
      try {
        const text = await readLimited(res, 256 * 1024);
        body = asObject(JSON.parse(text));
        errorBody = res.status >= 400 && parseTfCode(parseAdoErrorBody(text)?.message) !== undefined;
      } catch {
        body = undefined;
      }
    } else {
      await res.body?.cancel().catch(() => undefined);
    }
    if (res.status === 200 && body && typeof body.instanceId === 'string' && typeof body.deploymentType === 'string') {
      const level =
        typeof body.deploymentId === 'string' && body.deploymentId.toLowerCase() === body.instanceId.toLowerCase()
          ? 'deployment'
          : 'collection';
      answers.push({ prefix, answers: true, level, reason: `connectionData answered (${level})` });
      continue;
    }
    let adoSigns = /TFS-Federated/i.test(res.headers.get('www-authenticate') ?? '') || errorBody;
    res.headers.forEach((_v, name) => {
      if (/^x-(tfs|vss)-/i.test(name)) adoSigns = true;
    });
    const challenge = res.status === 401 || res.status === 203 || isSignInRedirect(res.status, res.headers);
    answers.push({
      prefix,
      answers: challenge && adoSigns,
      reason: `HTTP ${res.status}${challenge && !adoSigns ? ' without Azure DevOps headers' : ''}`,
    });
  }
  return answers;
}

async function readLimited(res: Response, limit: number): Promise<string> {
  if (!res.body) return '';
  return new TextDecoder().decode(await readAtMost(res.body.getReader(), limit, () => new Error('too large')));
}

/** A body's bytes, at most `limit` of them: one more and the stream is cancelled and `tooLarge()` thrown. */
async function readAtMost(reader: ReadableStreamDefaultReader<Uint8Array>, limit: number, tooLarge: () => Error): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

// ---- paging --------------------------------------------------------------------------------------

/**
 * Follows continuation tokens: `for await (const ref of pages((token) => client.listRefs(p, r, { continuationToken: token })))`.
 * Stops when the service sends no token; fails when it repeats one (a loop) or after `maxPages`.
 */
export async function* pages<T>(
  fetchPage: (continuationToken: string | undefined) => Promise<Page<T>>,
  opts: { maxPages?: number } = {},
): AsyncGenerator<T, void, undefined> {
  const seen = new Set<string>();
  let token: string | undefined;
  const maxPages = opts.maxPages ?? 1000;
  for (let n = 0; ; n++) {
    if (n >= maxPages) {
      throw new AzureDevOpsError({
        kind: 'unexpected-response',
        message: `more than ${maxPages} pages; stopped following continuation tokens`,
      });
    }
    const page = await fetchPage(token);
    yield* page.items;
    if (!page.continuationToken) return;
    if (seen.has(page.continuationToken)) {
      throw new AzureDevOpsError({
        kind: 'unexpected-response',
        message: 'Azure DevOps repeated a continuation token; stopped to avoid a loop',
      });
    }
    seen.add(page.continuationToken);
    token = page.continuationToken;
  }
}
