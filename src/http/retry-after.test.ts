import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRetryAfter } from './retry.ts';

// RFC 9110 §10.2.3: Retry-After is an HTTP-date or a non-negative count of seconds; anything else
// is as if the header were absent (never read as a date).
describe('parseRetryAfter: only what RFC 9110 allows', () => {
  const now = Date.parse('Sun, 06 Dec 2026 10:00:00 GMT');

  it('a negative number is no Retry-After (not a date in 2001)', () => {
    assert.equal(parseRetryAfter('-3', now), undefined);
    assert.equal(parseRetryAfter('-0', now), undefined);
    assert.equal(parseRetryAfter(' -120 ', now), undefined);
  });

  it('number-like garbage is no Retry-After', () => {
    for (const v of ['+5', '1 2', '12abc', '1e3', '0x10', '.5', '5.', '', '   ', 'Infinity', 'NaN', '2026-12-06T10:00:30Z']) {
      assert.equal(parseRetryAfter(v, now), undefined, JSON.stringify(v));
    }
  });

  it('the three HTTP-date forms are read as GMT', () => {
    assert.equal(parseRetryAfter('Sun, 06 Dec 2026 10:00:30 GMT', now), 30);
    assert.equal(parseRetryAfter('Sunday, 06-Dec-26 10:00:30 GMT', now), 30);
    assert.equal(parseRetryAfter('Sun Dec  6 10:00:30 2026', now), 30);
  });

  it('a date with something after it is no Retry-After', () => {
    assert.equal(parseRetryAfter('Sun, 06 Dec 2026 10:00:30 GMT+0200', now), undefined);
    assert.equal(parseRetryAfter('Sun, 06 Dec 2026 10:00:30', now), undefined);
  });

  it('delta-seconds still work, surrounding white space allowed', () => {
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter(' 7 ', now), 7);
    assert.equal(parseRetryAfter('120', now), 120);
  });
});
