import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { aadstsCode } from './testkit-errors.ts';
import { entraClientSecret, entraTimestamp } from './ids.ts';
import { checkCodeChallenge, pkceVerifierMatches, redirectUriMatches } from './policy.ts';

const code = aadstsCode;

describe('policy', () => {
  test('redirect URIs: exact, except the port of http loopback URIs', () => {
    assert.ok(redirectUriMatches('https://a.example/cb', 'https://a.example/cb'));
    assert.ok(!redirectUriMatches('https://a.example/cb', 'https://a.example/CB'));
    assert.ok(!redirectUriMatches('https://a.example/cb', 'https://a.example:8443/cb'));
    assert.ok(!redirectUriMatches('https://a.example/cb', 'https://a.example/cb/'));
    assert.ok(redirectUriMatches('http://localhost/cb', 'http://localhost:1234/cb'));
    assert.ok(redirectUriMatches('http://127.0.0.1:5000/cb', 'http://127.0.0.1:6000/cb'));
    assert.ok(!redirectUriMatches('http://127.0.0.1:5000/cb', 'http://localhost:5000/cb'));
    assert.ok(!redirectUriMatches('http://127.0.0.1/cb', 'http://127.0.0.1/other'));
  });

  test('PKCE', () => {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    assert.deepEqual(checkCodeChallenge(challenge, 'S256', true), { challenge, method: 'S256' });
    assert.ok(pkceVerifierMatches(challenge, 'S256', verifier));
    assert.ok(!pkceVerifierMatches(challenge, 'S256', verifier + 'x'));
    assert.deepEqual(checkCodeChallenge(verifier, undefined, false), { challenge: verifier, method: 'plain' });
    assert.ok(pkceVerifierMatches(verifier, 'plain', verifier));
    assert.equal(
      code(() => checkCodeChallenge(verifier, 'plain', true)),
      9002325,
    );
    assert.equal(
      code(() => checkCodeChallenge(undefined, undefined, true)),
      9002325,
    );
    assert.deepEqual(checkCodeChallenge(undefined, undefined, false), {});
    assert.equal(
      code(() => checkCodeChallenge('short', 'S256', false)),
      501491,
    );
    assert.equal(
      code(() => checkCodeChallenge(challenge, 'S512', false)),
      90013,
    );
  });

  test('client secrets look like Entra secrets and differ every time', () => {
    const a = entraClientSecret();
    const b = entraClientSecret();
    assert.equal(a.length, 40);
    assert.equal(a.slice(3, 6), '8Q~');
    assert.match(a, /^[A-Za-z0-9]{3}8Q~[A-Za-z0-9_.~-]{34}$/);
    assert.notEqual(a, b);
  });

  test('timestamps', () => {
    assert.equal(entraTimestamp(Date.UTC(2024, 4, 1, 12, 34, 56, 789)), '2024-05-01 12:34:56Z');
  });
});
