import * as client from 'openid-client';
import { open, UnsealError } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/protocol.ts';
import { AZURE_DEVOPS_DEFAULT_SCOPE, describeEntraFailure, discoverIssuer } from '../../entra/oidc.ts';
import type { RunnerIntegration } from '../../management/scm-integrations/service.ts';
import { HandlerError } from '../agent.ts';
import { probeAuthorizeEndpoint } from '../app-connections/oauth-probe.ts';
import type { FetchLike } from '../app-connections/oauth-probe.ts';

export interface HostProbeResult {
  ok: boolean;
  /** Why not, in words an admin can act on. */
  message?: string;
  /** Azure DevOps Server: the configured path named a collection; the server's own virtual directory. */
  layout?: { virtualDirectory: string; collection: string };
  /** What the admin should know although the host works (the split above). */
  note?: string;
}

export interface ValidateDeps {
  /** How many credentials an integration produced, by method (what a change would purge). */
  countCredentials?: (integrationId: string) => Promise<{ oauth: number; pat: number }>;
  privateKey: string;
  allowInsecure: boolean;
  /** For the authorization-request probe (tests). */
  fetch?: FetchLike;
  probeHost: (integration: RunnerIntegration) => Promise<HostProbeResult>;
}

export interface ValidationResult {
  valid: boolean;
  hostError?: string;
  oauthError?: string;
  /** The callback URL is not a redirect URI of the app registration (AADSTS50011): register this exact value. */
  redirectUriError?: string;
  patError?: string;
  scmIdError?: string;
  /** Azure DevOps Server: where the server ends and the collection named in the path begins. */
  serverLayout?: { virtualDirectory: string; collection: string };
  hostNote?: string;
  /** Asked with `countCredentials`: the credentials the stored integration produced, by method. */
  credentials?: { oauth: number; pat: number };
}

/**
 * Save & Test, on the runner: is the host reachable and really Azure DevOps, does the issuer answer
 * discovery, and do the client id and secret work (a client-credentials request for the Azure DevOps
 * resource). Each check reports on its own field; all run even when one fails.
 */
export function createValidateIntegrationHandler(deps: ValidateDeps) {
  return async (payload: unknown): Promise<ValidationResult> => {
    const { integration, countCredentials } = payload as { integration?: RunnerIntegration; countCredentials?: boolean };
    if (!integration) throw new HandlerError('invalid_request', 'validate-integration needs an integration');
    const result: ValidationResult = { valid: true };
    if (countCredentials && deps.countCredentials) result.credentials = await deps.countCredentials(integration.id);

    if (integration.scmId !== 'azure-devops') {
      result.scmIdError = `this runner supports azure-devops, not ${integration.scmId}`;
    }

    const [host, oauth] = await Promise.all([deps.probeHost(integration), integration.oauth ? checkOAuth(integration, deps) : Promise.resolve(undefined)]);
    if (!host.ok) result.hostError = host.message ?? `${integration.host} is not reachable`;
    if (host.layout) result.serverLayout = host.layout;
    if (host.note) result.hostNote = host.note;
    if (oauth?.oauthError) result.oauthError = oauth.oauthError;
    if (oauth?.redirectUriError) result.redirectUriError = oauth.redirectUriError;
    if (!integration.oauth && !integration.patEnabled) result.patError = 'enable OAuth or Personal Access Tokens';

    result.valid = !result.hostError && !result.oauthError && !result.redirectUriError && !result.patError && !result.scmIdError;
    return result;
  };
}

async function checkOAuth(integration: RunnerIntegration, deps: ValidateDeps): Promise<{ oauthError?: string; redirectUriError?: string }> {
  const oauth = integration.oauth;
  if (!oauth) return {};
  if (!oauth.sealedClientSecret) return { oauthError: 'no client secret is stored (the runner key changed since it was entered): enter the client secret again' };
  let secret: string;
  try {
    secret = await open(deps.privateKey, oauth.sealedClientSecret, sealingContext.integrationClientSecret(integration.id));
  } catch (err) {
    if (err instanceof UnsealError && err.reason === 'wrong-recipient') return { oauthError: 'the client secret was sealed for another runner key: enter the client secret again' };
    return { oauthError: 'the stored client secret cannot be opened by this runner: enter the client secret again' };
  }
  let config: client.Configuration;
  try {
    config = await discoverIssuer(oauth.issuerUrl, oauth.clientId, secret, { allowInsecure: deps.allowInsecure });
  } catch (err) {
    return { oauthError: describeEntraFailure(err, { issuerUrl: oauth.issuerUrl }).message };
  }
  // The client secret (a client-credentials request) and the callback (the authorization request a
  // user's Connect sends): both are checked, so one Save & Test names every field at fault.
  const [secretError, redirectUriError] = await Promise.all([
    client.clientCredentialsGrant(config, { scope: AZURE_DEVOPS_DEFAULT_SCOPE }).then(
      () => undefined,
      (err: unknown) => describeEntraFailure(err, { issuerUrl: oauth.issuerUrl }).message,
    ),
    checkRedirectUri(config, oauth.clientId, oauth.callbackUrl, deps),
  ]);
  return { ...(secretError ? { oauthError: secretError } : {}), ...(redirectUriError ? { redirectUriError } : {}) };
}

async function checkRedirectUri(config: client.Configuration, clientId: string, callbackUrl: string, deps: ValidateDeps): Promise<string | undefined> {
  const authorize = config.serverMetadata().authorization_endpoint;
  if (!authorize) return undefined;
  const outcome = await probeAuthorizeEndpoint(authorize, { clientId, redirectUri: callbackUrl }, { allowInsecure: deps.allowInsecure, ...(deps.fetch ? { fetch: deps.fetch } : {}) });
  if (outcome !== 'callback_mismatch') return undefined;
  return (
    `the app registration ${clientId} does not list Keyway's callback as a redirect URI (AADSTS50011): add exactly ${callbackUrl} ` +
    'under Authentication → Web → Redirect URIs in Entra ID (or, if Keyway is reached at another address, set KEYWAY_PUBLIC_URL so that the callback matches the registration)'
  );
}
