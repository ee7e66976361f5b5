import { open, UnsealError } from '../../crypto/sealing.ts';
import { APP_CONNECTION_REQUESTS } from '../../control/app-connections.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import type { ConnectionValidation, RunnerAppConnection } from '../../control/app-connections.ts';
import type { HandlerSet } from '../agent.ts';
import { HandlerError } from '../agent.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { AppConnectionTokens } from './tokens.ts';
import { connectionCredentialRef, CREDENTIAL_FIELD, SECRETLESS_METHODS } from './tokens.ts';
import type { ClientCredentials, ClientCredentialState } from '../client-credentials/index.ts';
import { AZURE_DEVOPS_RESOURCE } from '../../entra/scopes.ts';
import { validateConnection, validateOAuthToken } from './validate.ts';
import type { AppConnectionOAuth } from './oauth.ts';
import { probeOAuthRedirect } from './oauth-probe.ts';
import type { ValidateDeps } from './validate.ts';

export interface AppConnectionHandlerDeps extends ValidateDeps {
  privateKey: string;
  credentials: Pick<CredentialStore, 'insert' | 'listForSubject' | 'delete'>;
  tokens: AppConnectionTokens;
  oauth: Pick<AppConnectionOAuth, 'begin' | 'complete' | 'forget' | 'account'>;
  allowInsecure: boolean;
  clientCredentials: ClientCredentials;
}

const SECRET_FIELD = CREDENTIAL_FIELD;

/**
 * The runner's side of app connections. A credential is stored only after it validated, replacing
 * the previous one in the same step, so a failed re-entry keeps the connection working.
 */
type AppConnectionKind = (typeof APP_CONNECTION_REQUESTS)[keyof typeof APP_CONNECTION_REQUESTS];

export function createAppConnectionHandlers(deps: AppConnectionHandlerDeps): HandlerSet<AppConnectionKind> {
  const subject = (id: string) => ({ type: 'app-connection' as const, id });

  async function store(connection: RunnerAppConnection, secret: string, validation: ConnectionValidation) {
    const previous = await deps.credentials.listForSubject(subject(connection.id));
    await deps.credentials.insert({
      subject: subject(connection.id),
      host: 'dev.azure.com',
      method: connection.method,
      secret,
      metadata: {
        organization: connection.organization,
        tenantId: connection.tenantId,
        clientId: connection.clientId,
        identity: validation.identity ?? null,
      },
    });
    for (const old of previous) await deps.credentials.delete(old.id);
    deps.tokens.forget(connection.id);
  }

  /**
   * A connection without secret (certificate, workload identity, managed identity): what the admin
   * must register (the runner's certificate, made on first use; the federated token's issuer and
   * subject; the managed identity's ids), then the sign-in and the organization, as for a secret.
   */
  async function validateSecretless(connection: RunnerAppConnection): Promise<ConnectionValidation> {
    deps.tokens.forget(connection.id);
    const describe = async (): Promise<ClientCredentialState> =>
      connection.method === 'managed-identity'
        ? {
            type: 'managed-identity',
            managedIdentity: await deps.clientCredentials.describeManagedIdentity(AZURE_DEVOPS_RESOURCE, connection.clientId),
            readAt: new Date().toISOString(),
          }
        : deps.clientCredentials.prepare(connectionCredentialRef(connection));
    await describe();
    const validation = await validateConnection(connection, undefined, deps);
    // Described after the sign-in: a next certificate Entra accepted is the active one now.
    return { ...validation, credentialState: await describe() };
  }

  /** An oauth connection's stored tokens, checked with a current (refreshed when due) access token. */
  async function validateOAuth(connection: RunnerAppConnection): Promise<ConnectionValidation> {
    let token: string;
    try {
      const credential = await deps.tokens.credentialFor(connection);
      token = credential.token;
    } catch (err) {
      if (err instanceof HandlerError) return { valid: false, code: err.code, field: err.field ?? 'connection', message: err.message };
      throw err;
    }
    const records = await deps.credentials.listForSubject(subject(connection.id));
    const record = records[records.length - 1];
    return validateOAuthToken(connection, token, deps, record ? deps.oauth.account(record) : 'the signed-in account');
  }

  return {
    [APP_CONNECTION_REQUESTS.oauthBegin]: async (req) => {
      if (req.connection.method !== 'oauth')
        throw new HandlerError('invalid_request', 'app-connection.oauth-begin needs an oauth connection');
      return deps.oauth.begin(req);
    },

    [APP_CONNECTION_REQUESTS.oauthComplete]: async (req) => {
      if (req.connection.method !== 'oauth')
        throw new HandlerError('invalid_request', 'app-connection.oauth-complete needs an oauth connection');
      const result = await deps.oauth.complete(req, (c, token, who) => validateOAuthToken(c, token, deps, who));
      deps.tokens.forget(req.connection.id);
      return result;
    },

    [APP_CONNECTION_REQUESTS.save]: async ({ connection, sealedSecret: sealed }) => {
      // oauth: the tokens come from the consent; a save (another organization) only checks them again.
      if (connection.method === 'oauth') return validateOAuth(connection);
      if (SECRETLESS_METHODS.includes(connection.method)) return validateSecretless(connection);
      let secret: string;
      if (sealed !== undefined) {
        try {
          secret = await open(deps.privateKey, sealed, sealingContext.appConnectionSecret(connection.id));
        } catch (err) {
          const field = SECRET_FIELD[connection.method];
          if (err instanceof UnsealError && err.reason === 'wrong-recipient') {
            return {
              valid: false,
              code: 'sealed_for_another_key',
              field,
              message: 'the credential was sealed for another runner key: reload the page and enter it again',
            } satisfies ConnectionValidation;
          }
          return {
            valid: false,
            code: 'sealed_secret_unusable',
            field,
            message:
              'the sealed credential cannot be opened by this runner (it belongs to another connection, or was altered): enter it again',
          } satisfies ConnectionValidation;
        }
      } else {
        const found = await deps.tokens.stored(connection.id);
        if (!found)
          return {
            valid: false,
            code: 'credential_missing',
            field: SECRET_FIELD[connection.method],
            message: 'this runner holds no credential for the connection: enter it again',
          } satisfies ConnectionValidation;
        secret = found.secret;
      }
      const validation = await validateConnection(connection, secret, deps);
      if (validation.valid) await store(connection, secret, validation);
      return validation;
    },

    [APP_CONNECTION_REQUESTS.test]: async ({ connection }) => {
      if (connection.method === 'oauth') return validateOAuth(connection);
      if (SECRETLESS_METHODS.includes(connection.method)) return validateSecretless(connection);
      const found = await deps.tokens.stored(connection.id);
      if (!found) {
        return {
          valid: false,
          code: 'credential_missing',
          field: SECRET_FIELD[connection.method],
          message:
            'this runner holds no credential for the connection (it was lost or never stored): edit the connection and enter it again',
        } satisfies ConnectionValidation;
      }
      return validateConnection(connection, found.secret, deps);
    },

    [APP_CONNECTION_REQUESTS.oauthProbe]: async (req) => probeOAuthRedirect(req, { allowInsecure: deps.allowInsecure }),

    [APP_CONNECTION_REQUESTS.delete]: async ({ connectionId }) => {
      const records = await deps.credentials.listForSubject(subject(connectionId));
      for (const r of records) await deps.credentials.delete(r.id);
      // The certificates (and private keys) the runner made for the connection's service principal.
      const certificates = await deps.clientCredentials.certificates.deleteForOwner({ type: 'app-connection', id: connectionId });
      deps.tokens.forget(connectionId);
      deps.oauth.forget(connectionId);
      return { deleted: records.length, clientCertificates: certificates };
    },
  };
}
