// The pacer: Retry-After (also on a 200), X-RateLimit-Delay and a falling X-RateLimit-Remaining turn
// into waits before the next request; an answer without headers means usage is low again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRatePacer, sharedRatePacer } from './pacing.ts';

describe('rate pacer', () => {
  it('nothing to wait for without rate-limit headers', () => {
    const p = createRatePacer();
    assert.equal(p.reserve(1000), 0);
    p.observe(undefined, 1000);
    assert.equal(p.reserve(1000), 0);
  });

  it('Retry-After on a successful answer: nobody starts before it', () => {
    const p = createRatePacer();
    p.observe({ retryAfterSeconds: 4 }, 10_000);
    assert.equal(p.reserve(10_500), 3500);
    assert.equal(p.reserve(14_000), 0);
  });

  it('blocked (Remaining 0 with Retry-After): after the pause, requests go no faster than the budget returns', () => {
    const p = createRatePacer();
    // 200 TSTUs per 300 s window, a request of unknown cost (assumed limit/10,000 = 0.02 TSTU).
    p.observe({ retryAfterSeconds: 2, limit: 200, remaining: 0, resetEpochSeconds: 300 }, 0);
    assert.equal(p.reserve(0), 2000);
    const second = p.reserve(0);
    assert.ok(second > 2000, `spread after the pause (${second} ms)`);
  });

  it('X-RateLimit-Delay spaces the following requests by at least the delay', () => {
    const p = createRatePacer();
    p.observe({ delaySeconds: 1.5, limit: 200, remaining: 0 }, 0);
    assert.equal(p.reserve(0), 0);
    assert.equal(p.reserve(0), 1500);
    assert.equal(p.reserve(0), 3000);
  });

  it('a falling Remaining spreads requests, more as it falls; plenty left means full speed', () => {
    const p = createRatePacer();
    const reset = 300; // seconds from epoch 0
    p.observe({ limit: 200, remaining: 150, resetEpochSeconds: reset }, 0);
    assert.equal(p.state().spacingMs, 0);
    // Answer after answer, each request costing 0.5 TSTU.
    let early = 0;
    let late = 0;
    for (let remaining = 60; remaining >= 2; remaining -= 0.5) {
      p.observe({ limit: 200, remaining, resetEpochSeconds: reset }, 0);
      if (remaining === 40) early = p.state().spacingMs;
      if (remaining === 2) late = p.state().spacingMs;
    }
    assert.ok(Math.abs((p.state().estimatedCost ?? 0) - 0.5) < 1e-9);
    assert.ok(early > 0 && late > early, `${early} then ${late}`);
    assert.ok(late <= 30_000);
    p.observe({ limit: 200, remaining: 190, resetEpochSeconds: reset }, 0);
    assert.equal(p.state().spacingMs, 0);
    p.observe({ limit: 200, remaining: 0, resetEpochSeconds: reset }, 0);
    p.observe(undefined, 0);
    assert.equal(p.state().spacingMs, 0);
  });

  it('one shared pacer per credential and host; another token or host has its own', () => {
    const a = sharedRatePacer('https://dev.azure.com', 'token-one');
    assert.equal(sharedRatePacer('https://dev.azure.com', 'token-one'), a);
    assert.notEqual(sharedRatePacer('https://dev.azure.com', 'token-two'), a);
    assert.notEqual(sharedRatePacer('https://other.example', 'token-one'), a);
  });
});
