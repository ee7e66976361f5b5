import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { createKeyCheck, decryptField, encryptField, needsReencryption, reencrypt, verifyKeyCheck, type FieldContext } from './at-rest.ts';
import { fromBase64url, toBase64url } from './base64url.ts';
import { DecryptionError, KeyConfigError } from './errors.ts';
import { parseKeyring } from './keyring.ts';

const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const freshKey = () => b64(randomBytes(32));
const keyringOf = (text: string) => parseKeyring(text, 'the test keyring');
const ctx: FieldContext = { table: 'connections', column: 'pat', rowId: 42 };
// A canary stands in for a secret: it must never show up in an error message.
const canary = () => `canary-${randomBytes(12).toString('hex')}`;

function expectDecryptionError(fn: () => unknown, reason: DecryptionError['reason']): DecryptionError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof DecryptionError, `expected DecryptionError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return error;
  }
  assert.fail(`expected DecryptionError ${reason}`);
}

/** Flips one bit of byte `index` (negative counts from the end) in dot-separated part `part`. */
function flip(ciphertext: string, part: 2 | 3, index: number): string {
  const parts = ciphertext.split('.');
  const bytes = fromBase64url(parts[part]!)!;
  const at = index < 0 ? bytes.length + index : index;
  bytes[at]! ^= 0x01;
  parts[part] = toBase64url(bytes);
  return parts.join('.');
}

describe('encryptField / decryptField', () => {
  const keyring = keyringOf(`k1:${freshKey()}`);

  test('round trip, with the documented format and a fresh IV each time', () => {
    const secret = canary();
    const a = encryptField(keyring, secret, ctx);
    const b = encryptField(keyring, secret, ctx);
    assert.match(a, /^kw1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    assert.notEqual(a, b);
    assert.ok(!a.includes(secret));
    assert.equal(decryptField(keyring, a, ctx), secret);
    assert.equal(decryptField(keyring, b, ctx), secret);
    assert.equal(decryptField(keyring, encryptField(keyring, '', ctx), ctx), '');
  });

  test('numeric and string row ids name the same row', () => {
    const c = encryptField(keyring, 'x', { ...ctx, rowId: 7 });
    assert.equal(decryptField(keyring, c, { ...ctx, rowId: '7' }), 'x');
  });

  test('flipping a bit in the IV, the ciphertext or the tag fails as tampered', () => {
    const c = encryptField(keyring, 'a secret value', ctx);
    for (const altered of [flip(c, 2, 0), flip(c, 2, -1), flip(c, 3, 0), flip(c, 3, -17), flip(c, 3, -1)]) {
      expectDecryptionError(() => decryptField(keyring, altered, ctx), 'tampered-or-wrong-context');
    }
  });

  test('a ciphertext moved to another row, column or table does not open', () => {
    const c = encryptField(keyring, 'a secret value', ctx);
    for (const moved of [
      { ...ctx, rowId: 43 },
      { ...ctx, column: 'refresh_token' },
      { ...ctx, table: 'runners' },
    ]) {
      const error = expectDecryptionError(() => decryptField(keyring, c, moved), 'tampered-or-wrong-context');
      assert.match(error.message, /copied from another table, column or row/);
      assert.match(error.message, new RegExp(`${moved.table}\\.${moved.column} of row ${moved.rowId}`));
    }
  });

  test('contexts that a plain join would confuse stay apart', () => {
    const pairs: [FieldContext, FieldContext][] = [
      [
        { table: 'a|b', column: 'c', rowId: 1 },
        { table: 'a', column: 'b|c', rowId: 1 },
      ],
      [
        { table: 'ab', column: 'c', rowId: 1 },
        { table: 'a', column: 'bc', rowId: 1 },
      ],
      [
        { table: 't', column: 'c1', rowId: 2 },
        { table: 't', column: 'c', rowId: 12 },
      ],
    ];
    for (const [from, to] of pairs) {
      const c = encryptField(keyring, 'v', from);
      expectDecryptionError(() => decryptField(keyring, c, to), 'tampered-or-wrong-context');
    }
  });

  test('an unknown key id names the key and where to add it', () => {
    const other = keyringOf(`k7:${freshKey()}`);
    const c = encryptField(other, 'v', ctx);
    const error = expectDecryptionError(() => decryptField(keyring, c, ctx), 'unknown-key');
    assert.equal(error.keyId, 'k7');
    assert.match(error.message, /key "k7"/);
    assert.match(error.message, /Add the line "k7:<base64 key>" .* to the test keyring/);
  });

  test('a different key under the same id is an error, never garbage', () => {
    const secret = canary();
    const written = keyringOf(`k1:${freshKey()}`);
    const impostor = keyringOf(`k1:${freshKey()}`);
    const c = encryptField(written, secret, ctx);
    const error = expectDecryptionError(() => decryptField(impostor, c, ctx), 'tampered-or-wrong-context');
    assert.match(error.message, /key "k1" in the test keyring is not the key it was written with/);
    assert.ok(!error.message.includes(secret));
  });

  test('malformed values are rejected with what is wrong, without echoing them', () => {
    const good = encryptField(keyring, 'v', ctx);
    const [, , iv, body] = good.split('.') as [string, string, string, string];
    const plaintextCanary = canary();
    const cases: [unknown, RegExp][] = [
      [plaintextCanary, /does not start with "kw1\."/],
      ['', /does not start with "kw1\."/],
      [`kw2.k1.${iv}.${body}`, /uses format "kw2"/],
      [`kw1.k1.${iv}`, /has 3 dot-separated parts, expected 4/],
      [`${good}.x`, /has 5 dot-separated parts/],
      [`kw1.k 1.${iv}.${body}`, /key id/],
      [`kw1..${iv}.${body}`, /key id/],
      [`kw1.k1.${iv.slice(0, 12)}.${body}`, /IV is not base64url of 12 bytes/],
      [`kw1.k1.${iv}=.${body}`, /IV is not base64url/],
      [`kw1.k1.${iv}.${body}!`, /ciphertext part is not base64url/],
      [`kw1.k1.${iv}.${body.slice(0, 20)}`, /shorter than the 16-byte authentication tag/],
      [`kw1.k1.${iv}.`, /shorter than the 16-byte authentication tag/],
      [null, /expected a string, got null/],
      [42, /expected a string, got number/],
    ];
    for (const [value, message] of cases) {
      const error = expectDecryptionError(() => decryptField(keyring, value as string, ctx), 'malformed');
      assert.match(error.message, message);
      assert.match(error.message, /^connections\.pat of row 42 is not a Keyway ciphertext/);
      assert.ok(!error.message.includes(plaintextCanary));
    }
  });

  test('error messages never contain plaintext or key material', () => {
    const key = freshKey();
    const secret = canary();
    const k = keyringOf(`k1:${key}`);
    const c = encryptField(k, secret, ctx);
    const errors = [
      () => decryptField(k, flip(c, 3, 0), ctx),
      () => decryptField(k, c, { ...ctx, rowId: 1 }),
      () => decryptField(keyringOf(`k2:${freshKey()}`), c, ctx),
      () => decryptField(k, secret, ctx),
    ];
    for (const fn of errors) {
      try {
        fn();
        assert.fail('expected an error');
      } catch (error) {
        const text = `${(error as Error).message}\n${(error as Error).stack ?? ''}`;
        assert.ok(!text.includes(secret), 'plaintext in error');
        assert.ok(!text.includes(key) && !text.includes(key.replace(/=+$/, '')), 'key in error');
      }
    }
  });

  test('programming errors in the context or plaintext are TypeErrors', () => {
    const bad: unknown[] = [
      { table: '', column: 'c', rowId: 1 },
      { table: 't', column: '', rowId: 1 },
      { table: 't', column: 'c', rowId: '' },
      { table: 't', column: 'c', rowId: undefined },
      { table: 't', column: 'c', rowId: Number.NaN },
      { table: 't', column: 'c\uD800', rowId: 1 },
      undefined,
    ];
    for (const context of bad) {
      assert.throws(() => encryptField(keyring, 'v', context as FieldContext), TypeError);
    }
    assert.throws(() => encryptField(keyring, 'lone \uDC00 surrogate', ctx), /not well-formed Unicode/);
  });

  test('property: arbitrary unicode round-trips, and only opens in its own context', () => {
    const context = fc.record({
      table: fc.string({ unit: 'binary', minLength: 1 }),
      column: fc.string({ unit: 'binary', minLength: 1 }),
      rowId: fc.oneof(fc.string({ unit: 'binary', minLength: 1 }), fc.integer()),
    });
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), context, context, (plaintext, here, there) => {
        const c = encryptField(keyring, plaintext, here);
        assert.equal(decryptField(keyring, c, here), plaintext);
        const same = here.table === there.table && here.column === there.column && String(here.rowId) === String(there.rowId);
        if (!same) expectDecryptionError(() => decryptField(keyring, c, there), 'tampered-or-wrong-context');
      }),
      { numRuns: 300 },
    );
  });
});

describe('rotation: needsReencryption / reencrypt', () => {
  test('values under an old key need re-encryption; reencrypt moves them to the primary', () => {
    const k1 = freshKey();
    const old = keyringOf(`k1:${k1}`);
    const rotated = keyringOf(`primary=k2\nk1:${k1}\nk2:${freshKey()}`);
    const c = encryptField(old, 'v', ctx);
    assert.equal(needsReencryption(old, c), false);
    assert.equal(needsReencryption(rotated, c), true);
    const moved = reencrypt(rotated, c, ctx);
    assert.match(moved, /^kw1\.k2\./);
    assert.equal(needsReencryption(rotated, moved), false);
    assert.equal(decryptField(rotated, moved, ctx), 'v');
    assert.equal(reencrypt(rotated, moved, ctx), moved, 'already under the primary: same string');
  });

  test('reencrypt refuses a value from another context', () => {
    const k1 = freshKey();
    const c = encryptField(keyringOf(`k1:${k1}`), 'v', ctx);
    const rotated = keyringOf(`primary=k2\nk1:${k1}\nk2:${freshKey()}`);
    expectDecryptionError(() => reencrypt(rotated, c, { ...ctx, rowId: 9 }), 'tampered-or-wrong-context');
  });

  test('needsReencryption rejects a malformed value', () => {
    expectDecryptionError(() => needsReencryption(keyringOf(`k1:${freshKey()}`), 'plain'), 'malformed');
  });
});

describe('key check', () => {
  test('a new database gets a check for every key; the same keys then verify', () => {
    const keyring = keyringOf(`k1:${freshKey()}\nk2:${freshKey()}`);
    for (const stored of [undefined, null, {}]) {
      const first = verifyKeyCheck(keyring, stored);
      assert.deepEqual(first.added, ['k1', 'k2']);
      assert.deepEqual(Object.keys(first.check), ['k1', 'k2']);
      assert.deepEqual(verifyKeyCheck(keyring, first.check), { check: first.check, added: [] });
    }
    const created = createKeyCheck(keyring);
    assert.deepEqual(Object.keys(created), ['k1', 'k2']);
    assert.deepEqual(verifyKeyCheck(keyring, created).added, []);
  });

  test('a different key under a known id fails start-up with a clear error', () => {
    const stored = createKeyCheck(keyringOf(`k1:${freshKey()}`));
    assert.throws(
      () => verifyKeyCheck(keyringOf(`k1:${freshKey()}`), stored),
      (error: unknown) =>
        error instanceof KeyConfigError &&
        /The encryption key "k1" in the test keyring does not match the one this database was written with/.test(error.message),
    );
  });

  test('a keyring sharing no key with the database fails start-up', () => {
    const stored = createKeyCheck(keyringOf(`k1:${freshKey()}\nk2:${freshKey()}`));
    assert.throws(
      () => verifyKeyCheck(keyringOf(`k1x:${freshKey()}`), stored),
      (error: unknown) => error instanceof KeyConfigError && /written with \(k1, k2\)/.test(error.message),
    );
  });

  test('a key added by rotation is reported; retired keys stay in the check', () => {
    const k1 = freshKey();
    const k2 = freshKey();
    const stored = createKeyCheck(keyringOf(`k1:${k1}`));
    const rotated = verifyKeyCheck(keyringOf(`primary=k2\nk1:${k1}\nk2:${k2}`), stored);
    assert.deepEqual(rotated.added, ['k2']);
    assert.equal(rotated.check.k1, stored.k1);
    const retired = verifyKeyCheck(keyringOf(`k2:${k2}`), rotated.check);
    assert.deepEqual(retired.added, []);
    assert.deepEqual(Object.keys(retired.check).sort(), ['k1', 'k2']);
    // Putting back a wrong copy of the retired key is still caught.
    assert.throws(() => verifyKeyCheck(keyringOf(`k2:${k2}\nk1:${freshKey()}`), retired.check), KeyConfigError);
  });

  test('a damaged stored check is reported as such', () => {
    const keyring = keyringOf(`k1:${freshKey()}`);
    assert.throws(() => verifyKeyCheck(keyring, { k1: 'garbage' }), /key check for key "k1" is malformed/);
    assert.throws(() => verifyKeyCheck(keyring, ['x'] as never), /stored key check is malformed/);
    assert.throws(() => verifyKeyCheck(keyring, { k1: 5 } as never), /stored key check is malformed/);
    // A real ciphertext of something else under the right key and context.
    const forged = encryptField(keyring, 'not the constant', { table: 'keyway', column: 'key_check', rowId: 'k1' });
    assert.throws(() => verifyKeyCheck(keyring, { k1: forged }), /unexpected value/);
  });
});
