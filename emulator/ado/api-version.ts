// `api-version` negotiation as Azure DevOps does it. Pure functions.
// The version comes from the query string or from the Accept header (`application/json;api-version=7.1`,
// which is how Microsoft's SDKs send it). Messages are the service's own (VssVersionNotSpecifiedException,
// VssVersionOutOfRangeException, VssInvalidPreviewVersionException; wording from the Microsoft.VisualStudio.
// Services.WebApi resources as quoted in public reports).

export interface ApiVersion {
  raw: string;
  major: number;
  minor: number;
  preview: boolean;
  resourceVersion?: number;
}

export interface VersionPolicy {
  /** Highest version the host serves: 7.2 for the cloud, 7.1 for an Azure DevOps Server 2022.1. */
  max: string;
  /** Highest released (non-preview) version of the resource; '0.0' for resources only in preview. */
  released: string;
}

export type VersionCheck = { ok: true; version: ApiVersion } | { ok: false; message: string; typeKey: string };

export function parseApiVersion(raw: string): ApiVersion | null {
  const m = /^\s*(\d+)\.(\d+)(-preview(\.(\d+))?)?\s*$/i.exec(raw);
  if (!m) return null;
  const v: ApiVersion = { raw: raw.trim(), major: Number(m[1]), minor: Number(m[2]), preview: Boolean(m[3]) };
  if (m[5] !== undefined) v.resourceVersion = Number(m[5]);
  return v;
}

export function requestedApiVersion(query: Record<string, unknown>, accept: string | undefined): string | undefined {
  const q = query['api-version'];
  if (typeof q === 'string' && q !== '') return q;
  if (Array.isArray(q) && typeof q[0] === 'string') return q[0];
  if (accept) {
    const m = /api-version\s*=\s*([^;,\s]+)/i.exec(accept);
    if (m?.[1]) return m[1];
  }
  return undefined;
}

function numeric(v: string): number {
  const [a = '0', b = '0'] = v.split('.');
  return Number(a) * 1000 + Number(b);
}

export function checkApiVersion(raw: string | undefined, method: string, policy: VersionPolicy): VersionCheck {
  if (raw === undefined) {
    // The service is reported to serve some GETs without a version; the emulator always asks for one
    // so that Keyway never depends on that leniency (it only ever makes the emulator stricter).
    return {
      ok: false,
      typeKey: 'VssVersionNotSpecifiedException',
      message: `No api-version was supplied for the "${method.toUpperCase()}" request. The version must be supplied either as part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter (e.g. "?api-version=1.0").`,
    };
  }
  const v = parseApiVersion(raw);
  if (!v) {
    // Unconfirmed wording for a malformed version.
    return {
      ok: false,
      typeKey: 'VssInvalidApiVersionException',
      message: `The api-version '${raw}' is not valid. Specify a version such as "7.1" or "7.1-preview.1".`,
    };
  }
  const n = v.major * 1000 + v.minor;
  if (n > numeric(policy.max) || n < 1000) {
    return {
      ok: false,
      typeKey: 'VssVersionOutOfRangeException',
      message: `The requested REST API version of ${v.major}.${v.minor} is out of range for this server. The latest REST API version this server supports is ${policy.max}.`,
    };
  }
  if (!v.preview && n > numeric(policy.released)) {
    return {
      ok: false,
      typeKey: 'VssInvalidPreviewVersionException',
      message: `The requested version "${v.major}.${v.minor}" of the resource is under preview. The -preview flag must be supplied in the api-version for such requests. For example: "${v.major}.${v.minor}-preview"`,
    };
  }
  return { ok: true, version: v };
}

/**
 * The resource version a route serves (the N of `7.1-preview.N`), as the location data publishes it
 * (connection.ts). A request for a higher one is refused: the service does not serve resource
 * versions it does not have.
 */
export function resourceVersionFor(routeTemplate: string): number {
  const t = routeTemplate.toLowerCase();
  if (/\/_apis\/projects/.test(t)) return 4;
  if (/\/git\/repositories\/[^/]+\/pushes/.test(t)) return 3;
  if (/\/git\/repositories\/[^/]+\/items/.test(t)) return 1;
  if (/\/_apis\/git\/pullrequests\/:/.test(t)) return 1;
  if (/\/_apis\/git\//.test(t)) return 2;
  if (/\/distributedtask\/variablegroups/.test(t)) return 2;
  if (/\/profile\/profiles/.test(t)) return 3;
  return 1;
}

/** Unconfirmed wording (VssVersionOutOfRangeException for a resource version). */
export function checkResourceVersion(v: ApiVersion, served: number): VersionCheck {
  if (v.resourceVersion === undefined || v.resourceVersion <= served) return { ok: true, version: v };
  return {
    ok: false,
    typeKey: 'VssVersionOutOfRangeException',
    message: `The requested REST API version of ${v.raw} is out of range for this resource. The highest resource version available is ${v.major}.${v.minor}-preview.${served}.`,
  };
}
