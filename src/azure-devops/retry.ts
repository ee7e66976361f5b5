// Retry decisions for Azure DevOps REST calls (pure), on Keyway's one retry policy (http/retry.ts:
// its backoff, Retry-After parsing and sleep).
// Throttling headers: docs/throttling.md, "What Azure DevOps documents", from
// https://learn.microsoft.com/azure/devops/integrate/concepts/rate-limits (Retry-After,
// X-RateLimit-Resource/-Delay/-Limit/-Remaining/-Reset; they may arrive on a 200 before any delay).

import { backoffMs, parseRetryAfter } from '../http/retry.ts';

export interface RetryPolicy {
  /** Retries after the first attempt for failures that may have run: 5xx and network errors. */
  maxRetries: number;
  /**
   * Retries of requests Azure DevOps refused with 429 before running them. Counted apart: a burst
   * that meets the block waits out each Retry-After and the pacer spreads the retries, so a few
   * rounds are normal and harmless (nothing ran); the total wait stays bounded by maxRetryDelayMs
   * per wait and this count.
   */
  maxThrottledRetries: number;
  /** No single wait is longer than this; a longer Retry-After fails at once with `throttled`. */
  maxRetryDelayMs: number;
  /** First backoff ceiling; doubles per retry (full jitter picks uniformly below it). */
  baseDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxRetries: 3,
  maxThrottledRetries: 8,
  maxRetryDelayMs: 60_000,
  baseDelayMs: 500,
});

/** The last `X-RateLimit-*` values seen, as numbers where the service sends numbers. */
export interface RateLimitInfo {
  /** e.g. `Core` or `ATCP` (the throttled resource). */
  resource?: string;
  /** Seconds the request was delayed by the service (decimals allowed). */
  delaySeconds?: number;
  /** TSTUs allowed in the window (200 per sliding 5 minutes for the global budget). */
  limit?: number;
  remaining?: number;
  /** Epoch seconds when the usage falls back under the limit. */
  resetEpochSeconds?: number;
  /** `Retry-After`, when present, in seconds. */
  retryAfterSeconds?: number;
}

function num(v: string | null): number | undefined {
  if (v === null) return undefined;
  const t = v.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** Rate-limit headers of a response, or undefined when it carries none. */
export function readRateLimit(headers: Headers, nowMs: number): RateLimitInfo | undefined {
  const info: RateLimitInfo = {};
  const resource = headers.get('x-ratelimit-resource');
  if (resource) info.resource = resource.trim();
  const set = (k: keyof Omit<RateLimitInfo, 'resource'>, v: number | undefined): void => {
    if (v !== undefined) info[k] = v;
  };
  set('delaySeconds', num(headers.get('x-ratelimit-delay')));
  set('limit', num(headers.get('x-ratelimit-limit')));
  set('remaining', num(headers.get('x-ratelimit-remaining')));
  set('resetEpochSeconds', num(headers.get('x-ratelimit-reset')));
  const hasRateLimitHeader = Object.keys(info).length > 0;
  set('retryAfterSeconds', parseRetryAfter(headers.get('retry-after'), nowMs));
  return hasRateLimitHeader || info.retryAfterSeconds !== undefined ? info : undefined;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** RFC 9110 §9.2.2; POST and PATCH only when the caller vouches for them. */
export function isIdempotent(method: string, markedIdempotent = false): boolean {
  return markedIdempotent || IDEMPOTENT.has(method.toUpperCase());
}

/** Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): uniform in [0, min(cap, base·2^retry)). */
export function backoffDelayMs(retry: number, policy: RetryPolicy, random: () => number): number {
  return backoffMs(retry, { baseMs: policy.baseDelayMs, maxMs: policy.maxRetryDelayMs, jitter: 'full' }, random);
}

export type RetryDecision =
  { retry: true; delayMs: number } | { retry: false; reason: 'exhausted' | 'not-idempotent' | 'not-retryable' | 'delay-too-long' };

export interface AttemptOutcome {
  /** HTTP status, or undefined for a network failure. */
  status?: number;
  /** Seconds the service asked to wait (Retry-After, else X-RateLimit-Delay), for 429. */
  throttleSeconds?: number;
}

/**
 * Whether to try again after attempt number `retriesSoFar + 1` failed.
 *
 * - 429: Azure DevOps refused the request before running it ("a blocked request gets 429"), so it
 *   is retried for every method, after exactly the wait the service asked for. A wait longer than
 *   `maxRetryDelayMs` is not shortened (the retry would only be throttled again): the call fails
 *   with `throttled` and the caller schedules it.
 * - 5xx and network failures: the request may have run, so only idempotent methods are retried,
 *   with exponential backoff and full jitter.
 */
export function decideRetry(
  outcome: AttemptOutcome,
  ctx: { retriesSoFar: number; throttledSoFar?: number; method: string; idempotent?: boolean; policy: RetryPolicy; random: () => number },
): RetryDecision {
  const throttled = outcome.status === 429;
  const transient = outcome.status === undefined || (outcome.status >= 500 && outcome.status <= 599) || throttled;
  if (!transient) return { retry: false, reason: 'not-retryable' };
  if (throttled ? (ctx.throttledSoFar ?? ctx.retriesSoFar) >= ctx.policy.maxThrottledRetries : ctx.retriesSoFar >= ctx.policy.maxRetries)
    return { retry: false, reason: 'exhausted' };
  if (throttled) {
    if (outcome.throttleSeconds === undefined) return { retry: true, delayMs: backoffDelayMs(ctx.retriesSoFar, ctx.policy, ctx.random) };
    const delayMs = Math.ceil(outcome.throttleSeconds * 1000);
    if (delayMs > ctx.policy.maxRetryDelayMs) return { retry: false, reason: 'delay-too-long' };
    return { retry: true, delayMs };
  }
  if (!isIdempotent(ctx.method, ctx.idempotent)) return { retry: false, reason: 'not-idempotent' };
  return { retry: true, delayMs: backoffDelayMs(ctx.retriesSoFar, ctx.policy, ctx.random) };
}

/** Seconds a 429 asks to wait: `Retry-After`, else `X-RateLimit-Delay`. */
export function throttleSeconds(info: RateLimitInfo | undefined): number | undefined {
  return info?.retryAfterSeconds ?? info?.delaySeconds;
}
