import type { CredentialRecord } from '../credentials/store.ts';
import { open } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import { entraConfiguration } from '../../entra/client.ts';
import type { EntraConfiguration } from '../../entra/client.ts';
import type { RunnerIntegration } from '../../control/integration.ts';
import { HandlerError } from '../agent.ts';
import type { ClientCredentialRef, ClientCredentials } from '../client-credentials/index.ts';

export interface IntegrationSource {
  /** The integration as the management plane knows it now (cached briefly). */
  get(integrationId: string): Promise<RunnerIntegration>;
  /** Remembers an integration a control request carried, so later lookups need no round trip. */
  remember(integration: RunnerIntegration): void;
}

const TTL_MS = 60_000;

/**
 * Integrations come with each control request, and from the management plane on demand (token
 * refresh for git happens with no request in flight). A stale copy is used when the management
 * plane cannot be reached, so a refresh does not fail only because the control plane is down.
 */
export function createIntegrationSource(fetchIntegration: (id: string) => Promise<RunnerIntegration>): IntegrationSource {
  const cache = new Map<string, { integration: RunnerIntegration; at: number }>();
  return {
    remember(integration) {
      cache.set(integration.id, { integration, at: Date.now() });
    },
    async get(id) {
      const hit = cache.get(id);
      if (hit && Date.now() - hit.at < TTL_MS) return hit.integration;
      try {
        const integration = await fetchIntegration(id);
        cache.set(id, { integration, at: Date.now() });
        return integration;
      } catch (err) {
        if ((err as { status?: number }).status === 404) {
          cache.delete(id);
          throw new HandlerError(
            'integration_gone',
            'the integration this authorization came through was deleted; an admin must configure repository access again',
          );
        }
        if (hit) return hit.integration;
        throw err;
      }
    },
  };
}

/**
 * How the runner authenticates as an integration's Entra app: the client secret sealed to it
 * (opened here), or a credential without secret (a certificate born on the runner, a federated
 * token, the machine's managed identity; src/runner/client-credentials).
 */
export async function integrationCredentialRef(integration: RunnerIntegration, privateKey: string): Promise<ClientCredentialRef> {
  const oauth = integration.oauth;
  if (!oauth)
    throw new HandlerError(
      'oauth_disabled',
      'OAuth is not enabled for this host; use a Personal Access Token or ask an admin to enable OAuth',
    );
  const credential = oauth.credential ?? { type: 'client-secret' as const };
  const owner = { type: 'integration' as const, id: integration.id };
  if (credential.type !== 'client-secret')
    return { type: credential.type, owner, managedIdentityClientId: credential.managedIdentityClientId ?? null };
  if (!oauth.sealedClientSecret)
    throw new HandlerError(
      'oauth_misconfigured',
      'the OAuth client secret for this host must be entered again by an admin (the runner key changed)',
    );
  return {
    type: 'client-secret',
    owner,
    secret: await open(privateKey, oauth.sealedClientSecret, sealingContext.integrationClientSecret(integration.id)),
  };
}

/**
 * Entra configurations per integration, authenticating with the integration's credential. The
 * issuer's discovery is cached by src/entra (one cache for the process); the credential is read
 * again for each configuration, so a new secret or credential type is used at once, and a
 * certificate's ClientAuth asks for the current certificate at every request.
 */
export function createOidcConfigs(deps: { privateKey: string; allowInsecure: boolean; credentials: ClientCredentials }) {
  return async function configFor(integration: RunnerIntegration): Promise<EntraConfiguration> {
    const oauth = integration.oauth;
    if (!oauth)
      throw new HandlerError(
        'oauth_disabled',
        'OAuth is not enabled for this host; use a Personal Access Token or ask an admin to enable OAuth',
      );
    const credential = oauth.credential ?? { type: 'client-secret' };
    if (credential.type === 'client-secret' && !oauth.sealedClientSecret)
      throw new HandlerError(
        'oauth_misconfigured',
        'the OAuth client secret for this host must be entered again by an admin (the runner key changed)',
      );
    const ref = await integrationCredentialRef(integration, deps.privateKey);
    return entraConfiguration(
      { issuerUrl: oauth.issuerUrl, clientId: oauth.clientId, credential: deps.credentials.clientAuth(ref) },
      { allowInsecure: deps.allowInsecure },
    );
  };
}

export type OidcConfigs = ReturnType<typeof createOidcConfigs>;

/** For the token service: a user authorization refreshes through the integration it came from. */
export function integrationConfigForRecord(integrations: IntegrationSource, configFor: OidcConfigs) {
  return async (record: CredentialRecord): Promise<EntraConfiguration> => {
    if (!record.integrationId) throw new HandlerError('integration_gone', 'this authorization has no integration; connect again');
    return configFor(await integrations.get(record.integrationId));
  };
}
