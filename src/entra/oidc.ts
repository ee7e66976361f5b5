import * as client from 'openid-client';
import { ResponseBodyError } from 'openid-client';

/** The Azure DevOps resource (first-party app id), as Entra names it in scopes. */
export const AZURE_DEVOPS_RESOURCE = '499b84ac-1321-427f-aa17-267ca6975798';
export const AZURE_DEVOPS_DEFAULT_SCOPE = `${AZURE_DEVOPS_RESOURCE}/.default`;
/**
 * Delegated scopes Keyway asks users for (DESIGN: "Authorize"), plus `profile`: without it Entra
 * leaves `preferred_username` and `name` out of the ID token, and the user could not see which
 * account a host authorization belongs to.
 */
export const USER_SCOPES = [
  'openid',
  'profile',
  'offline_access',
  `${AZURE_DEVOPS_RESOURCE}/vso.code`,
  `${AZURE_DEVOPS_RESOURCE}/vso.code_write`,
];

/** A string is a client secret (client_secret_post); anything else is a client assertion method (src/entra/client-auth.ts). */
function toClientAuth(credential: string | client.ClientAuth): client.ClientAuth {
  return typeof credential === 'string' ? client.ClientSecretPost(credential) : credential;
}

export interface OidcClientOptions {
  /** Permit http:// issuers (the bundled emulator). Never in production. */
  allowInsecure?: boolean;
  timeoutSeconds?: number;
}

/**
 * Discovers an Entra issuer for a confidential client. openid-client compares the discovered
 * `issuer` with the URL exactly (RFC 8414 §3.3), so only tenant-specific issuers pass; see
 * src/entra/issuer.ts for the common/organizations case.
 */
export async function discoverIssuer(
  issuerUrl: string,
  clientId: string,
  credential: string | client.ClientAuth,
  options: OidcClientOptions = {},
): Promise<client.Configuration> {
  const auth = toClientAuth(credential);
  try {
    return await client.discovery(new URL(issuerUrl), clientId, undefined, auth, {
      execute: options.allowInsecure ? [client.allowInsecureRequests] : [],
      timeout: options.timeoutSeconds ?? 15,
    });
  } catch (err) {
    throw await withEntraAnswer(err);
  }
}

/**
 * The same issuer with another client authentication (a certificate pinned for a test), without
 * discovering it again.
 */
export function withClientAuth(
  config: client.Configuration,
  clientId: string,
  credential: string | client.ClientAuth,
  options: OidcClientOptions = {},
): client.Configuration {
  const next = new client.Configuration(config.serverMetadata(), clientId, undefined, toClientAuth(credential));
  if (options.allowInsecure) client.allowInsecureRequests(next);
  next.timeout = options.timeoutSeconds ?? 15;
  return next;
}

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

async function withEntraAnswer(err: unknown): Promise<unknown> {
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
