// The authenticated request: headers, the credential, pacing by Azure DevOps's rate-limit headers,
// retries (retry.ts), one credential refresh, per-attempt timeouts. Answers are read by response.ts.
//
// The credential lives only in this closure and in the Authorization header of outgoing requests.
// Errors are built from redacted text, carry no headers and no raw `cause`.

import type { AzureDevOpsClientOptions, ClientStats } from './client-types.ts';
import { AzureDevOpsError, createRedactor, refusesCredential, type AzureDevOpsErrorInit, type Redactor } from './errors.ts';
import type { FetchLike } from './guarded-fetch.ts';
import { sharedRatePacer } from './pacing.ts';
import type { Plan } from './plan.ts';
import { createResponseReader, type AnswerFailure } from './response.ts';
import { DEFAULT_RETRY_POLICY, decideRetry, readRateLimit, type RateLimitInfo, type RetryPolicy } from './retry.ts';
import type { AzureDevOpsCredential, Conditional } from './types.ts';
import { networkCode, pathOf, SUPPRESS_SIGN_IN, TransportFailure } from './wire.ts';
import { sleep as defaultSleep } from '../http/retry.ts';
import { runnerMetrics } from '../telemetry/runner-metrics.ts';

export interface Transport {
  /** Runs a plan with retries. */
  execute<T>(plan: Plan<T>): Promise<T>;
  /** Conditional GET (`etag` null: nothing cached yet, ask for the ETag). */
  execute<T>(plan: Plan<T>, conditional: { etag: string | null }): Promise<Conditional<T>>;
  /** One authenticated GET as it comes: no retries, no error mapping (probes that read only the status). */
  sendOnce(url: string, signal?: AbortSignal): Promise<Response>;
  /** An error from redacted text. */
  fail(init: AzureDevOpsErrorInit): AzureDevOpsError;
  stats(): ClientStats;
  lastRateLimit(): RateLimitInfo | undefined;
}

export interface TransportSettings {
  /** The collection URL (the shared pacer is keyed by its origin). */
  base: string;
  fetch: FetchLike;
  timeoutMs: number;
  userAgent: string;
}

export function createTransport(
  options: AzureDevOpsClientOptions,
  { base, fetch: fetchImpl, timeoutMs, userAgent }: TransportSettings,
): Transport {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const policy: RetryPolicy = {
    maxRetries: options.maxRetries ?? DEFAULT_RETRY_POLICY.maxRetries,
    maxThrottledRetries: options.maxThrottledRetries ?? DEFAULT_RETRY_POLICY.maxThrottledRetries,
    maxRetryDelayMs: options.maxRetryDelayMs ?? DEFAULT_RETRY_POLICY.maxRetryDelayMs,
    baseDelayMs: options.baseRetryDelayMs ?? DEFAULT_RETRY_POLICY.baseDelayMs,
  };
  const maxResponseBytes = options.maxResponseBytes ?? 32 * 1024 * 1024;

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

  const { judge } = createResponseReader({ fail, maxResponseBytes, now });

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

      let failure: (Omit<AnswerFailure, 'status'> & { status?: number }) | undefined;
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

  return {
    execute: execute as Transport['execute'],
    sendOnce: (url, signal) =>
      fetchImpl(url, {
        method: 'GET',
        headers: { Authorization: authorization, 'User-Agent': userAgent, ...SUPPRESS_SIGN_IN },
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      }),
    fail,
    stats: () => ({ ...counters }),
    lastRateLimit: () => (lastRate ? { ...lastRate } : undefined),
  };
}
