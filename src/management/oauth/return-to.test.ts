import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { safeReturnTo } from './return-to.ts';

describe('returnTo is a same-origin path', () => {
  it('keeps paths on this origin', () => {
    for (const ok of ['/', '/repos', '/repos?url=https%3A%2F%2Fdev.azure.com%2Fa', '/a/b#c']) assert.equal(safeReturnTo(ok), ok);
  });

  it('refuses open redirects in every disguise', () => {
    for (const bad of [
      'https://evil.example',
      '//evil.example',
      '/\\evil.example',
      '\\\\evil.example',
      '/%2F%2Fevil.example',
      '%2F%2Fevil.example',
      '/%5Cevil.example',
      'javascript:alert(1)',
      '/\tevil',
      ' /x',
      'evil.example',
      '/%E0%A4%A',
      // Dot segments that resolve into a scheme-relative URL.
      '/.//evil.example',
      '/a/..//evil.example',
      '/%2e//evil.example',
    ]) {
      assert.equal(safeReturnTo(bad), '/', bad);
    }
  });

  it('never yields anything that leaves the origin (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (s) => {
        const out = safeReturnTo(s);
        assert.equal(new URL(out, 'https://keyway.test').origin, 'https://keyway.test');
        assert.ok(out.startsWith('/') && !out.startsWith('//'));
      }),
      { numRuns: 2000 },
    );
  });

  it('never yields anything that leaves the origin, built from the pieces of path tricks (property)', () => {
    const piece = fc.constantFrom('/', '.', '..', '%2e', '%2f', '%5c', '\\', 'evil.example', '@', ':', '?', '#', 'a');
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }).map((p) => p.join('')),
        (s) => {
          const out = safeReturnTo(s);
          assert.equal(new URL(out, 'https://keyway.test').origin, 'https://keyway.test', `${s} -> ${out}`);
          assert.ok(out.startsWith('/') && !out.startsWith('//'), `${s} -> ${out}`);
        },
      ),
      { numRuns: 5000 },
    );
  });
});
