import { UnsealError } from '../../crypto/sealing.ts';
import { clientCredentialsToken, entraConfiguration, withClientAuth } from '../../entra/client.ts';
import type { EntraConfiguration, EntraCredential } from '../../entra/client.ts';
import { describeEntraFailure } from '../../entra/errors.ts';
import { probeAuthorizeEndpoint } from '../../entra/redirect-probe.ts';
import type { FetchLike } from '../../entra/redirect-probe.ts';
import { AZURE_DEVOPS_DEFAULT_SCOPE } from '../../entra/scopes.ts';
import type { ClientCredentialRef, ClientCredentials, ClientCredentialState } from '../client-credentials/index.ts';
import { integrationCredentialRef } from '../oauth/integration-config.ts';
import type { RunnerIntegration } from '../../control/integration.ts';
import type { ControlPayload, IntegrationValidation } from '../../control/registry.ts';
import { HandlerError } from '../agent.ts';

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
  credentials: ClientCredentials;
}

/** The answer of validate-integration (src/control/registry.ts, IntegrationValidation). */
export type ValidationResult = IntegrationValidation;

/**
 * Save & Test, on the runner: is the host reachable and really Azure DevOps, does the issuer answer
 * discovery, and do the client id and secret work (a client-credentials request for the Azure DevOps
 * resource). Each check reports on its own field; all run even when one fails.
 */
export function createValidateIntegrationHandler(deps: ValidateDeps) {
  return async ({ integration, countCredentials }: ControlPayload<'validate-integration'>): Promise<ValidationResult> => {
    const result: ValidationResult = { valid: true };
    if (countCredentials && deps.countCredentials) result.credentials = await deps.countCredentials(integration.id);

    if (integration.scmId !== 'azure-devops') {
      result.scmIdError = `this runner supports azure-devops, not ${integration.scmId}`;
    }

    const [host, oauth] = await Promise.all([
      deps.probeHost(integration),
      integration.oauth ? checkOAuth(integration, deps) : Promise.resolve(undefined),
    ]);
    if (!host.ok) result.hostError = host.message ?? `${integration.host} is not reachable`;
    if (host.layout) result.serverLayout = host.layout;
    if (host.note) result.hostNote = host.note;
    if (oauth?.oauthError) result.oauthError = oauth.oauthError;
    if (oauth?.redirectUriError) result.redirectUriError = oauth.redirectUriError;
    if (oauth?.credentialState) result.credentialState = oauth.credentialState;
    if (oauth?.credentialNote) result.credentialNote = oauth.credentialNote;
    if (!integration.oauth && !integration.patEnabled) result.patError = 'enable OAuth or Personal Access Tokens';

    result.valid = !result.hostError && !result.oauthError && !result.redirectUriError && !result.patError && !result.scmIdError;
    return result;
  };
}

async function checkOAuth(
  integration: RunnerIntegration,
  deps: ValidateDeps,
): Promise<{ oauthError?: string; redirectUriError?: string; credentialState?: ClientCredentialState; credentialNote?: string }> {
  const oauth = integration.oauth;
  if (!oauth) return {};
  const type = oauth.credential?.type ?? 'client-secret';
  let ref: ClientCredentialRef;
  try {
    ref = await integrationCredentialRef(integration, deps.privateKey);
  } catch (err) {
    if (err instanceof UnsealError && err.reason === 'wrong-recipient')
      return { oauthError: 'the client secret was sealed for another runner key: enter the client secret again' };
    if (err instanceof UnsealError)
      return { oauthError: 'the stored client secret cannot be opened by this runner: enter the client secret again' };
    if (err instanceof HandlerError && type === 'client-secret')
      return { oauthError: 'no client secret is stored (the runner key changed since it was entered): enter the client secret again' };
    throw err;
  }
  // Without a secret, what the admin registers in Entra comes from the runner: the certificate it
  // made (made now on first use), or the federated token it holds. A problem reading it is the answer.
  const credentialState = type === 'client-secret' ? undefined : await deps.credentials.prepare(ref);
  const withState = <T extends object>(answer: T) => (credentialState ? { ...answer, credentialState } : answer);
  if (credentialState?.federated && 'error' in credentialState.federated) return withState({ oauthError: credentialState.federated.error });

  let config: EntraConfiguration;
  try {
    config = await entraConfiguration(
      { issuerUrl: oauth.issuerUrl, clientId: oauth.clientId, credential: deps.credentials.clientAuth(ref) },
      { allowInsecure: deps.allowInsecure },
    );
  } catch (err) {
    return withState({ oauthError: describeEntraFailure(err, { issuerUrl: oauth.issuerUrl }).message });
  }
  // The credential (a client-credentials request) and the callback (the authorization request a
  // user's Connect sends): both are checked, so one Save & Test names every field at fault.
  const grant = (auth: EntraCredential) =>
    clientCredentialsToken(withClientAuth(config, oauth.clientId, auth, { allowInsecure: deps.allowInsecure }), {
      scope: AZURE_DEVOPS_DEFAULT_SCOPE,
    });
  const [credentialError, redirectUriError] = await Promise.all([
    deps.credentials.withCertificateFallback(ref, grant).then(
      () => undefined,
      async (err: unknown) => (await deps.credentials.describeRefusal(ref, err, oauth.issuerUrl)).message,
    ),
    checkRedirectUri(config, oauth.clientId, oauth.callbackUrl, deps),
  ]);
  const credentialNote = type === 'certificate' && !credentialError ? await checkNextCertificate(ref, grant, deps) : undefined;
  // The certificates as they are after the test (a next one may have been promoted).
  const after = type === 'certificate' ? await deps.credentials.prepare(ref) : credentialState;
  return {
    ...(credentialError ? { oauthError: credentialError } : {}),
    ...(redirectUriError ? { redirectUriError } : {}),
    ...(after ? { credentialState: after } : {}),
    ...(credentialNote ? { credentialNote } : {}),
  };
}

/**
 * The active certificate works; a next one waits for upload. Entra accepting it makes it the active
 * one now (it expires later); otherwise the admin is told it still has to be uploaded, and by when.
 */
async function checkNextCertificate(
  ref: ClientCredentialRef,
  grant: (auth: EntraCredential) => Promise<unknown>,
  deps: ValidateDeps,
): Promise<string | undefined> {
  const all = await deps.credentials.certificates.list(ref.owner);
  const next = all.find((c) => c.status === 'next');
  const active = all.find((c) => c.status === 'active');
  if (!next || !active) return undefined;
  try {
    await grant(deps.credentials.clientAuth(ref, next.id));
  } catch {
    return `the next certificate (thumbprint ${next.thumbprintSha1}) is not accepted by Entra ID yet: upload it to the app registration before the active one expires on ${active.notAfter.slice(0, 10)}, then test again`;
  }
  await deps.credentials.certificates.accepted(next.id);
  await deps.credentials.certificates.promote(ref.owner, next.id);
  return `Entra ID accepted the next certificate (thumbprint ${next.thumbprintSha1}): the runner signs with it from now on; the previous certificate can be deleted from the app registration`;
}

async function checkRedirectUri(
  config: EntraConfiguration,
  clientId: string,
  callbackUrl: string,
  deps: ValidateDeps,
): Promise<string | undefined> {
  const authorize = config.serverMetadata().authorization_endpoint;
  if (!authorize) return undefined;
  const outcome = await probeAuthorizeEndpoint(
    authorize,
    { clientId, redirectUri: callbackUrl },
    { allowInsecure: deps.allowInsecure, ...(deps.fetch ? { fetch: deps.fetch } : {}) },
  );
  if (outcome !== 'callback_mismatch') return undefined;
  return (
    `the app registration ${clientId} does not list Keyway's callback as a redirect URI (AADSTS50011): add exactly ${callbackUrl} ` +
    'under Authentication → Web → Redirect URIs in Entra ID (or, if Keyway is reached at another address, set KEYWAY_PUBLIC_URL so that the callback matches the registration)'
  );
}
