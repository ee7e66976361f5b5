import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fromBase64url, toBase64url } from './base64url.ts';

describe('base64url', () => {
  test('matches Node for every length and round-trips', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const text = toBase64url(bytes);
        assert.equal(text, Buffer.from(bytes).toString('base64url'));
        assert.deepEqual(fromBase64url(text), new Uint8Array(bytes));
      }),
    );
  });

  test('decoding is strict', () => {
    const rejected = [
      'A', // a length that no byte string has
      'AAAAA',
      'AA==', // padding
      'AA+A', // standard alphabet
      'AA/A',
      'AA A',
      'AA\nA',
      'AAé',
      'AB', // non-zero unused bits: another spelling of "AA"
      'AAB',
    ];
    for (const text of rejected) assert.equal(fromBase64url(text), undefined, JSON.stringify(text));
    assert.deepEqual(fromBase64url(''), new Uint8Array(0));
    assert.deepEqual(fromBase64url('AA'), new Uint8Array([0]));
    assert.deepEqual(fromBase64url('-_8'), new Uint8Array([0xfb, 0xff]));
  });
});
