// Where Azure DevOps lives: the organization (Services) or collection (Server) URL, the vssps hosts,
// and the api-versions Keyway speaks. The only place in Keyway that builds Azure DevOps REST URLs.
// Paths: emulator/contract/azure-devops-rest-7.1/ (OpenAPI); docs/azure-devops.md, "REST calls".

import type { RepositoryContext } from './url.ts';

export type AzureDevOpsTarget =
  | { kind: 'services'; organization: string }
  | {
      kind: 'server';
      /** `https://tfs.example.com` (scheme, host and port only). */
      origin: string;
      /** `''` or e.g. `/tfs`. */
      virtualDirectory: string;
      collection: string;
    };

export interface AzureDevOpsEndpoints {
  /** Organization host of Azure DevOps Services. Default `https://dev.azure.com` (KEYWAY_AZURE_DEVOPS_SERVICES_URL). */
  services: string;
  /** Global vssps host (profile, accounts). Default `https://app.vssps.visualstudio.com` (KEYWAY_AZURE_DEVOPS_VSSPS_URL). */
  vssps: string;
  /**
   * Organization-scoped vssps host of the PAT lifecycle API, `{patsBase}/{org}/_apis/tokens/pats`.
   * Default `https://vssps.dev.azure.com` (tokens/7.1/tokens.json `host`).
   */
  patsBase: string;
  /**
   * Whether Server hosts (configured by admins) may resolve to loopback or private addresses
   * (KEYWAY_ALLOW_INSECURE_HOSTS). Checked at connection time: see guarded-fetch.ts. Default false.
   */
  allowInsecureServerHosts: boolean;
  /**
   * How Server host names are resolved before they are checked and connected to. Default: the
   * system resolver. Tests pass a stub (a name that resolves differently each time).
   */
  serverHostLookup?: (hostname: string) => Promise<{ address: string; family?: number }[]>;
}

export const DEFAULT_ENDPOINTS: Readonly<AzureDevOpsEndpoints> = Object.freeze({
  services: 'https://dev.azure.com',
  vssps: 'https://app.vssps.visualstudio.com',
  patsBase: 'https://vssps.dev.azure.com',
  allowInsecureServerHosts: false,
});

/** api-version values, from each operation's `api-version` parameter in the 7.1 specs. */
export const API_VERSION = {
  released: '7.1',
  /** tokens/7.1/tokens.json: every PAT lifecycle operation is `api-Version-preview.1`. */
  pats: '7.1-preview.1',
} as const;

export class InvalidEndpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEndpointError';
  }
}

/**
 * Absolute http(s) base URL without query, fragment, credentials or trailing slash. A path prefix is
 * kept (a reverse proxy may publish Azure DevOps under one).
 */
export function normalizeBaseUrl(value: string, what: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new InvalidEndpointError(`${what} is not an absolute URL`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new InvalidEndpointError(`${what} must use http or https`);
  if (u.username || u.password) throw new InvalidEndpointError(`${what} must not contain a user name or password`);
  if (u.search || u.hash) throw new InvalidEndpointError(`${what} must not have a query or fragment`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * Fills in defaults. When `vssps` is overridden but `patsBase` is not, `patsBase` follows `vssps`:
 * Keyway's configuration has only KEYWAY_AZURE_DEVOPS_VSSPS_URL, and the emulator serves the
 * organization-scoped PAT API (`/{org}/_apis/tokens/pats`) on its single vssps listener. Against the
 * real service both are left at their defaults.
 */
export function resolveEndpoints(partial: Partial<AzureDevOpsEndpoints> = {}): AzureDevOpsEndpoints {
  const services = normalizeBaseUrl(partial.services ?? DEFAULT_ENDPOINTS.services, 'services endpoint');
  const vssps = normalizeBaseUrl(partial.vssps ?? DEFAULT_ENDPOINTS.vssps, 'vssps endpoint');
  const vsspsOverridden = partial.vssps !== undefined && vssps !== DEFAULT_ENDPOINTS.vssps;
  const patsBase = normalizeBaseUrl(partial.patsBase ?? (vsspsOverridden ? vssps : DEFAULT_ENDPOINTS.patsBase), 'patsBase endpoint');
  return {
    services,
    vssps,
    patsBase,
    allowInsecureServerHosts: partial.allowInsecureServerHosts ?? false,
    ...(partial.serverHostLookup ? { serverHostLookup: partial.serverHostLookup } : {}),
  };
}

/** Percent-encodes one path segment. `encodeURIComponent` leaves `!'()*` alone, which is valid in a path. */
export function seg(value: string): string {
  if (value.length === 0) throw new InvalidEndpointError('an empty name cannot be a URL path segment');
  // '.' and '..' as whole segments would be resolved away by URL parsers on the way.
  if (value === '.' || value === '..') throw new InvalidEndpointError(`'${value}' cannot be a URL path segment`);
  return encodeURIComponent(value);
}

function normalizeVirtualDirectory(vdir: string): string {
  const trimmed = vdir.replace(/^\/+|\/+$/g, '');
  if (!trimmed) return '';
  return '/' + trimmed.split('/').map(seg).join('/');
}

export function validateTarget(target: AzureDevOpsTarget): void {
  if (target.kind === 'services') {
    if (!target.organization) throw new InvalidEndpointError('organization is required');
    return;
  }
  if (!target.collection) throw new InvalidEndpointError('collection is required');
  const base = normalizeBaseUrl(target.origin, 'server origin');
  if (new URL(base).pathname !== '/' && new URL(base).pathname !== '') {
    throw new InvalidEndpointError('server origin must not have a path; put it in virtualDirectory');
  }
}

/** `https://dev.azure.com/{org}` or `{origin}{virtualDirectory}/{collection}`; no trailing slash. */
export function collectionUrl(target: AzureDevOpsTarget, endpoints: AzureDevOpsEndpoints = DEFAULT_ENDPOINTS): string {
  if (target.kind === 'services') return `${normalizeBaseUrl(endpoints.services, 'services endpoint')}/${seg(target.organization)}`;
  validateTarget(target);
  const origin = new URL(target.origin).origin;
  return `${origin}${normalizeVirtualDirectory(target.virtualDirectory)}/${seg(target.collection)}`;
}

/** `{vssps}` (Services only: Azure DevOps Server has no vssps). */
export function vsspsUrl(endpoints: AzureDevOpsEndpoints = DEFAULT_ENDPOINTS): string {
  return normalizeBaseUrl(endpoints.vssps, 'vssps endpoint');
}

/** `{patsBase}/{org}`, i.e. `https://vssps.dev.azure.com/{org}` for the real service. */
export function patsUrl(organization: string, endpoints: AzureDevOpsEndpoints = DEFAULT_ENDPOINTS): string {
  return `${normalizeBaseUrl(endpoints.patsBase, 'patsBase endpoint')}/${seg(organization)}`;
}

export type QueryValue = string | number | boolean | undefined | null;

/**
 * `{base}/{segments…}?{query}`. Segments are encoded one by one; literal path pieces such as `_apis`
 * are passed as segments too (encoding leaves them unchanged). Query values are encoded with `%20`
 * for spaces, never `+` (docs/azure-devops.md, "Repository URLs").
 */
export function buildUrl(base: string, segments: readonly string[], query: Readonly<Record<string, QueryValue>> = {}): string {
  const path = segments.map(seg).join('/');
  const qs = Object.entries(query)
    .filter((e): e is [string, string | number | boolean] => e[1] !== undefined && e[1] !== null)
    .map(([k, v]) => `${encodeQueryName(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${base}${path ? '/' + path : ''}${qs ? '?' + qs : ''}`;
}

// `$top`, `searchCriteria.$skip`: Azure DevOps documents the `$` unescaped; it is legal in a query.
function encodeQueryName(name: string): string {
  return encodeURIComponent(name).replace(/%24/g, '$');
}

/** The target a parsed repository URL (url.ts) belongs to. */
export function targetFromRepositoryContext(
  ctx: Pick<RepositoryContext, 'kind' | 'origin' | 'organization' | 'virtualDirectory' | 'collection'>,
): AzureDevOpsTarget {
  if (ctx.kind === 'services') return { kind: 'services', organization: ctx.organization };
  return {
    kind: 'server',
    origin: ctx.origin,
    virtualDirectory: ctx.virtualDirectory ?? '',
    collection: ctx.collection ?? ctx.organization,
  };
}

/** Short human name of the target for messages, e.g. `organization 'fabrikam'`. */
export function describeTarget(target: AzureDevOpsTarget): string {
  return target.kind === 'services'
    ? `organization '${target.organization}'`
    : `collection '${target.collection}' on ${new URL(target.origin).host}`;
}
