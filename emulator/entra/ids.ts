// Identifier, secret and timestamp formats that look like the ones Entra hands out.
import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';

export const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function guid(): string {
  return randomUUID();
}

export function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

const SECRET_HEAD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const SECRET_BODY = SECRET_HEAD + '_.~-';

/**
 * Entra client secret values are 40 characters: a 3-character hint (what the portal shows), a
 * version marker such as `8Q~`, then 34 characters drawn from letters, digits and `_.~-`.
 * Generated at run time so no fixture ever holds a secret-looking literal.
 */
export function entraClientSecret(): string {
  let s = '';
  for (let i = 0; i < 3; i++) s += SECRET_HEAD[randomInt(SECRET_HEAD.length)];
  s += '8Q~';
  for (let i = 0; i < 34; i++) s += SECRET_BODY[randomInt(SECRET_BODY.length)];
  return s;
}

/** `2024-05-01 12:34:56Z`, the format Entra uses in `timestamp` and in error descriptions. */
export function entraTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
}

/** Pairwise identifiers (`sub`): stable per (salt, parts), unlinkable across clients. */
export function pairwiseId(salt: string, ...parts: string[]): string {
  const h = createHash('sha256');
  h.update(salt);
  for (const p of parts) h.update('\0' + p.toLowerCase());
  return h.digest('base64url').slice(0, 43);
}

/** Opaque values Entra puts in tokens (`aio`, `rh`, `uti`). Their content means nothing. */
export function opaque(bytes = 16): string {
  return randomToken(bytes);
}
