// Entra ID issuer URLs, in every form an admin pastes, to one canonical v2.0 issuer.
// Facts: docs/entra-id.md, "Issuers and tenants". Pure: no I/O.
//
// Admins paste the endpoint base the portal lists (`.../{tenant}/oauth2/v2.0`), the issuer
// (`.../{tenant}/v2.0`), the discovery document URL, or a full authorize/token endpoint. All of
// them name the same authority; discovery lives under the issuer form.

export const EXPECTED_ISSUER_FORM = 'https://login.microsoftonline.com/{tenant-id}/v2.0';
const MAX_LENGTH = 2048;

export interface NormalizeIssuerOptions {
  /** Extra authority origins, exactly as served (e.g. the emulator at `http://127.0.0.1:4000`). */
  authorityOrigins?: readonly string[];
}

export type TenantKind = 'id' | 'domain' | 'common' | 'organizations' | 'consumers';

export interface NormalizedIssuer {
  /** `{authorityOrigin}/{tenant}/v2.0` */
  issuer: string;
  /** Lower-cased GUID, lower-cased verified domain, or common/organizations/consumers. */
  tenant: string;
  tenantKind: TenantKind;
  /**
   * True for common, organizations and consumers. Discovery under common/organizations returns the
   * literal issuer `{authorityOrigin}/{tenantid}/v2.0`; the ID token's `iss` carries the user's
   * tenant, so the expected issuer must be resolved from the token's `tid`
   * (resolveIssuerForTenantId). openid-client compares issuers exactly (panva/openid-client
   * issues 742 and 893).
   */
  multiTenant: boolean;
  /**
   * True only for a tenant GUID: then `issuer` is exactly what discovery and ID tokens carry. For a
   * domain, discovery answers with the tenant's GUID issuer; for consumers with the Microsoft-account
   * tenant's GUID; for common/organizations with the `{tenantid}` template.
   */
  exactIssuer: boolean;
  /** `https://login.microsoftonline.com`, a sovereign cloud's, or a configured extra origin. */
  authorityOrigin: string;
  /** `{issuer}/.well-known/openid-configuration` */
  discoveryUrl: string;
  /** Where authorize usually is; the discovery document is authoritative. */
  authorizeEndpointHint: string;
  /** Where token usually is; the discovery document is authoritative. */
  tokenEndpointHint: string;
}

/** Thrown for anything normalizeIssuerUrl cannot accept. The message shows the expected form. */
export class InvalidIssuerUrlError extends Error {
  override readonly name = 'InvalidIssuerUrlError';
  readonly reason: string;

  constructor(reason: string) {
    super(`invalid issuer URL: ${reason}; expected ${EXPECTED_ISSUER_FORM} (or .../{tenant-id}/oauth2/v2.0)`);
    this.reason = reason;
  }
}

function fail(reason: string): never {
  throw new InvalidIssuerUrlError(reason);
}

// Microsoft Entra authority hosts. Aliases of the public cloud resolve to its preferred host
// (Microsoft's instance-discovery metadata lists login.windows.net and login.microsoft.com as
// aliases of login.microsoftonline.com), so discovery and the issuer use the host tokens carry.
const AUTHORITY_HOSTS: ReadonlyMap<string, string> = new Map([
  ['login.microsoftonline.com', 'login.microsoftonline.com'],
  ['login.windows.net', 'login.microsoftonline.com'],
  ['login.microsoft.com', 'login.microsoftonline.com'],
  ['login.microsoftonline.us', 'login.microsoftonline.us'], // US Government
  ['login.chinacloudapi.cn', 'login.chinacloudapi.cn'], // China (21Vianet)
  ['login.partner.microsoftonline.cn', 'login.partner.microsoftonline.cn'], // China (21Vianet), newer host
  ['login.microsoftonline.de', 'login.microsoftonline.de'], // Germany: legacy, closed in 2021
]);

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;
const MULTI_TENANT = new Set(['common', 'organizations', 'consumers']);
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
// Query or fragment keys that carry a credential (a pasted redirect or token response).
const CREDENTIAL_KEYS = new Set([
  'client_secret',
  'code',
  'access_token',
  'id_token',
  'refresh_token',
  'password',
  'assertion',
  'client_assertion',
  'code_verifier',
  'secret',
  'token',
  'sig',
  'key',
  'api-key',
  'apikey',
]);

function resolveAuthorityOrigins(options: NormalizeIssuerOptions): Set<string> {
  const origins = new Set<string>();
  (options.authorityOrigins ?? []).forEach((value, i) => {
    let url: URL | undefined;
    try {
      url = typeof value === 'string' ? new URL(value.trim()) : undefined;
    } catch {
      url = undefined;
    }
    if (
      !url ||
      (url.protocol !== 'https:' && url.protocol !== 'http:') ||
      url.username ||
      url.password ||
      url.search ||
      url.hash ||
      url.pathname !== '/'
    ) {
      // Configuration, not user input: a programming or deployment error.
      throw new TypeError(`authorityOrigins[${i}] must be a bare http(s) origin such as http://127.0.0.1:4000`);
    }
    origins.add(url.origin);
  });
  return origins;
}

/**
 * Accepts `https://login.microsoftonline.com/{tenant}` followed by nothing, `/v2.0`,
 * `/v2.0/.well-known/openid-configuration`, `/oauth2/v2.0`, `/oauth2/v2.0/{authorize|token|
 * devicecode|logout}` or `/discovery/v2.0/keys`, with surrounding whitespace, any letter case in
 * the host, trailing slashes and harmless query parameters; on the public cloud, the sovereign
 * clouds, or an origin in `authorityOrigins`. A bare `/{tenant}` is accepted because it is the
 * authority MSAL is configured with, and MSAL itself appends `/v2.0`.
 */
export function normalizeIssuerUrl(input: string, options?: NormalizeIssuerOptions): NormalizedIssuer {
  const extraOrigins = resolveAuthorityOrigins(options ?? {});
  if (typeof input !== 'string') fail('expected the issuer URL as a string');
  let text = input.trim();
  if (text === '') fail('the issuer URL is empty');
  if (text.length > MAX_LENGTH) fail(`the issuer URL is ${text.length} characters long; the limit is ${MAX_LENGTH}`);
  if (CONTROL.test(text)) fail('the issuer URL contains a control character (line break, tab or similar)');
  // WHATWG URL would silently turn "\" into "/" and resolve dot segments; refuse instead.
  if (text.includes('\\')) fail('the issuer URL contains a backslash');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    if (/^login\.[a-z0-9.-]+\//i.test(text)) text = `https://${text}`;
    else fail('the issuer URL must start with https://');
  }
  const pathAndMore = text.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '');
  const rawPath = pathAndMore.split(/[?#]/, 1)[0] ?? '';
  if (rawPath.split('/').some((s) => /^(?:\.|%2e){1,2}$/i.test(s))) fail('the issuer URL contains a "." or ".." path segment');

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    fail('the issuer URL is not a valid URL');
  }
  // Never echo these: they are credentials.
  if (url.username || url.password) fail('the issuer URL contains credentials; remove the credentials from the URL');
  rejectCredentialParameters(url.search.slice(1), 'query');
  rejectCredentialParameters(url.hash.slice(1), 'fragment');

  const authorityOrigin = authorityOriginFor(url, extraOrigins);

  const segments = url.pathname.split('/').slice(1);
  while (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  if (segments.some((s) => s === '')) fail('the issuer URL has an empty path segment ("//")');
  const [rawTenant, ...rest] = segments;
  if (rawTenant === undefined) fail('the tenant is missing');
  const tenantText = decodeSegment(rawTenant);
  const lowered = tenantText.toLowerCase();
  if (lowered === 'oauth2' || lowered === 'v2.0' || lowered === '.well-known' || lowered === 'discovery') {
    fail('the tenant is missing: it goes right after the host');
  }
  if (/[{}]/.test(tenantText)) {
    fail(`${JSON.stringify(tenantText.slice(0, 40))} is a placeholder; put your tenant id (a GUID) or verified domain in its place`);
  }
  const { tenant, tenantKind } = parseTenant(tenantText);
  checkRest(rest.map((s) => decodeSegment(s).toLowerCase()));

  const issuer = `${authorityOrigin}/${tenant}/v2.0`;
  return {
    issuer,
    tenant,
    tenantKind,
    multiTenant: MULTI_TENANT.has(tenant),
    exactIssuer: tenantKind === 'id',
    authorityOrigin,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    authorizeEndpointHint: `${authorityOrigin}/${tenant}/oauth2/v2.0/authorize`,
    tokenEndpointHint: `${authorityOrigin}/${tenant}/oauth2/v2.0/token`,
  };
}

/**
 * The issuer an ID token from tenant `tid` carries, for a normalized issuer. For a multi-tenant
 * issuer this is the `{tenantid}` template resolved deliberately from the token's `tid`.
 */
export function resolveIssuerForTenantId(normalized: Pick<NormalizedIssuer, 'authorityOrigin'>, tid: string): string {
  if (typeof tid !== 'string' || !GUID.test(tid)) throw new TypeError('tid must be a tenant GUID');
  return `${normalized.authorityOrigin}/${tid.toLowerCase()}/v2.0`;
}

function authorityOriginFor(url: URL, extraOrigins: Set<string>): string {
  if (extraOrigins.has(url.origin)) return url.origin;
  const host = url.hostname;
  if (host === 'sts.windows.net') {
    fail('sts.windows.net is the v1.0 token issuer; use the v2.0 endpoint on login.microsoftonline.com');
  }
  if (host.endsWith('.b2clogin.com')) fail('Azure AD B2C authorities are not supported; use a Microsoft Entra ID tenant');
  const preferred = AUTHORITY_HOSTS.get(host);
  if (preferred === undefined) {
    fail(
      `${JSON.stringify(host.slice(0, 80))} is not a Microsoft Entra ID sign-in host (login.microsoftonline.com or a sovereign cloud's)`,
    );
  }
  if (url.protocol !== 'https:') fail(`use https, not ${url.protocol.replace(/:$/, '')}`);
  if (url.port !== '') fail(`unexpected port ${url.port} on ${host}`);
  return `https://${preferred}`;
}

function rejectCredentialParameters(raw: string, where: 'query' | 'fragment'): void {
  if (raw === '') return;
  for (const pair of raw.split('&')) {
    const eq = pair.indexOf('=');
    let key = eq === -1 ? pair : pair.slice(0, eq);
    let value = eq === -1 ? '' : pair.slice(eq + 1);
    try {
      key = decodeURIComponent(key);
      value = decodeURIComponent(value);
    } catch {
      // judged as written
    }
    const normalizedKey = key.toLowerCase();
    const tokenShaped = /^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+/.test(value);
    if (CREDENTIAL_KEYS.has(normalizedKey) || normalizedKey.endsWith('_secret') || tokenShaped) {
      // Name the key (harmless), never the value.
      fail(`the ${where} carries credentials (${JSON.stringify(key.slice(0, 40))}); remove everything after the path`);
    }
  }
}

function decodeSegment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    fail('the issuer URL has malformed percent-encoding');
  }
}

function parseTenant(value: string): { tenant: string; tenantKind: TenantKind } {
  const lowered = value.toLowerCase();
  // Entra writes tenant GUIDs lower-case in issuers, and openid-client compares exactly.
  if (GUID.test(value)) return { tenant: lowered, tenantKind: 'id' };
  if (lowered === 'common' || lowered === 'organizations' || lowered === 'consumers') {
    return { tenant: lowered, tenantKind: lowered };
  }
  if (DOMAIN.test(value)) return { tenant: lowered, tenantKind: 'domain' };
  fail(
    `${JSON.stringify(value.slice(0, 80))} is not a tenant: use the tenant id (a GUID), a verified domain such as contoso.onmicrosoft.com, or common, organizations or consumers`,
  );
}

const ENDPOINTS = new Set(['authorize', 'token', 'logout', 'devicecode']);
const V1_MESSAGE = 'this is a v1.0 endpoint; use the v2.0 endpoint (.../{tenant}/oauth2/v2.0) or the v2.0 issuer (.../{tenant}/v2.0)';

function checkRest(rest: string[]): void {
  const path = rest.join('/');
  if (path === '' || path === 'v2.0' || path === 'v2.0/.well-known/openid-configuration') return;
  if (path === 'oauth2/v2.0' || path === 'discovery/v2.0/keys') return;
  if (rest.length === 3 && rest[0] === 'oauth2' && rest[1] === 'v2.0' && ENDPOINTS.has(rest[2]!)) return;
  // v1.0: /oauth2[/authorize|token|...], its discovery document and keys, WS-Federation metadata.
  if (
    (rest[0] === 'oauth2' && rest[1] !== 'v2.0') ||
    path === '.well-known/openid-configuration' ||
    path === 'discovery/keys' ||
    path.startsWith('federationmetadata/')
  ) {
    fail(V1_MESSAGE);
  }
  fail(`unexpected path ${JSON.stringify(`/${path}`.slice(0, 80))} after the tenant`);
}
