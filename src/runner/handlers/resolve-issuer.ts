// An issuer given by domain (`https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0`) is
// resolved once, at save time, to the tenant's own issuer (`…/{tenant-id}/v2.0`): Entra's discovery
// document for a domain names the tenant by its GUID, ID tokens carry that issuer, and
// openid-client compares issuers exactly (docs/entra-id.md). Asked on the runner, which is what
// talks to Entra; the request carries no secret.
import { aadstsCode } from '../../entra/errors.ts';
import { InvalidIssuerUrlError, normalizeIssuerUrl } from '../../entra/issuer.ts';
import { readDiscoveryDocument } from '../../entra/tenant-lookup.ts';
import type { DiscoveryDocumentAnswer } from '../../entra/tenant-lookup.ts';
import { HandlerError } from '../agent.ts';

export interface ResolvedIssuer {
  issuer: string;
  tenantId: string;
}

type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export function createResolveIssuerHandler(deps: { allowInsecure: boolean; fetch?: FetchLike; timeoutMs?: number }) {
  return async ({ issuerUrl }: { issuerUrl: string }): Promise<ResolvedIssuer> => {
    const field = 'oauth.issuerUrl';
    let given: ReturnType<typeof normalizeIssuerUrl>;
    try {
      given = normalizeIssuerUrl(issuerUrl, { authorityOrigins: [new URL(issuerUrl).origin] });
    } catch (err) {
      if (err instanceof InvalidIssuerUrlError) throw new HandlerError('invalid_issuer_url', err.message, field);
      throw new HandlerError('invalid_issuer_url', 'the issuer URL is not a URL', field);
    }
    if (given.authorityOrigin.startsWith('http:') && !deps.allowInsecure)
      throw new HandlerError('invalid_issuer_url', 'the issuer must use https', field);
    let res: DiscoveryDocumentAnswer;
    try {
      res = await readDiscoveryDocument(given.discoveryUrl, {
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
        timeoutMs: deps.timeoutMs ?? 15_000,
      });
    } catch {
      throw new HandlerError(
        'entra_unreachable',
        `Entra ID at ${new URL(given.discoveryUrl).host} is unreachable from the runner, so the domain ${given.tenant} could not be resolved to its tenant ID; enter the tenant ID (a GUID) instead`,
        field,
      );
    }
    const body = res.body;
    if (!res.ok) {
      const code = aadstsCode(typeof body.error_description === 'string' ? body.error_description : undefined);
      if (code === 90002)
        throw new HandlerError(
          'unknown_tenant',
          `Entra ID has no tenant with this ID or domain: ${given.tenant} (AADSTS90002); check the domain, or enter the Directory (tenant) ID`,
          field,
        );
      throw new HandlerError(
        'discovery_failed',
        `Entra ID answered ${res.status}${typeof body.error === 'string' ? ` ${body.error.slice(0, 80)}` : ''} for the domain ${given.tenant}; enter the Directory (tenant) ID (a GUID) instead`,
        field,
      );
    }
    let resolved: ReturnType<typeof normalizeIssuerUrl>;
    try {
      resolved = normalizeIssuerUrl(typeof body.issuer === 'string' ? body.issuer : '', { authorityOrigins: [given.authorityOrigin] });
    } catch {
      throw new HandlerError(
        'discovery_failed',
        `Entra ID's discovery document for ${given.tenant} names no usable issuer; enter the Directory (tenant) ID (a GUID) instead`,
        field,
      );
    }
    // Only the same authority's tenant GUID is taken: a document pointing elsewhere is refused.
    if (resolved.tenantKind !== 'id' || resolved.authorityOrigin !== given.authorityOrigin) {
      throw new HandlerError(
        'discovery_failed',
        `Entra ID's discovery document for ${given.tenant} does not name a tenant ID on ${given.authorityOrigin}; enter the Directory (tenant) ID (a GUID) instead`,
        field,
      );
    }
    return { issuer: resolved.issuer, tenantId: resolved.tenant };
  };
}
