// Slowing down before Azure DevOps has to (docs/throttling.md). The service meters each identity
// (200 TSTUs in a sliding five minutes) and tells clients where they stand before it delays them:
// X-RateLimit-Limit/-Remaining/-Reset come first, X-RateLimit-Delay once it delays, Retry-After
// whenever it wants a pause (on a 429, and also on a successful answer). A pacer turns those headers
// into waits before the next request, for every client that shares the credential, so a burst
// (a sync of many groups, a storm of refreshes) spreads out instead of reaching the block.
//
// Pure bookkeeping: it says how long to wait; the client sleeps (with its own, abortable sleep).
import { createHash } from 'node:crypto';
import type { RateLimitInfo } from './retry.ts';

export interface RatePacerOptions {
  /** Below this fraction of the limit remaining, requests are spread out. Default 0.25. */
  lowWater?: number;
  /** The longest gap the pacer puts between two requests (the service's own delays reach 30 s). Default 30 000. */
  maxSpacingMs?: number;
}

export interface RatePacer {
  /** Reserves the next start: how many ms the caller must wait first (0 = go now). */
  reserve(nowMs: number): number;
  /** Takes in the rate-limit headers of an answer (any status); `undefined` for an answer without any. */
  observe(info: RateLimitInfo | undefined, nowMs: number): void;
  /** What the pacer currently does, for logs and tests. */
  state(): { notBeforeMs: number; spacingMs: number; estimatedCost?: number };
}

export function createRatePacer(options: RatePacerOptions = {}): RatePacer {
  const lowWater = options.lowWater ?? 0.25;
  const maxSpacingMs = options.maxSpacingMs ?? 30_000;
  let notBefore = 0;
  let nextStart = 0;
  let spacing = 0;
  let lastRemaining: number | undefined;
  let cost: number | undefined;

  return {
    reserve(nowMs) {
      const start = Math.max(nowMs, notBefore, nextStart);
      nextStart = start + spacing;
      return start - nowMs;
    },
    observe(info, nowMs) {
      if (!info) {
        // The headers come before any delay, so an answer without them means usage is low again.
        spacing = 0;
        lastRemaining = undefined;
        return;
      }
      // Retry-After, on a 429 or on a successful answer: nobody sharing the credential starts before it.
      // It says exactly how long to wait to fall under the threshold, so it governs alone.
      if (info.retryAfterSeconds !== undefined) {
        notBefore = Math.max(notBefore, nowMs + info.retryAfterSeconds * 1000);
        if (info.remaining !== undefined) lastRemaining = info.remaining;
        // Out of budget: once the pause is over, go no faster than the budget comes back (the limit
        // per window), or every request held by the pause would start at once and be blocked again.
        if (info.remaining === 0 && info.limit !== undefined && info.limit > 0 && info.resetEpochSeconds !== undefined) {
          const window = Math.max(0, info.resetEpochSeconds * 1000 - nowMs);
          const perRequest = Math.max(cost ?? 0, info.limit / 10_000);
          spacing = Math.min(maxSpacingMs, Math.max(spacing, (window * perRequest) / info.limit));
        }
        return;
      }
      if (info.delaySeconds !== undefined && info.delaySeconds > 0) {
        // The service is delaying us: at least that much between requests until it stops.
        spacing = Math.min(maxSpacingMs, Math.max(spacing, info.delaySeconds * 1000));
        lastRemaining = 0;
        return;
      }
      if (info.limit === undefined || info.remaining === undefined || info.limit <= 0) return;
      // What one request costs, learned from how Remaining falls answer by answer.
      if (lastRemaining !== undefined && info.remaining < lastRemaining) {
        const drop = lastRemaining - info.remaining;
        cost = cost === undefined ? drop : 0.7 * cost + 0.3 * drop;
      }
      lastRemaining = info.remaining;
      if (info.remaining / info.limit >= lowWater) {
        spacing = 0;
        return;
      }
      // Spread the requests the remaining budget allows over the time until usage is back to zero.
      const perRequest = Math.max(cost ?? 0, info.limit / 10_000);
      const untilReset = info.resetEpochSeconds !== undefined ? Math.max(0, info.resetEpochSeconds * 1000 - nowMs) : maxSpacingMs;
      const allowed = info.remaining / perRequest;
      spacing = Math.min(maxSpacingMs, untilReset / Math.max(1, allowed));
    },
    state() {
      return { notBeforeMs: notBefore, spacingMs: spacing, ...(cost !== undefined ? { estimatedCost: cost } : {}) };
    },
  };
}

const shared = new Map<string, RatePacer>();
const SHARED_MAX = 1000;

/**
 * One pacer per credential and host in this process, so every client built with the same token
 * (one per sync run, per request) slows down together. Keyed by a digest: the token is not kept.
 */
export function sharedRatePacer(host: string, token: string): RatePacer {
  const key = createHash('sha256').update(host).update('\0').update(token).digest('base64url');
  let pacer = shared.get(key);
  if (pacer) {
    // Most recently used last, so the oldest goes first when the map is full.
    shared.delete(key);
  } else {
    pacer = createRatePacer();
    if (shared.size >= SHARED_MAX) shared.delete(shared.keys().next().value!);
  }
  shared.set(key, pacer);
  return pacer;
}

/** Forgets every shared pacer: for tests that simulate the service's Retry-After having passed. */
export function forgetSharedRatePacers(): void {
  shared.clear();
}
