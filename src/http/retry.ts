// Keyway's one retry policy: how many tries, which failures earn another, how long to wait between
// them (exponential backoff with jitter, or the wait the other side asked for with Retry-After), and
// an abort signal that ends the waiting. Each caller brings its own predicate and limits; the Azure
// DevOps client's REST decisions (azure-devops/retry.ts) build on the same backoff and sleep.
//
// Waits are node:timers/promises timers; tests inject `sleep` (or use node:test's mock timers).

// The module object, read at each call (not a named import): node:test's mock timers replace its setTimeout.
import timers from 'node:timers/promises';

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** Waits `ms`; when `signal` aborts (before or during the wait) it rejects with the signal's reason. */
export const sleep: Sleep = async (ms, signal) => {
  signal?.throwIfAborted();
  try {
    await timers.setTimeout(ms, undefined, signal ? { signal } : undefined);
  } catch (e) {
    if (signal?.aborted) throw signal.reason;
    throw e;
  }
};

/**
 * - `full`: uniform in [0, ceiling), whole milliseconds (AWS Architecture Blog, "Exponential Backoff
 *   And Jitter"): spreads a crowd of clients the most.
 * - `equal`: uniform in [ceiling/2, ceiling): never much shorter than the ceiling.
 * - `none`: the ceiling itself.
 */
export type Jitter = 'full' | 'equal' | 'none';

export interface Backoff {
  /** Ceiling of the first retry's wait; it doubles per retry. */
  baseMs: number;
  /** No ceiling grows beyond this. */
  maxMs: number;
  jitter: Jitter;
}

/** Wait before retry number `retry` (0 for the first retry): min(maxMs, baseMs·2^retry), jittered. */
export function backoffMs(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** retry);
  switch (backoff.jitter) {
    case 'full':
      return Math.floor(random() * ceiling);
    case 'equal':
      return ceiling * (0.5 + random() / 2);
    case 'none':
      return ceiling;
  }
}

function seconds(v: string): number | undefined {
  if (!/^\d+(\.\d+)?$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const TIME = '\\d{2}:\\d{2}:\\d{2}';
// The three forms of HTTP-date a recipient must accept (RFC 9110 §5.6.7). Date.parse alone is far
// more lenient: it reads "-3" or "1 2" as dates, which a Retry-After must not be.
const IMF_FIXDATE = new RegExp(`^${DAY}, \\d{2} ${MONTH} \\d{4} ${TIME} GMT$`);
const RFC850_DATE = new RegExp(`^(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day, \\d{2}-${MONTH}-\\d{2} ${TIME} GMT$`);
const ASCTIME_DATE = new RegExp(`^${DAY} ${MONTH} [ \\d]\\d ${TIME} \\d{4}$`);

function httpDate(v: string): number | undefined {
  // asctime carries no zone; HTTP dates are always GMT, and Date.parse would read it as local time.
  const date = IMF_FIXDATE.test(v) || RFC850_DATE.test(v) ? Date.parse(v) : ASCTIME_DATE.test(v) ? Date.parse(`${v} GMT`) : NaN;
  return Number.isNaN(date) ? undefined : date;
}

/**
 * `Retry-After` as seconds: delta-seconds, or an HTTP-date relative to `nowMs` (RFC 9110 §10.2.3).
 * Anything else, a negative number included, is no Retry-After at all.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  const n = seconds(v);
  if (n !== undefined) return n;
  const date = httpDate(v);
  if (date === undefined) return undefined;
  return Math.max(0, Math.ceil((date - nowMs) / 1000));
}

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  /** Whether a failure earns another try (`attempt`: the try that failed, from 1); false: thrown at once. */
  retryable: (error: unknown, attempt: number) => boolean;
  /** The wait before a retry: a backoff, or a function of the retry number (0 for the first retry). */
  backoff: Backoff | ((retry: number) => number);
  /**
   * Milliseconds the failure itself asked to wait (a Retry-After), used instead of the backoff; never
   * longer than a Backoff's `maxMs` (a backoff function sets no bound).
   */
  retryAfterMs?: (error: unknown) => number | undefined;
  /**
   * Failures retried at once, whatever tries are left: the work has already mended their cause (it
   * dropped a stale cached id, say). Such a retry still counts as a try.
   */
  retryAtOnce?: (error: unknown, attempt: number) => boolean;
  /** Stops the waiting (rejects with its reason) and any further try. */
  signal?: AbortSignal;
  sleep?: Sleep;
  /** Uniform in [0, 1), for the jitter. */
  random?: () => number;
  /** Before each wait (not for `retryAtOnce`): to log the failure. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/** The wait before retrying after try number `attempt` failed with `error`. */
export function retryDelayMs(error: unknown, attempt: number, options: Pick<RetryOptions, 'backoff' | 'retryAfterMs' | 'random'>): number {
  const { backoff } = options;
  const asked = options.retryAfterMs?.(error);
  if (asked !== undefined) return typeof backoff === 'function' ? asked : Math.min(asked, backoff.maxMs);
  return typeof backoff === 'function' ? backoff(attempt - 1) : backoffMs(attempt - 1, backoff, options.random);
}

/**
 * Runs `work` until it succeeds, a failure is not retryable, the tries are used up (the last
 * failure is thrown as it is), or `signal` aborts (its reason is thrown).
 */
export async function retry<T>(work: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await work(attempt);
    } catch (error) {
      if (options.retryAtOnce?.(error, attempt)) continue;
      if (attempt >= options.attempts || !options.retryable(error, attempt)) throw error;
      const ms = retryDelayMs(error, attempt, options);
      options.onRetry?.(error, attempt, ms);
      await wait(ms, options.signal);
    }
  }
}
