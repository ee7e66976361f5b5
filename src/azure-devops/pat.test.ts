import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { examplePat, looksLikeAzureDevOpsPat, PAT_DOCS_URL, PAT_REQUIRED_SCOPES, patCreationLink, redactAzureDevOpsPats } from './pat.ts';

// Token-shaped values are generated at run time (conventions: no secret-looking fixtures).
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const legacyArb = fc.string({ unit: fc.constantFrom(...BASE32), minLength: 52, maxLength: 52 });
const alnumArb = (n: number) => fc.string({ unit: fc.constantFrom(...ALNUM), minLength: n, maxLength: n });
const currentArb = fc.tuple(alnumArb(76), alnumArb(4)).map(([a, b]) => `${a}AZDO${b}`);
const legacy = fc.sample(legacyArb, { numRuns: 1, seed: 1 })[0]!;
const current = fc.sample(currentArb, { numRuns: 1, seed: 2 })[0]!;

describe('looksLikeAzureDevOpsPat', () => {
  it('recognizes both formats', () => {
    assert.equal(looksLikeAzureDevOpsPat(legacy), true);
    assert.equal(looksLikeAzureDevOpsPat(current), true);
    fc.assert(fc.property(fc.oneof(legacyArb, currentArb), (t) => looksLikeAzureDevOpsPat(t)));
  });

  it('rejects near misses', () => {
    assert.equal(looksLikeAzureDevOpsPat(legacy.slice(1)), false, '51 characters');
    assert.equal(looksLikeAzureDevOpsPat(`${legacy}a`), false, '53 characters');
    assert.equal(looksLikeAzureDevOpsPat(legacy.toUpperCase()), false, 'legacy is lower-case base32');
    assert.equal(looksLikeAzureDevOpsPat(`${legacy.slice(0, 51)}1`), false, '1 is not base32');
    assert.equal(looksLikeAzureDevOpsPat(current.replace('AZDO', 'AZDX')), false, 'marker');
    assert.equal(looksLikeAzureDevOpsPat(`x${current.slice(0, 83)}`), false, 'marker one place later');
    assert.equal(looksLikeAzureDevOpsPat(`${current.slice(0, 10)} ${current.slice(11)}`), false, 'whitespace');
    assert.equal(looksLikeAzureDevOpsPat(''), false);
    assert.equal(looksLikeAzureDevOpsPat(undefined as unknown as string), false);
  });
});

describe('redactAzureDevOpsPats', () => {
  it('redacts tokens inside text, in any letter case', () => {
    const text = `Authorization: Basic :${current} and user=${legacy}; again ${current.toLowerCase()}.`;
    const out = redactAzureDevOpsPats(text);
    assert.equal(out, 'Authorization: Basic :[redacted] and user=[redacted]; again [redacted].');
  });

  it('leaves ordinary text and longer runs alone', () => {
    assert.equal(
      redactAzureDevOpsPats('https://dev.azure.com/contoso/Fabrikam/_git/web'),
      'https://dev.azure.com/contoso/Fabrikam/_git/web',
    );
    assert.equal(redactAzureDevOpsPats(`${legacy}abc`), `${legacy}abc`, 'a 55-character run is not a 52-character token');
  });

  it('removes every generated token from any surrounding text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 20 }), fc.oneof(legacyArb, currentArb), fc.string({ maxLength: 20 }), (before, token, after) => {
        const out = redactAzureDevOpsPats(`${before} ${token} ${after}`);
        assert.ok(!out.includes(token));
      }),
    );
  });
});

describe('patCreationLink', () => {
  it('links Services users to the organization tokens page', () => {
    const link = patCreationLink({ kind: 'services', origin: 'https://dev.azure.com', organization: 'contoso' });
    assert.deepEqual(link, {
      createUrl: 'https://dev.azure.com/contoso/_usersSettings/tokens',
      docsUrl: 'https://learn.microsoft.com/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate',
      requiredScopes: [{ scope: 'vso.code_write', label: 'Code (Read & write)' }],
      suggestedName: 'Keyway (contoso)',
      suggestedExpiryDays: 30,
      example: examplePat(),
    });
    assert.equal(link.docsUrl, PAT_DOCS_URL);
  });

  it('uses the emulator origin and encodes names', () => {
    const link = patCreationLink({ kind: 'services', origin: 'http://127.0.0.1:4000/', organization: 'my org' });
    assert.equal(link.createUrl, 'http://127.0.0.1:4000/my%20org/_usersSettings/tokens');
  });

  it('links Server users under the virtual directory and collection', () => {
    const base = { kind: 'server', origin: 'https://tfs.example.com', organization: 'DefaultCollection' } as const;
    for (const [target, createUrl] of [
      [{ virtualDirectory: '/tfs' }, 'https://tfs.example.com/tfs/DefaultCollection/_usersSettings/tokens'],
      [{ virtualDirectory: 'tfs/' }, 'https://tfs.example.com/tfs/DefaultCollection/_usersSettings/tokens'],
      [{ virtualDirectory: '' }, 'https://tfs.example.com/DefaultCollection/_usersSettings/tokens'],
      [{ collection: 'Other Coll' }, 'https://tfs.example.com/Other%20Coll/_usersSettings/tokens'],
    ] as const) {
      assert.equal(patCreationLink({ ...base, ...target }).createUrl, createUrl, JSON.stringify(target));
    }
  });

  it('refuses bad targets', () => {
    assert.throws(() => patCreationLink({ kind: 'services', origin: 'not a url', organization: 'o' }), TypeError);
    assert.throws(() => patCreationLink({ kind: 'services', origin: 'ftp://dev.azure.com', organization: 'o' }), TypeError);
    assert.throws(() => patCreationLink({ kind: 'services', origin: 'https://dev.azure.com/o', organization: 'o' }), TypeError);
    assert.throws(() => patCreationLink({ kind: 'services', origin: 'https://dev.azure.com', organization: ' ' }), TypeError);
    assert.throws(
      () => patCreationLink({ kind: 'server', origin: 'https://tfs.example.com', organization: 'c', virtualDirectory: '/a/../b' }),
      TypeError,
    );
  });

  it('returns a copy of the scopes', () => {
    const link = patCreationLink({ kind: 'services', origin: 'https://dev.azure.com', organization: 'contoso' });
    link.requiredScopes[0]!.scope = 'changed';
    assert.equal(PAT_REQUIRED_SCOPES[0]!.scope, 'vso.code_write');
  });
});

describe('examplePat', () => {
  it('has the current shape but cannot be taken for a real token', () => {
    const example = examplePat();
    assert.equal(example, examplePat(), 'deterministic');
    assert.equal(example.length, 84);
    assert.equal(example.slice(76, 80), 'AZDO');
    assert.equal(looksLikeAzureDevOpsPat(example), true);
    assert.match(example, /^example-not-a-real-token-/);
    // What alphanumeric secret scanners look for does not match it, and redaction leaves it alone.
    assert.doesNotMatch(example, /[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4}/);
    assert.equal(redactAzureDevOpsPats(example), example);
  });
});
