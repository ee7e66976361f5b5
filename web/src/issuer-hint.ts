// The issuer field's hint, computed by the server's own normalizer: every form the API accepts
// passes here too, and what it refuses is said as the admin types. Pure (no React), so it is tested
// beside the server code (test/web-issuer-hint.test.ts).
import { InvalidIssuerUrlError, normalizeIssuerUrl } from '../../src/entra/issuer.ts';

export const EXPECTED_ISSUER = 'https://login.microsoftonline.com/{tenant-id}/v2.0';

/**
 * What the server will say about an issuer, said as the admin types: the same normalizer decides,
 * so every form the API accepts (the endpoint base, the issuer, the discovery document, a bare
 * tenant, a domain) passes here too. Another authority than Microsoft's (a local emulator) is left
 * to the server, which knows which one it is configured with. Never blocks saving.
 */
export function issuerWarning(value: string): string | undefined {
  const text = value.trim();
  if (!text) return undefined;
  let normalized: ReturnType<typeof normalizeIssuerUrl>;
  try {
    normalized = normalizeIssuerUrl(text);
  } catch (err) {
    if (!(err instanceof InvalidIssuerUrlError)) return `This is not an issuer URL. Expected ${EXPECTED_ISSUER}.`;
    const notATenant = /^("[^"]*") is not a tenant/.exec(err.reason);
    // The normalizer also knows common and organizations; an integration refuses them (one tenant).
    if (notATenant)
      return `${notATenant[1]} is not a tenant: use the Directory (tenant) ID, a GUID, or a verified domain such as contoso.onmicrosoft.com. Expected ${EXPECTED_ISSUER}.`;
    if (!/is not a Microsoft Entra ID sign-in host/.test(err.reason)) return sentenceCase(err.message);
    try {
      normalized = normalizeIssuerUrl(text, {
        authorityOrigins: [new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`).origin],
      });
    } catch (again) {
      return again instanceof InvalidIssuerUrlError
        ? sentenceCase(again.message)
        : `This is not an issuer URL. Expected ${EXPECTED_ISSUER}.`;
    }
  }
  if (normalized.multiTenant) {
    return `"${normalized.tenant}" signs in users of any tenant; an integration serves one. Use your tenant's ID (${EXPECTED_ISSUER}) or its domain (…/contoso.onmicrosoft.com/v2.0).`;
  }
  return undefined;
}

function sentenceCase(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.!?]$/.test(text) ? '' : '.'}`;
}
