// Azure DevOps personal access tokens: recognition (for redaction and display only) and the
// "create a PAT" deep link the authorization dialog shows.
// Facts: docs/azure-devops.md, "Personal Access Tokens".

export const PAT_DOCS_URL = 'https://learn.microsoft.com/azure/devops/organizations/accounts/use-personal-access-tokens-to-authenticate';

const LEGACY_PAT = /^[a-z2-7]{52}$/;
// Microsoft's Node SDK treats `^.{76}AZDO.{4}$` as a PAT. We follow it but refuse whitespace, so
// a sentence that happens to be 84 characters long is not taken for a token.
const CURRENT_PAT = /^\S{76}AZDO\S{4}$/;

/**
 * True when `value` has the shape of an Azure DevOps PAT: 52 characters of `[a-z2-7]` (legacy) or
 * 84 characters with `AZDO` at 0-based positions 76..79 (current).
 *
 * Use it to recognize and redact tokens only. Never use it to choose between Basic and Bearer
 * authentication: Microsoft's own SDK once sent 84-character PATs as bearer tokens because it
 * guessed from the shape. Keep the method with the credential instead.
 */
export function looksLikeAzureDevOpsPat(value: string): boolean {
  if (typeof value !== 'string') return false;
  return LEGACY_PAT.test(value) || CURRENT_PAT.test(value);
}

// Inside free text a token is delimited by anything that is not a token character. The current
// format's alphabet is unconfirmed; real tokens seen so far are alphanumeric, so embedded
// tokens are matched on that alphabet (looksLikeAzureDevOpsPat, on a whole value, is broader).
// Case-insensitive on purpose: a token that went through a host name or a lower-casing step is
// still mostly the token, and over-redacting is harmless.
const EMBEDDED_PATS = /(?<![a-z0-9])(?:[a-z2-7]{52}|[a-z0-9]{76}azdo[a-z0-9]{4})(?![a-z0-9])/gi;

/** Replaces every PAT-shaped run in `text` with `[redacted]`. */
export function redactAzureDevOpsPats(text: string): string {
  return text.replace(EMBEDDED_PATS, '[redacted]');
}

export interface PatTarget {
  kind: 'services' | 'server';
  /** `https://dev.azure.com` (or an emulator origin) for Services; the server's origin for Server. */
  origin: string;
  /** Services: the organization. Server: the collection (used when `collection` is absent). */
  organization: string;
  /** Server only: `/tfs` or `''`. */
  virtualDirectory?: string;
  /** Server only. */
  collection?: string;
}

export interface PatScope {
  /** Machine name as Azure DevOps spells it, e.g. `vso.code_write`. */
  scope: string;
  /** What the PAT creation page shows, e.g. `Code (Read & write)`. */
  label: string;
}

export interface PatCreationLink {
  createUrl: string;
  docsUrl: string;
  requiredScopes: PatScope[];
  suggestedName: string;
  suggestedExpiryDays: number;
  /** A deliberately fake value with the current format's shape, for placeholders. Never a token. */
  example: string;
}

// Cloning, fetching and pushing need Code (Read & write). `vso.code` alone cannot push.
export const PAT_REQUIRED_SCOPES: readonly PatScope[] = Object.freeze([
  Object.freeze({ scope: 'vso.code_write', label: 'Code (Read & write)' }),
]);

export const PAT_SUGGESTED_EXPIRY_DAYS = 30;

/**
 * Where a user creates a PAT for this organization or collection, and what to choose there.
 *
 * No documented URL pre-fills a new PAT's name, scopes or expiry: the link can only open the
 * tokens page, so the UI must show `suggestedName`, `requiredScopes` and `suggestedExpiryDays`
 * for the user to pick by hand.
 */
export function patCreationLink(target: PatTarget): PatCreationLink {
  const origin = normalizeOrigin(target.origin);
  const owner = target.kind === 'server' ? (target.collection ?? target.organization) : target.organization;
  if (typeof owner !== 'string' || owner.trim() === '') {
    throw new TypeError(`patCreationLink: ${target.kind === 'server' ? 'collection' : 'organization'} is required`);
  }
  const base = target.kind === 'server' ? `${origin}${normalizeVirtualDirectory(target.virtualDirectory)}` : origin;
  return {
    createUrl: `${base}/${encodeURIComponent(owner)}/_usersSettings/tokens`,
    docsUrl: PAT_DOCS_URL,
    requiredScopes: PAT_REQUIRED_SCOPES.map((s) => ({ ...s })),
    suggestedName: `Keyway (${owner})`,
    suggestedExpiryDays: PAT_SUGGESTED_EXPIRY_DAYS,
    example: examplePat(),
  };
}

/**
 * 84 characters with `AZDO` at 76..79, so it shows the shape and passes looksLikeAzureDevOpsPat,
 * but made of words and hyphens: no alphanumeric-run secret scanner matches it and nobody can
 * mistake it for a real token.
 */
export function examplePat(): string {
  const filler = 'example-not-a-real-token-'.repeat(4).slice(0, 76);
  return `${filler}AZDOxmpl`;
}

function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new TypeError('patCreationLink: origin must be an absolute http(s) URL such as https://dev.azure.com');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError('patCreationLink: origin must use http or https');
  }
  if (url.username || url.password || url.search || url.hash || url.pathname !== '/') {
    throw new TypeError('patCreationLink: origin must be a bare origin such as https://tfs.example.com');
  }
  return url.origin;
}

function normalizeVirtualDirectory(value: string | undefined): string {
  const trimmed = (value ?? '').trim().replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  if (trimmed.split('/').some((s) => s === '' || s === '.' || s === '..') || /[?#\\]/.test(trimmed)) {
    throw new TypeError('patCreationLink: virtualDirectory must look like /tfs');
  }
  return `/${trimmed}`;
}
