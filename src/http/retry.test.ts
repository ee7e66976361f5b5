// The one retry policy: tries, backoff bounds, Retry-After, abort, and failures that are not worth
// another try. Waits go through an injected sleep or node:test's mock timers, never the wall clock.
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, parseRetryAfter, retry, retryDelayMs, sleep, type RetryOptions } from './retry.ts';

class Transient extends Error {
  constructor(readonly retryAfterMs?: number) {
    super('transient');
  }
}

/** A sleep that records what it was asked to wait and returns at once. */
function recordingSleep(): { sleep: NonNullable<RetryOptions['sleep']>; waits: number[] } {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms, signal) => {
      signal?.throwIfAborted();
      waits.push(ms);
    },
  };
}

const transientOnly = (e: unknown): boolean => e instanceof Transient;

describe('retry', () => {
  it('a success on the first try: one call, no wait', async () => {
    const { sleep: s, waits } = recordingSleep();
    let calls = 0;
    const value = await retry(
      async (attempt) => {
        calls++;
        return attempt;
      },
      { attempts: 3, retryable: transientOnly, backoff: { baseMs: 100, maxMs: 1000, jitter: 'none' }, sleep: s },
    );
    assert.equal(value, 1);
    assert.equal(calls, 1);
    assert.deepEqual(waits, []);
  });

  it('retries up to `attempts` tries, then throws the last failure as it is', async () => {
    const { sleep: s, waits } = recordingSleep();
    const seen: number[] = [];
    const failures: Error[] = [];
    await assert.rejects(
      retry(
        async (attempt) => {
          seen.push(attempt);
          const e = new Transient();
          failures.push(e);
          throw e;
        },
        { attempts: 4, retryable: transientOnly, backoff: { baseMs: 100, maxMs: 1000, jitter: 'none' }, sleep: s },
      ),
      (e) => e === failures.at(-1),
    );
    assert.deepEqual(seen, [1, 2, 3, 4]);
    // Exponential without jitter: 100, 200, 400 (three waits between four tries).
    assert.deepEqual(waits, [100, 200, 400]);
  });

  it('succeeds on a later try', async () => {
    const { sleep: s, waits } = recordingSleep();
    const value = await retry(
      async (attempt) => {
        if (attempt < 3) throw new Transient();
        return 'done';
      },
      { attempts: 5, retryable: transientOnly, backoff: { baseMs: 10, maxMs: 1000, jitter: 'none' }, sleep: s },
    );
    assert.equal(value, 'done');
    assert.deepEqual(waits, [10, 20]);
  });

  it('a failure that is not retryable goes through at once', async () => {
    const { sleep: s, waits } = recordingSleep();
    const refused = new Error('refused');
    let calls = 0;
    await assert.rejects(
      retry(
        async () => {
          calls++;
          throw refused;
        },
        { attempts: 5, retryable: transientOnly, backoff: { baseMs: 10, maxMs: 1000, jitter: 'full' }, sleep: s },
      ),
      (e) => e === refused,
    );
    assert.equal(calls, 1);
    assert.deepEqual(waits, []);
  });

  it('the predicate sees the failure and the try it ended', async () => {
    const { sleep: s } = recordingSleep();
    const asked: number[] = [];
    await assert.rejects(
      retry(
        async () => {
          throw new Transient();
        },
        {
          attempts: 10,
          retryable: (_e, attempt) => {
            asked.push(attempt);
            return attempt < 2;
          },
          backoff: () => 0,
          sleep: s,
        },
      ),
    );
    assert.deepEqual(asked, [1, 2]);
  });

  it('honours Retry-After instead of the backoff, never longer than maxMs', async () => {
    const { sleep: s, waits } = recordingSleep();
    await assert.rejects(
      retry(
        async (attempt) => {
          throw new Transient(attempt === 1 ? 3_000 : attempt === 2 ? 60_000 : undefined);
        },
        {
          attempts: 4,
          retryable: transientOnly,
          backoff: { baseMs: 100, maxMs: 10_000, jitter: 'none' },
          retryAfterMs: (e) => (e as Transient).retryAfterMs,
          sleep: s,
        },
      ),
    );
    // Asked 3 s, asked 60 s (capped at 10 s), then the backoff of the third retry.
    assert.deepEqual(waits, [3_000, 10_000, 400]);
  });

  it('a backoff function gets the retry number from 0', async () => {
    const { sleep: s, waits } = recordingSleep();
    await assert.rejects(
      retry(
        async () => {
          throw new Transient();
        },
        { attempts: 5, retryable: transientOnly, backoff: (retry) => 50 * (retry + 1), sleep: s },
      ),
    );
    assert.deepEqual(waits, [50, 100, 150, 200]);
  });

  it('retryAtOnce: retried without a wait even when no tries are left, and counted as a try', async () => {
    const { sleep: s, waits } = recordingSleep();
    const stale = new Error('stale');
    const seen: number[] = [];
    await assert.rejects(
      retry(
        async (attempt) => {
          seen.push(attempt);
          if (attempt === 1) throw stale;
          throw new Transient();
        },
        {
          attempts: 1,
          retryable: transientOnly,
          retryAtOnce: (e) => e === stale,
          backoff: { baseMs: 100, maxMs: 1000, jitter: 'none' },
          sleep: s,
        },
      ),
      Transient,
    );
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(waits, []);
  });

  it('onRetry is told each failure, its try and the wait', async () => {
    const { sleep: s } = recordingSleep();
    const told: [number, number][] = [];
    await assert.rejects(
      retry(
        async () => {
          throw new Transient();
        },
        {
          attempts: 3,
          retryable: transientOnly,
          backoff: { baseMs: 100, maxMs: 1000, jitter: 'none' },
          sleep: s,
          onRetry: (_e, attempt, ms) => told.push([attempt, ms]),
        },
      ),
    );
    assert.deepEqual(told, [
      [1, 100],
      [2, 200],
    ]);
  });

  it('an abort during the wait ends it with the signal’s reason, and no further try starts', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const controller = new AbortController();
    let calls = 0;
    const running = retry(
      async () => {
        calls++;
        throw new Transient();
      },
      { attempts: 5, retryable: transientOnly, backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 'none' }, signal: controller.signal },
    );
    // Let the first try fail and the wait begin.
    await new Promise<void>((r) => setImmediate(r));
    assert.equal(calls, 1);
    const reason = new Error('cancelled');
    controller.abort(reason);
    await assert.rejects(running, (e) => e === reason);
    assert.equal(calls, 1);
  });

  it('an already aborted signal: no try at all', async () => {
    const controller = new AbortController();
    const reason = new Error('gone');
    controller.abort(reason);
    const work = mock.fn(async () => 1);
    await assert.rejects(
      retry(work, { attempts: 3, retryable: () => true, backoff: () => 0, signal: controller.signal }),
      (e) => e === reason,
    );
    assert.equal(work.mock.callCount(), 0);
  });
});

describe('backoffMs', () => {
  const b = { baseMs: 100, maxMs: 1_000 };

  it('none: base·2^retry, capped at maxMs', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 10].map((r) => backoffMs(r, { ...b, jitter: 'none' })),
      [100, 200, 400, 800, 1_000, 1_000],
    );
  });

  it('full: whole milliseconds in [0, ceiling)', () => {
    assert.equal(
      backoffMs(2, { ...b, jitter: 'full' }, () => 0),
      0,
    );
    assert.equal(
      backoffMs(2, { ...b, jitter: 'full' }, () => 0.999999),
      399,
    );
    assert.equal(
      backoffMs(2, { ...b, jitter: 'full' }, () => 0.5),
      200,
    );
    assert.equal(
      backoffMs(20, { ...b, jitter: 'full' }, () => 0.999999),
      999,
    );
  });

  it('equal: in [ceiling/2, ceiling)', () => {
    assert.equal(
      backoffMs(1, { ...b, jitter: 'equal' }, () => 0),
      100,
    );
    assert.ok(backoffMs(1, { ...b, jitter: 'equal' }, () => 0.999999) < 200);
    assert.ok(backoffMs(1, { ...b, jitter: 'equal' }, () => 0.999999) >= 199);
    assert.equal(
      backoffMs(20, { ...b, jitter: 'equal' }, () => 0),
      500,
    );
  });

  it('stays within its bounds for any random draw', () => {
    for (let retry = 0; retry < 12; retry++) {
      const ceiling = Math.min(1_000, 100 * 2 ** retry);
      for (const draw of [0, 0.1, 0.5, 0.9, 0.999999]) {
        const full = backoffMs(retry, { ...b, jitter: 'full' }, () => draw);
        const equal = backoffMs(retry, { ...b, jitter: 'equal' }, () => draw);
        assert.ok(full >= 0 && full < ceiling, `full ${full} for retry ${retry}`);
        assert.ok(equal >= ceiling / 2 && equal < ceiling, `equal ${equal} for retry ${retry}`);
      }
    }
  });

  it('retryDelayMs: the backoff of the retry after the failed try', () => {
    assert.equal(retryDelayMs(new Error('x'), 1, { backoff: { ...b, jitter: 'none' } }), 100);
    assert.equal(retryDelayMs(new Error('x'), 3, { backoff: { ...b, jitter: 'none' } }), 400);
    assert.equal(retryDelayMs(new Error('x'), 3, { backoff: { ...b, jitter: 'none' }, retryAfterMs: () => 5_000 }), 1_000);
    assert.equal(retryDelayMs(new Error('x'), 3, { backoff: { ...b, jitter: 'none' }, retryAfterMs: () => undefined }), 400);
  });
});

describe('parseRetryAfter', () => {
  it('delta-seconds, decimals allowed', () => {
    assert.equal(parseRetryAfter('7', 0), 7);
    assert.equal(parseRetryAfter(' 1.5 ', 0), 1.5);
    assert.equal(parseRetryAfter('0', 0), 0);
  });

  it('an HTTP-date, relative to now, never negative', () => {
    const now = Date.parse('Sun, 06 Dec 2026 10:00:00 GMT');
    assert.equal(parseRetryAfter('Sun, 06 Dec 2026 10:00:30 GMT', now), 30);
    assert.equal(parseRetryAfter('Sun, 06 Dec 2026 09:00:00 GMT', now), 0);
  });

  it('nothing usable: undefined', () => {
    assert.equal(parseRetryAfter(null, 0), undefined);
    assert.equal(parseRetryAfter(undefined, 0), undefined);
    assert.equal(parseRetryAfter('soon', 0), undefined);
  });
});

describe('sleep', () => {
  it('resolves when its timer fires', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let done = false;
    const waiting = sleep(5_000).then(() => {
      done = true;
    });
    t.mock.timers.tick(4_999);
    await new Promise<void>((r) => setImmediate(r));
    assert.equal(done, false);
    t.mock.timers.tick(1);
    await waiting;
    assert.equal(done, true);
  });

  it('an abort rejects with the signal’s reason, before or during the wait', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const before = new AbortController();
    before.abort(new Error('before'));
    await assert.rejects(sleep(1_000, before.signal), /before/);

    const during = new AbortController();
    const waiting = sleep(60_000, during.signal);
    during.abort(new Error('during'));
    await assert.rejects(waiting, /during/);
  });
});
