// Does the instance-wide Entra app accept Keyway's redirect URI? Entra checks client_id and
// redirect_uri before anyone signs in and answers a mismatch with its own error page (AADSTS50011),
// never with a redirect, so Keyway can find out at set-up time instead of leaving an admin's first
// user stranded on Entra's page. The request carries no secret and changes nothing.
//
// That the live service renders the AADSTS code in that page's text is what its error pages show;
// the exact markup is unconfirmed, so only the codes are looked for.
import type { ConnectionValidation } from '../../control/app-connections.ts';

export interface OAuthProbeRequest {
  /** e.g. https://login.microsoftonline.com */
  authority: string;
  /** A tenant id or domain, or `organizations`. */
  tenant: string;
  clientId: string;
  redirectUri: string;
}

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export type AuthorizeProbeOutcome = 'ok' | 'callback_mismatch' | 'unknown_client' | 'unknown_tenant' | 'unreachable' | 'invalid_authority';

/**
 * Sends the authorization request a user's Connect would send (client id and redirect URI, no
 * secret, nobody signed in) to `authorizeUrl` and reads which of Entra's pre-sign-in checks failed.
 * Shared by app connections (below) and integrations' Save & Test.
 */
export async function probeAuthorizeEndpoint(
  authorizeUrl: string,
  req: { clientId: string; redirectUri: string },
  options: { allowInsecure: boolean; fetch?: FetchLike; timeoutMs?: number },
): Promise<AuthorizeProbeOutcome> {
  let url: URL;
  try {
    url = new URL(authorizeUrl);
  } catch {
    return 'invalid_authority';
  }
  if (url.protocol !== 'https:' && !options.allowInsecure) return 'invalid_authority';
  url.search = new URLSearchParams({
    client_id: req.clientId,
    response_type: 'code',
    redirect_uri: req.redirectUri,
    scope: 'openid',
    response_mode: 'query',
  }).toString();
  let text: string;
  try {
    const res = await (options.fetch ?? fetch)(url.href, {
      method: 'GET',
      redirect: 'manual',
      signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
    });
    text = res.status >= 300 && res.status < 400 ? '' : (await res.text()).slice(0, 200_000);
  } catch {
    return 'unreachable';
  }
  if (/AADSTS50011\b/.test(text)) return 'callback_mismatch';
  if (/AADSTS700016\b/.test(text)) return 'unknown_client';
  if (/AADSTS90002\b/.test(text)) return 'unknown_tenant';
  return 'ok';
}

export async function probeOAuthRedirect(
  req: OAuthProbeRequest,
  options: { allowInsecure: boolean; fetch?: FetchLike; timeoutMs?: number },
): Promise<ConnectionValidation> {
  let url: URL;
  try {
    url = new URL(`${req.authority.replace(/\/+$/, '')}/${encodeURIComponent(req.tenant)}/oauth2/v2.0/authorize`);
  } catch {
    return { valid: false, code: 'invalid_authority', message: 'the Entra ID authority URL is not a URL' };
  }
  const outcome = await probeAuthorizeEndpoint(url.href, req, options);
  if (outcome === 'invalid_authority') return { valid: false, code: 'invalid_authority', message: 'the Entra ID authority must use https' };
  if (outcome === 'unreachable')
    return {
      valid: false,
      code: 'entra_unreachable',
      message: `Entra ID at ${url.host} is unreachable from the runner, so the redirect URI could not be checked`,
    };
  if (outcome === 'callback_mismatch') {
    return {
      valid: false,
      code: 'callback_mismatch',
      field: 'redirectUri',
      message:
        `the app registration ${req.clientId} does not list Keyway's redirect URI ${req.redirectUri} (AADSTS50011): add exactly this URI under Authentication → Web → Redirect URIs in Entra ID, ` +
        'or, if Keyway is reached at another address, set KEYWAY_PUBLIC_URL to it so that the callback matches the registration',
    };
  }
  if (outcome === 'unknown_client')
    return {
      valid: false,
      code: 'unknown_client',
      field: 'clientId',
      message: `no application with client id ${req.clientId} exists in tenant ${req.tenant} (AADSTS700016): check KEYWAY_AZURE_DEVOPS_CLIENT_ID`,
    };
  if (outcome === 'unknown_tenant')
    return {
      valid: false,
      code: 'unknown_tenant',
      field: 'tenantId',
      message: `Entra ID has no tenant with this ID: ${req.tenant} (AADSTS90002); check the tenant`,
    };
  return { valid: true };
}
