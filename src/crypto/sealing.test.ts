import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { fromBase64url, toBase64url } from './base64url.ts';
import {
  UnsealError,
  generateRunnerKeyPair,
  isSealed,
  open,
  publicKeyFingerprint,
  runnerPublicKey,
  seal,
  type UnsealFailure,
} from './sealing.ts';

const canary = () => `canary-${randomBytes(12).toString('hex')}`;

async function expectUnsealError(promise: Promise<unknown>, reason: UnsealFailure): Promise<UnsealError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof UnsealError, `expected UnsealError, got ${String(error)}`);
    assert.equal(error.reason, reason, error.message);
    return error;
  }
  assert.fail(`expected UnsealError ${reason}`);
}

/** Flips one bit of byte `index` (negative counts from the end) in dot-separated part `part`. */
function flip(sealed: string, part: 2 | 3, index: number): string {
  const parts = sealed.split('.');
  const bytes = fromBase64url(parts[part]!)!;
  bytes[index < 0 ? bytes.length + index : index]! ^= 0x01;
  parts[part] = toBase64url(bytes);
  return parts.join('.');
}

describe('sealing', async () => {
  const runner = await generateRunnerKeyPair();
  const aad = 'secret:42';

  test('key pairs are raw 32-byte X25519 keys in base64url', async () => {
    assert.match(runner.publicKey, /^[A-Za-z0-9_-]{43}$/);
    assert.match(runner.privateKey, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(await runnerPublicKey(runner.privateKey), runner.publicKey);
    const other = await generateRunnerKeyPair();
    assert.notEqual(other.privateKey, runner.privateKey);
  });

  test('round trip, in the documented format', async () => {
    const secret = canary();
    const sealed = await seal(runner.publicKey, secret, aad);
    const fingerprint = await publicKeyFingerprint(runner.publicKey);
    assert.match(fingerprint, /^[A-Za-z0-9_-]{16}$/);
    assert.ok(sealed.startsWith(`hpke1.${fingerprint}.`));
    assert.ok(isSealed(sealed));
    assert.ok(!sealed.includes(secret));
    assert.notEqual(await seal(runner.publicKey, secret, aad), sealed, 'fresh ephemeral key each time');
    assert.equal(await open(runner.privateKey, sealed, aad), secret);
    assert.equal(await open(runner.privateKey, await seal(runner.publicKey, '', ''), ''), '');
  });

  test('property: arbitrary unicode plaintext and aad round-trip', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), async (plaintext, context) => {
        assert.equal(await open(runner.privateKey, await seal(runner.publicKey, plaintext, context), context), plaintext);
      }),
      { numRuns: 50 },
    );
  });

  test('a value sealed for another key is wrong-recipient, naming both fingerprints', async () => {
    const other = await generateRunnerKeyPair();
    const sealed = await seal(other.publicKey, 'v', aad);
    const error = await expectUnsealError(open(runner.privateKey, sealed, aad), 'wrong-recipient');
    assert.ok(error.message.includes(await publicKeyFingerprint(other.publicKey)));
    assert.ok(error.message.includes(await publicKeyFingerprint(runner.publicKey)));
    assert.ok(!error.message.includes(runner.privateKey));
  });

  test('a different aad fails', async () => {
    const sealed = await seal(runner.publicKey, 'v', aad);
    for (const wrong of ['secret:43', 'secret:42 ', '', 'SECRET:42']) {
      await expectUnsealError(open(runner.privateKey, sealed, wrong), 'tampered-or-wrong-aad');
    }
  });

  test('altered bytes fail: enc, ciphertext and tag', async () => {
    const sealed = await seal(runner.publicKey, 'a sealed value', aad);
    for (const altered of [flip(sealed, 2, 0), flip(sealed, 2, 31), flip(sealed, 3, 0), flip(sealed, 3, -1), flip(sealed, 3, -17)]) {
      await expectUnsealError(open(runner.privateKey, altered, aad), 'tampered-or-wrong-aad');
    }
  });

  test('an altered fingerprint reads as another recipient, not as a good value', async () => {
    const sealed = await seal(runner.publicKey, 'v', aad);
    const parts = sealed.split('.');
    parts[1] = parts[1]!.startsWith('A') ? `B${parts[1]!.slice(1)}` : `A${parts[1]!.slice(1)}`;
    await expectUnsealError(open(runner.privateKey, parts.join('.'), aad), 'wrong-recipient');
  });

  test('malformed sealed values are rejected without echoing them', async () => {
    const good = await seal(runner.publicKey, 'v', aad);
    const [, fp, enc, ct] = good.split('.') as [string, string, string, string];
    const plain = canary();
    const cases: [unknown, RegExp][] = [
      [plain, /does not start with "hpke1\."/],
      ['', /does not start with "hpke1\."/],
      [`hpke1.${fp}.${enc}`, /3 dot-separated parts/],
      [`${good}.x`, /5 dot-separated parts/],
      [`hpke1.${fp.slice(1)}.${enc}.${ct}`, /fingerprint is not 16 base64url characters/],
      [`hpke1.${fp}.${enc.slice(0, 40)}.${ct}`, /encapsulated key is not base64url of 32 bytes/],
      [`hpke1.${fp}.${enc}.${ct}=`, /ciphertext part is not base64url/],
      [`hpke1.${fp}.${enc}.${ct.slice(0, 20)}`, /shorter than the 16-byte authentication tag/],
      [undefined, /expected a string/],
    ];
    for (const [value, message] of cases) {
      const error = await expectUnsealError(open(runner.privateKey, value as string, aad), 'malformed');
      assert.match(error.message, message);
      assert.ok(!error.message.includes(plain));
      assert.equal(isSealed(value), false);
    }
  });

  test('isSealed is a format check only', async () => {
    assert.equal(isSealed(await seal(runner.publicKey, 'v', aad)), true);
    for (const value of [null, 42, {}, 'hpke1', 'kw1.k1.a.b', `hpke1.${'A'.repeat(16)}.${'A'.repeat(43)}.${'A'.repeat(21)}`]) {
      assert.equal(isSealed(value), false);
    }
  });

  test('unusable keys and non-Unicode input are caller errors (TypeError)', async () => {
    const short = toBase64url(randomBytes(31));
    await assert.rejects(seal(short, 'v', aad), /publicKey must be base64url of 32 raw X25519 bytes/);
    await assert.rejects(seal(`${runner.publicKey}=`, 'v', aad), TypeError);
    await assert.rejects(seal(toBase64url(new Uint8Array(32)), 'v', aad), /not a usable X25519 public key/);
    await assert.rejects(publicKeyFingerprint('not a key'), TypeError);
    await assert.rejects(open(short, await seal(runner.publicKey, 'v', aad), aad), /privateKey must be base64url/);
    await assert.rejects(seal(runner.publicKey, 'lone \uD800', aad), /plaintext is not well-formed Unicode/);
    await assert.rejects(seal(runner.publicKey, 'v', '\uDFFF'), /aad is not well-formed Unicode/);
  });
});

describe('browser safety', () => {
  for (const file of ['sealing.ts', 'base64url.ts']) {
    test(`${file} imports nothing from node: and does not use Buffer`, async () => {
      const source = await readFile(new URL(file, import.meta.url), 'utf8');
      const code = source.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      const specifiers = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]);
      for (const specifier of specifiers) {
        assert.ok(['@hpke/core', './base64url.ts'].includes(specifier!), `${file} imports ${specifier}`);
      }
      assert.doesNotMatch(code, /['"]node:/);
      assert.doesNotMatch(code, /\bBuffer\b/);
      assert.doesNotMatch(code, /\bprocess\./);
    });
  }
});
