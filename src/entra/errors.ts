// What Entra ID (and openid-client, on its behalf) answers, in Keyway's failure codes and in words
// a person can act on. The one mapping every caller uses: Save & Test, app connections, the code
// flow, token refresh and sign-in (docs/entra-id.md, "Errors Entra answers").
import * as client from 'openid-client';
import { AuthorizationResponseError, ResponseBodyError } from 'openid-client';

/** openid-client's class for an OAuth error body; callers test with isOAuthError where they can. */
export { ResponseBodyError };

/**
 * Entra refused a discovery request with its own error (`{"error":"invalid_tenant",
 * "error_description":"AADSTS90002: …"}`). openid-client reports only "unexpected HTTP response
 * status code" and leaves the answer unread; this carries what Entra said.
 */
export class EntraDiscoveryError extends Error {
  override readonly name = 'EntraDiscoveryError';
  constructor(
    readonly status: number,
    readonly error: string,
    readonly error_description: string | undefined,
  ) {
    super(`Entra ID answered issuer discovery with ${status} ${error}`);
  }
}

export async function withEntraAnswer(err: unknown): Promise<unknown> {
  const response = err instanceof client.ClientError ? (err as { cause?: unknown }).cause : undefined;
  if (!(response instanceof Response) || response.bodyUsed || response.status < 400) return err;
  try {
    const text = (await response.text()).slice(0, 64 * 1024);
    const body = JSON.parse(text) as { error?: unknown; error_description?: unknown };
    if (typeof body.error !== 'string') return err;
    return new EntraDiscoveryError(
      response.status,
      body.error.slice(0, 100),
      typeof body.error_description === 'string' ? body.error_description : undefined,
    );
  } catch {
    return err;
  }
}

export interface EntraFailure {
  /** The AADSTS number when Entra gave one, e.g. 7000215. */
  aadsts?: number;
  /** OAuth error code (invalid_client, invalid_grant, ...), or a local one (discovery_failed, network). */
  error: string;
  /** A sentence an admin or user can act on. */
  message: string;
}

const AADSTS_MESSAGES: Record<number, string> = {
  7000215: "the client secret is wrong or expired (AADSTS7000215): paste the secret's Value from Entra ID, not its Secret ID",
  7000222: 'the client secret has expired (AADSTS7000222): create a new secret in Entra ID and enter it here',
  7000218: 'no client secret or client assertion was sent (AADSTS7000218): enter the client secret',
  50027:
    "Entra ID could not validate the client assertion (AADSTS50027): a federated token must be signed by its issuer's published keys, and a certificate assertion must name its certificate's thumbprint",
  700016:
    'no application with this client id exists in this tenant (AADSTS700016): check the Application (client) ID and the tenant in the issuer URL',
  90002: 'Entra ID has no tenant with this ID (AADSTS90002): check the Directory (tenant) ID — or the domain — in the issuer URL',
  50011: 'the redirect URI is not registered for this application (AADSTS50011): add the callback URL shown here to the app registration',
  70011:
    'the requested scope is invalid (AADSTS70011); if Azure DevOps forbids third-party OAuth apps in this organization, an organization admin must allow it',
  65001: 'the user or an administrator has not consented to this application (AADSTS65001)',
  65004: 'the user declined to consent (AADSTS65004)',
  70008: 'the authorization expired or was revoked (AADSTS70008): connect again',
  700082: 'the authorization expired after a long period of inactivity (AADSTS700082): connect again',
  50173: 'the authorization was revoked, for example after a password change (AADSTS50173): connect again',
  54005: 'the authorization code was already used (AADSTS54005): start the connection again',
  500011: 'Azure DevOps is not available as a resource in this tenant (AADSTS500011)',
};

/** A quoted value Entra puts in a description, e.g. the thumbprint or the presented issuer. */
function quoted(description: string, label: RegExp): string {
  const match = new RegExp(`${label.source}\\s*'([^']{0,300})'`, 'i').exec(description);
  return match?.[1] ?? 'unknown';
}

/**
 * Certificate and federated-credential refusals, whose message depends on what Entra quoted (the
 * thumbprint the runner presented, the issuer, subject or audience of a federated token). Texts
 * Entra sends are in docs/client-credentials.md with their public sources.
 */
function describeAssertionFailure(code: number, description: string, ownThumbprint?: string): string | undefined {
  switch (code) {
    case 700027: {
      // The thumbprint as the Entra admin center shows it (SHA-1) when the caller knows its certificate.
      const thumbprint = ownThumbprint ?? quoted(description, /Thumbprint of key used by client:/);
      if (/key was found/i.test(description)) {
        return (
          `the certificate the app registration holds under thumbprint ${thumbprint} is not this runner's certificate: its key does not verify the runner's signature (AADSTS700027). ` +
          'Delete that certificate under Certificates & secrets → Certificates and upload the .cer Keyway shows (a certificate entered through the manifest or Microsoft Graph must carry its own thumbprint and value)'
        );
      }
      if (/expired/i.test(description)) {
        return `the certificate with thumbprint ${thumbprint} has expired in Entra ID (AADSTS700027): upload the runner's next certificate (Certificates → Prepare next certificate in Keyway, then Upload certificate in Entra ID) and test again`;
      }
      return (
        `Entra ID has no certificate with the thumbprint this runner signs with (${thumbprint}) on this app registration (AADSTS700027): the certificate is not uploaded yet. ` +
        'Download the certificate Keyway shows (.cer) and upload it under Certificates & secrets → Certificates → Upload certificate, then test again'
      );
    }
    case 700024:
      return "the client assertion is outside its valid time range (AADSTS700024): the runner's clock is wrong, or the federated token in the runner's file has expired and its issuer did not write a fresh one";
    case 50012:
      return "Entra ID refused the client assertion's audience (AADSTS50012): the issuer URL must be the tenant's own (https://login.microsoftonline.com/{tenant-id}/v2.0)";
    case 50048:
      return 'the client assertion names another subject than its issuer (AADSTS50048)';
    case 700021:
      return 'the client assertion was made for another application than this client id (AADSTS700021): check the Application (client) ID';
    case 50013:
      if (/replay|already/i.test(description)) {
        return 'Entra ID refused the client assertion as already used (AADSTS50013, a replay): every assertion is single-use and the runner makes a new one per request, so something between the runner and Entra ID repeated a request — check proxies on that path, then test again';
      }
      return undefined;
    case 700211:
      return `no federated credential of the app registration trusts the issuer '${quoted(description, /assertion issuer/)}' (AADSTS700211): add a federated credential (Certificates & secrets → Federated credentials) with exactly the issuer, subject and audience Keyway shows`;
    case 700213:
      return `the app registration's federated credential does not name the subject '${quoted(description, /assertion subject/)}' (AADSTS700213): its Subject identifier must be exactly the subject Keyway shows (matching is case-sensitive)`;
    case 700212:
      return `the app registration's federated credential does not accept the audience '${quoted(description, /assertion audience/)}' (AADSTS700212): its Audience must be exactly api://AzureADTokenExchange, or the token's audience must be changed to the credential's`;
    case 70021:
      return 'no federated credential of the app registration matches the federated token (AADSTS70021): compare its issuer, subject and audience with the values Keyway shows';
    default:
      return undefined;
  }
}

export function aadstsCode(description: string | undefined): number | undefined {
  const match = /AADSTS(\d+)/.exec(description ?? '');
  return match?.[1] ? Number(match[1]) : undefined;
}

/** Turns whatever openid-client threw into a failure a person can act on; never echoes secrets. */
export function describeEntraFailure(err: unknown, context: { issuerUrl: string; certificateThumbprint?: string }): EntraFailure {
  if (err instanceof ResponseBodyError || err instanceof EntraDiscoveryError) {
    const code = aadstsCode(err.error_description);
    const known =
      code !== undefined
        ? (describeAssertionFailure(code, err.error_description ?? '', context.certificateThumbprint) ?? AADSTS_MESSAGES[code])
        : undefined;
    const firstLine = (err.error_description ?? '').split(/\r?\n/)[0]?.slice(0, 300);
    return {
      aadsts: code,
      error: err.error,
      message: known ?? `Entra ID refused the request: ${err.error}${firstLine ? ` — ${firstLine}` : ''}`,
    };
  }
  if (err instanceof client.ClientError) {
    if (err.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' || /issuer/i.test(err.message)) {
      return {
        error: 'issuer_mismatch',
        message: `the issuer discovered at ${context.issuerUrl} does not match it; use the tenant-specific issuer https://login.microsoftonline.com/{tenant-id}/v2.0 (not common, organizations or a domain name)`,
      };
    }
    return { error: 'discovery_failed', message: `issuer discovery at ${context.issuerUrl} failed: ${err.message.slice(0, 200)}` };
  }
  const cause = (err as { cause?: { code?: string } })?.cause?.code ?? (err as { code?: string })?.code;
  if (
    cause === 'ECONNREFUSED' ||
    cause === 'ENOTFOUND' ||
    cause === 'ECONNRESET' ||
    cause === 'UND_ERR_CONNECT_TIMEOUT' ||
    (err as Error)?.name === 'TimeoutError' ||
    (err as Error)?.name === 'AbortError'
  ) {
    return {
      error: 'network',
      message: `Entra ID at ${new URL(context.issuerUrl).host} is unreachable from the runner (${cause ?? 'timeout'})`,
    };
  }
  return { error: 'unexpected', message: `talking to Entra ID failed: ${(err as Error)?.message?.slice(0, 200) ?? 'unknown error'}` };
}

/** An OAuth error body from Entra's token endpoint, optionally one of `codes` (invalid_grant, invalid_client, …). */
export function isOAuthError(err: unknown, ...codes: string[]): err is ResponseBodyError {
  return err instanceof ResponseBodyError && (codes.length === 0 || codes.includes(err.error));
}

/** Whether Entra refused the client's certificate (not the request): the next certificate may do. */
export function certificateRefused(err: unknown): boolean {
  return isOAuthError(err, 'invalid_client') && [700027, 700024, 50027].includes(aadstsCode(err.error_description) ?? 0);
}

/** A failure in Keyway's words: `code` is what callers put in a HandlerError or an API error. */
export interface KeywayFailure {
  code: string;
  message: string;
}

/**
 * A failed authorization code flow (a user's Connect, an oauth app connection): Entra's answer on
 * the redirect (consent declined, blocked scope), its refusal of the code, or openid-client's own
 * checks of the response (ID token signature, issuer, audience, nonce, state, PKCE, expiry).
 */
export function describeCodeFlowFailure(err: unknown, issuerUrl: string): KeywayFailure {
  if (err instanceof AuthorizationResponseError) {
    const description = err.error_description ?? '';
    if (err.error === 'access_denied')
      return {
        code: 'consent_denied',
        message: 'you declined the consent prompt, so nothing was connected; choose Connect again and accept to continue',
      };
    if (err.error === 'invalid_scope') {
      return {
        code: 'oauth_blocked',
        message: `the organization does not allow third-party applications via OAuth, or the scope is invalid (${description.split(/\r?\n/)[0]?.slice(0, 200)}); an Azure DevOps organization admin must enable "Third-party application access via OAuth", or use a Personal Access Token`,
      };
    }
    return {
      code: 'authorization_failed',
      message: `Entra ID refused the sign-in: ${err.error}${description ? ` — ${description.split(/\r?\n/)[0]?.slice(0, 200)}` : ''}`,
    };
  }
  if (err instanceof ResponseBodyError) {
    const failure = describeEntraFailure(err, { issuerUrl });
    return { code: failure.error === 'invalid_grant' ? 'invalid_grant' : 'token_request_failed', message: failure.message };
  }
  if (err instanceof client.ClientError) {
    // openid-client's own checks of the response (ID token signature, issuer, audience, nonce,
    // state, expiry) throw ClientError; discovery errors never reach here (the configuration came first).
    return {
      code: 'id_token_invalid',
      message: `the sign-in response failed validation (${err.code ?? 'invalid'}: ${err.message.slice(0, 160)}); nothing was stored`,
    };
  }
  const failure = describeEntraFailure(err, { issuerUrl });
  if (failure.error === 'unexpected' && err instanceof Error) {
    // openid-client's own checks (ID token signature, audience, nonce, state, PKCE) land here.
    return {
      code: 'id_token_invalid',
      message: `the sign-in response failed validation (${(err as { code?: string }).code ?? err.name}: ${err.message.slice(0, 160)}); nothing was stored`,
    };
  }
  return { code: failure.error, message: failure.message };
}

// What an identity provider's refusal on the way back means for the person signing in to Keyway
// (Microsoft's AADSTS error code reference).
const SIGN_IN_REFUSALS: Record<number, string> = {
  50011:
    "the sign-in URL Keyway uses is not registered on the identity provider's app; an operator must add {KEYWAY_PUBLIC_URL}/api/v1/auth/sso/callback as a Web redirect URI",
  50057: 'your account is disabled at your identity provider',
  50105: 'you are not assigned to the Keyway sign-in application; ask your identity provider admin to assign you',
  65001: 'the Keyway sign-in application has not been consented in your tenant; ask your identity provider admin to consent',
  65004: 'the sign-in was cancelled',
  700016: 'the Keyway sign-in application does not exist in your tenant; it must be registered as multi-tenant, or your tenant consented',
  90002: 'your tenant does not exist at this identity provider',
};

function signInRefusal(error: string, description: string | undefined): string {
  const code = aadstsCode(description);
  const known = code !== undefined ? SIGN_IN_REFUSALS[code] : undefined;
  if (known) return `${known} (AADSTS${code})`;
  if (error === 'access_denied') return 'the sign-in was cancelled or refused';
  return `the identity provider refused the sign-in: ${error}${description ? ` — ${description.split(/\r?\n/)[0]!.slice(0, 200)}` : ''}`;
}

/** A failed sign-in to Keyway itself (SSO through Entra ID or another OpenID provider). */
export function describeSignInFailure(err: unknown, issuerUrl: string): KeywayFailure {
  if (err instanceof AuthorizationResponseError)
    return {
      code: err.error === 'access_denied' ? 'sign_in_cancelled' : 'provider_refused',
      message: signInRefusal(err.error, err.error_description),
    };
  const failure = describeEntraFailure(err, { issuerUrl });
  return {
    code: failure.error === 'unexpected' ? 'invalid_response' : failure.error,
    message: `the sign-in could not be completed: ${failure.message}`,
  };
}

/** A few words on a failed token request for a message: never the response body or a token. */
export function describeTokenFailure(err: unknown): string {
  if (err instanceof ResponseBodyError) return `${err.status} ${err.error}`;
  const cause = (err as { cause?: unknown }).cause;
  // Not an OAuth error body (an HTML 503 from a proxy, say): openid-client carries the Response.
  if (cause instanceof Response) return `HTTP ${cause.status}${cause.statusText ? ` ${cause.statusText}` : ''} from the token endpoint`;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code) return code;
  return (err as Error)?.name ?? 'error';
}

/** OAuth error codes a metric may carry as they are; any other is `oauth_error` (labels stay bounded). */
const OUTCOME_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'interaction_required',
  'consent_required',
  'login_required',
  'temporarily_unavailable',
  'server_error',
  'invalid_tenant',
]);

/** The outcome label of a failed call for metrics: a bounded set, never a message. */
export function entraOutcome(err: unknown): string {
  if (err instanceof ResponseBodyError || err instanceof AuthorizationResponseError || err instanceof EntraDiscoveryError)
    return OUTCOME_ERRORS.has(err.error) ? err.error : 'oauth_error';
  const failure = describeEntraFailure(err, { issuerUrl: 'http://entra.invalid' });
  if (failure.error === 'network') return 'network';
  if (failure.error === 'issuer_mismatch') return 'issuer_mismatch';
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof Response) return cause.status >= 500 ? 'http_5xx' : 'http_error';
  if (err instanceof client.ClientError) return 'invalid_response';
  return 'error';
}
