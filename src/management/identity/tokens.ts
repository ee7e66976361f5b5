import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer secrets Keyway issues. Each kind has a recognizable prefix so secret scanners (and people)
 * can tell a leaked Keyway token from noise; the rest is 32 random bytes in base62-ish base64url.
 * Only SHA-256 digests are stored: the tokens are high-entropy, so a slow hash buys nothing.
 */
export const TOKEN_PREFIXES = {
  apiToken: 'kw_',
  session: 'kws_',
  signInLink: 'kwl_',
  runner: 'kwr_',
  runnerExchange: 'kwx_',
  invitation: 'kwi_',
} as const;

export type TokenKind = keyof typeof TOKEN_PREFIXES;

export function generateToken(kind: TokenKind): string {
  return TOKEN_PREFIXES[kind] + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function hasPrefix(token: string, kind: TokenKind): boolean {
  return token.startsWith(TOKEN_PREFIXES[kind]) && token.length > TOKEN_PREFIXES[kind].length + 20;
}

/** What a listing may show of a token: its prefix and first characters, never enough to use it. */
export function displayPrefix(token: string): string {
  return token.slice(0, 10);
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('base64url')}`;
}
