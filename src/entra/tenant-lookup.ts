// The discovery document of a tenant named by its domain, read to learn the tenant's GUID (its
// issuer names it): when an integration is saved with a domain issuer (docs/entra-id.md, "Issuers
// and tenants"), and when a sign-in is routed to the tenant of an e-mail domain. No secret is sent.
import { measured } from './metrics.ts';
import type { FetchLike } from './redirect-probe.ts';

export interface DiscoveryDocumentAnswer {
  status: number;
  ok: boolean;
  /** The JSON answer (an OpenID configuration, or Entra's error body); {} when it was not JSON. */
  body: { issuer?: unknown; error?: unknown; error_description?: unknown };
}

/** GETs a discovery document. Throws only when Entra could not be reached (the caller says so in its words). */
export function readDiscoveryDocument(
  url: string,
  options: { fetch?: FetchLike; timeoutMs?: number; redirect?: RequestRedirect } = {},
): Promise<DiscoveryDocumentAnswer> {
  return measured(
    'tenant_lookup',
    async () => {
      const res = await (options.fetch ?? fetch)(url, {
        headers: { accept: 'application/json' },
        redirect: options.redirect ?? 'manual',
        signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
      });
      let body: DiscoveryDocumentAnswer['body'] = {};
      try {
        const parsed: unknown = await res.json();
        if (parsed && typeof parsed === 'object') body = parsed as DiscoveryDocumentAnswer['body'];
      } catch {
        // judged by the caller by status
      }
      return { status: res.status, ok: res.ok, body };
    },
    (answer) =>
      answer.ok ? 'success' : answer.status >= 500 ? 'http_5xx' : answer.body.error === 'invalid_tenant' ? 'invalid_tenant' : 'http_error',
  );
}
