// Does the instance-wide Entra app accept Keyway's redirect URI? The probe itself is
// src/entra/redirect-probe.ts; this says what its outcome means for an app connection.
import type { ConnectionValidation } from '../../control/app-connections.ts';
import { probeAuthorizeEndpoint } from '../../entra/redirect-probe.ts';
import type { FetchLike } from '../../entra/redirect-probe.ts';

export interface OAuthProbeRequest {
  /** e.g. https://login.microsoftonline.com */
  authority: string;
  /** A tenant id or domain, or `organizations`. */
  tenant: string;
  clientId: string;
  redirectUri: string;
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
