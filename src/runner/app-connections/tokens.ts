import type { AzureDevOpsCredential } from '../../azure-devops/types.ts';
import type { RunnerAppConnection } from '../../control/app-connections.ts';
import { clientCredentialsToken, entraConfiguration } from '../../entra/client.ts';
import type { EntraCredential } from '../../entra/client.ts';
import { describeEntraFailure } from '../../entra/errors.ts';
import { AZURE_DEVOPS_DEFAULT_SCOPE, AZURE_DEVOPS_RESOURCE } from '../../entra/scopes.ts';
import type { AppConnectionMethod } from '../../control/app-connections.ts';
import { credentialProblem } from '../client-credentials/index.ts';
import type { ClientCredentialRef, ClientCredentials } from '../client-credentials/index.ts';
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

/** A client-credentials grant; the credential is a client secret or a client assertion method. */
export type ClientCredentialsGrant = (issuerUrl: string, clientId: string, credential: EntraCredential) => Promise<ClientCredentialsToken>;

export interface AppConnectionTokenDeps {
  credentials: Pick<CredentialStore, 'listForSubject' | 'readSecret'>;
  allowInsecure: boolean;
  /** oauth connections: the delegated token, refreshed when due. */
  oauth: Pick<AppConnectionOAuth, 'accessToken'>;
  now?: () => number;
  /** Injectable for tests; default: src/entra's configuration (discovery cached) and client-credentials grant. */
  grant?: ClientCredentialsGrant;
  /** Credentials without a secret (certificate, workload identity, managed identity). */
  clientCredentials?: ClientCredentials;
}

/** Methods that sign in as a service principal with the client-credentials grant (or IMDS). */
export const SERVICE_PRINCIPAL_METHODS: readonly AppConnectionMethod[] = [
  'client-secret',
  'certificate',
  'workload-identity',
  'managed-identity',
];
/** Methods whose credential is no secret the runner stores in its credentials table. */
export const SECRETLESS_METHODS: readonly AppConnectionMethod[] = ['certificate', 'workload-identity', 'managed-identity'];

/** Field of the create/update request an Entra failure points at. */
export function entraFailureField(aadsts: number | undefined, error: string, method: AppConnectionMethod = 'client-secret'): string {
  if (aadsts === 700016) return 'clientId';
  if (aadsts === 90002 || error === 'issuer_mismatch' || error === 'discovery_failed' || error === 'network') return 'tenantId';
  return CREDENTIAL_FIELD[method];
}

/** The field a refused credential is reported on, per method. */
export const CREDENTIAL_FIELD: Record<AppConnectionMethod, string> = {
  'access-token': 'accessToken',
  'client-secret': 'clientSecret',
  oauth: 'connection',
  certificate: 'certificate',
  'workload-identity': 'federatedCredential',
  'managed-identity': 'managedIdentity',
};

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

  const defaultGrant: ClientCredentialsGrant = async (issuerUrl, clientId, credential) => {
    const config = await entraConfiguration({ issuerUrl, clientId, credential }, { allowInsecure: deps.allowInsecure });
    const res = await clientCredentialsToken(config, { scope: AZURE_DEVOPS_DEFAULT_SCOPE });
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

  function secretless(): ClientCredentials {
    if (!deps.clientCredentials) throw new HandlerError('runner_error', 'this runner cannot use credentials without a secret');
    return deps.clientCredentials;
  }

  /**
   * One token request for a service principal, its failure in words (field names the input at
   * fault): the client-credentials grant with the secret, the runner's certificate or its federated
   * token; or, with managed identity, the machine's Instance Metadata Service.
   */
  async function requestToken(connection: RunnerAppConnection, secret?: string): Promise<ClientCredentialsToken> {
    if (connection.method === 'managed-identity') {
      try {
        const token = await secretless().managedIdentityToken(AZURE_DEVOPS_RESOURCE, connection.clientId);
        return { accessToken: token.accessToken, expiresAt: token.expiresAt };
      } catch (err) {
        const problem = credentialProblem(err);
        if (problem)
          throw new HandlerError(problem.code, problem.message, problem.code === 'identity_not_found' ? 'clientId' : 'managedIdentity');
        throw err;
      }
    }
    if (!connection.issuerUrl || !connection.clientId)
      throw new HandlerError('invalid_connection', 'the connection has no tenant or client id; edit it and enter them', 'tenantId');
    const { issuerUrl, clientId } = connection;
    try {
      if (connection.method === 'client-secret') return await grant(issuerUrl, clientId, secret ?? '');
      const ref = connectionCredentialRef(connection);
      return await secretless().withCertificateFallback(ref, (auth) => grant(issuerUrl, clientId, auth));
    } catch (err) {
      const problem = credentialProblem(err);
      if (problem) throw new HandlerError(problem.code, problem.message, CREDENTIAL_FIELD[connection.method]);
      const failure =
        connection.method === 'client-secret'
          ? describeEntraFailure(err, { issuerUrl })
          : await secretless().describeRefusal(connectionCredentialRef(connection), err, issuerUrl);
      throw new HandlerError(
        `entra_${failure.error}`,
        `Entra ID refused the service principal's sign-in: ${failure.message}`,
        entraFailureField(failure.aadsts, failure.error, connection.method),
      );
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

  /** Certificate, workload identity, managed identity: tokens cached per connection settings. */
  async function secretlessToken(connection: RunnerAppConnection): Promise<string> {
    const key = `${connection.id}|${connection.method}|${connection.clientId}|${connection.issuerUrl}`;
    const cached = cache.get(key);
    if (cached && cached.expiresAt - TOKEN_REUSE_MARGIN_MS > now()) return cached.accessToken;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = requestToken(connection).finally(() => inFlight.delete(key));
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
      if (SECRETLESS_METHODS.includes(connection.method)) return { kind: 'bearer', token: await secretlessToken(connection) };
      const found = await stored(connection.id);
      if (!found) throw missing();
      return connection.method === 'access-token'
        ? { kind: 'pat', token: found.secret }
        : { kind: 'bearer', token: await clientCredentials(connection, found.record, found.secret) };
    },

    /** The secret was replaced or deleted: drop what was derived from it. */
    forget(connectionId: string): void {
      for (const k of cache.keys()) if (k.startsWith(`${connectionId}|`)) cache.delete(k);
    },
  };
}

export type AppConnectionTokens = ReturnType<typeof createAppConnectionTokens>;

/** The credential reference of a service-principal app connection without a secret. */
export function connectionCredentialRef(connection: RunnerAppConnection): ClientCredentialRef {
  const type =
    connection.method === 'certificate' || connection.method === 'workload-identity' || connection.method === 'managed-identity'
      ? connection.method
      : 'client-secret';
  return {
    type,
    owner: { type: 'app-connection', id: connection.id },
    managedIdentityClientId: connection.method === 'managed-identity' ? connection.clientId : null,
  };
}
