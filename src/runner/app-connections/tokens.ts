import * as client from 'openid-client';
import type { AzureDevOpsCredential } from '../../azure-devops/types.ts';
import type { RunnerAppConnection } from '../../control/app-connections.ts';
import { AZURE_DEVOPS_DEFAULT_SCOPE, describeEntraFailure, discoverIssuer } from '../../entra/oidc.ts';
import { HandlerError } from '../agent.ts';
import type { CredentialRecord, CredentialStore } from '../credentials/store.ts';
import type { AppConnectionOAuth } from './oauth.ts';

/** Client-credentials tokens are reused until this long before they expire. */
export const TOKEN_REUSE_MARGIN_MS = 5 * 60_000;

export interface ClientCredentialsToken {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

export type ClientCredentialsGrant = (issuerUrl: string, clientId: string, clientSecret: string) => Promise<ClientCredentialsToken>;

export interface AppConnectionTokenDeps {
  credentials: Pick<CredentialStore, 'listForSubject' | 'readSecret'>;
  allowInsecure: boolean;
  /** oauth connections: the delegated token, refreshed when due. */
  oauth: Pick<AppConnectionOAuth, 'accessToken'>;
  now?: () => number;
  /** Injectable for tests; default: openid-client discovery and client-credentials grant. */
  grant?: ClientCredentialsGrant;
}

/** Field of the create/update request an Entra failure points at. */
export function entraFailureField(aadsts: number | undefined, error: string): 'clientSecret' | 'clientId' | 'tenantId' {
  if (aadsts === 700016) return 'clientId';
  if (aadsts === 90002 || error === 'issuer_mismatch' || error === 'discovery_failed' || error === 'network') return 'tenantId';
  return 'clientSecret';
}

/**
 * Credentials of app connections, on the runner: the stored secret (a PAT as is), or for
 * client-secret connections an Entra access token from the client-credentials grant for
 * `499b84ac-…/.default`, cached in memory until 5 minutes before it expires. Concurrent callers
 * share one token request. (Client-credentials answers carry no refresh token: a new grant is the
 * refresh.)
 */
export function createAppConnectionTokens(deps: AppConnectionTokenDeps) {
  const now = deps.now ?? Date.now;
  const cache = new Map<string, ClientCredentialsToken>();
  const inFlight = new Map<string, Promise<ClientCredentialsToken>>();

  const defaultGrant: ClientCredentialsGrant = async (issuerUrl, clientId, clientSecret) => {
    const res = await client.clientCredentialsGrant(await discoverIssuer(issuerUrl, clientId, clientSecret, { allowInsecure: deps.allowInsecure }), { scope: AZURE_DEVOPS_DEFAULT_SCOPE });
    return { accessToken: res.access_token, expiresAt: now() + (res.expires_in ?? 3600) * 1000 };
  };
  const grant = deps.grant ?? defaultGrant;

  async function stored(connectionId: string): Promise<{ record: CredentialRecord; secret: string } | undefined> {
    const records = await deps.credentials.listForSubject({ type: 'app-connection', id: connectionId });
    const record = records[records.length - 1];
    if (!record) return undefined;
    const secret = await deps.credentials.readSecret(record.id);
    return secret === undefined ? undefined : { record, secret };
  }

  /** One client-credentials token request, its failure in words (field names the input at fault). */
  async function requestToken(connection: RunnerAppConnection, secret: string): Promise<ClientCredentialsToken> {
    if (!connection.issuerUrl || !connection.clientId) throw new HandlerError('invalid_connection', 'the connection has no tenant or client id; edit it and enter them', 'tenantId');
    try {
      return await grant(connection.issuerUrl, connection.clientId, secret);
    } catch (err) {
      const failure = describeEntraFailure(err, { issuerUrl: connection.issuerUrl });
      throw new HandlerError(`entra_${failure.error}`, `Entra ID refused the service principal's sign-in: ${failure.message}`, entraFailureField(failure.aadsts, failure.error));
    }
  }

  async function clientCredentials(connection: RunnerAppConnection, record: CredentialRecord, secret: string): Promise<string> {
    // The record id changes whenever the secret is entered again, so a new secret never reuses a token.
    const key = `${connection.id}|${record.id}|${connection.clientId}|${connection.issuerUrl}`;
    const cached = cache.get(key);
    if (cached && cached.expiresAt - TOKEN_REUSE_MARGIN_MS > now()) return cached.accessToken;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = requestToken(connection, secret).finally(() => inFlight.delete(key));
      inFlight.set(key, pending);
    }
    const token = await pending;
    for (const k of cache.keys()) if (k.startsWith(`${connection.id}|`)) cache.delete(k);
    cache.set(key, token);
    return token.accessToken;
  }

  return {
    stored,
    requestToken,

    /** How to call Azure DevOps with this connection now. Throws HandlerError with words when it cannot. */
    async credentialFor(connection: RunnerAppConnection): Promise<AzureDevOpsCredential> {
      const missing = () =>
        new HandlerError(
          'credential_missing',
          connection.method === 'oauth'
            ? `this runner holds no tokens for app connection "${connection.id}": connect it (Connect / Reconnect) in the browser`
            : `this runner holds no credential for app connection "${connection.id}": edit the connection and enter its credential again`,
        );
      if (connection.method === 'oauth') {
        // The token service reads (and refreshes) the token set itself: no need to open it here.
        const records = await deps.credentials.listForSubject({ type: 'app-connection', id: connection.id });
        const record = records[records.length - 1];
        if (!record) throw missing();
        return { kind: 'bearer', token: await deps.oauth.accessToken(connection, record) };
      }
      const found = await stored(connection.id);
      if (!found) throw missing();
      return connection.method === 'access-token' ? { kind: 'pat', token: found.secret } : { kind: 'bearer', token: await clientCredentials(connection, found.record, found.secret) };
    },

    /** The secret was replaced or deleted: drop what was derived from it. */
    forget(connectionId: string): void {
      for (const k of cache.keys()) if (k.startsWith(`${connectionId}|`)) cache.delete(k);
    },
  };
}

export type AppConnectionTokens = ReturnType<typeof createAppConnectionTokens>;
