// Pure checks for redirect URIs and PKCE.
import { createHash, timingSafeEqual } from 'node:crypto';
import { aadsts } from './errors.ts';

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * Entra compares redirect URIs as strings, except that for `http` loopback URIs the port is
 * ignored (RFC 8252 §7.3; Microsoft's "Redirect URI restrictions": http://localhost/cb and
 * http://localhost:1234/cb are equivalent). Path case matters ("did not match because of case
 * sensitivity").
 */
export function redirectUriMatches(registered: string, given: string): boolean {
  if (registered === given) return true;
  let r: URL, g: URL;
  try {
    r = new URL(registered);
    g = new URL(given);
  } catch {
    return false;
  }
  if (r.protocol !== 'http:' || g.protocol !== 'http:') return false;
  if (!LOOPBACK.has(r.hostname) || r.hostname !== g.hostname) return false;
  return r.pathname === g.pathname && r.search === g.search && r.hash === '' && g.hash === '';
}

const UNRESERVED = /^[A-Za-z0-9\-._~]+$/;

/** Validates code_challenge / code_challenge_method on the authorize request. Throws. */
export function checkCodeChallenge(
  challenge: string | undefined,
  method: string | undefined,
  requirePkce: boolean,
): { challenge?: string; method?: 'S256' | 'plain' } {
  if (challenge === undefined || challenge === '') {
    if (requirePkce) throw aadsts.pkceRequired();
    return {};
  }
  // RFC 7636 §4.3: the method defaults to `plain`.
  const m = method ?? 'plain';
  if (m !== 'S256' && m !== 'plain') throw aadsts.invalidRequestValue('code_challenge_method', m);
  if (m === 'plain' && requirePkce) throw aadsts.pkcePlainNotAllowed();
  if (m === 'S256' && !(challenge.length === 43 && /^[A-Za-z0-9_-]+$/.test(challenge))) throw aadsts.codeChallengeSize();
  if (m === 'plain' && !(challenge.length >= 43 && challenge.length <= 128 && UNRESERVED.test(challenge))) {
    throw aadsts.codeChallengeSize();
  }
  return { challenge, method: m };
}

export function pkceVerifierMatches(challenge: string, method: 'S256' | 'plain', verifier: string): boolean {
  const derived = method === 'S256' ? createHash('sha256').update(verifier, 'ascii').digest('base64url') : verifier;
  const a = Buffer.from(derived);
  const b = Buffer.from(challenge);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
