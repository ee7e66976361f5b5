import type { Kysely } from 'kysely';
import { open } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import type {
  ConnectionValidation,
  OAuthBeginPayload,
  OAuthBeginResult,
  OAuthCompletePayload,
  OAuthCompleteResult,
  RunnerAppConnection,
} from '../../control/app-connections.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { entraConfiguration } from '../../entra/client.ts';
import type { EntraConfiguration } from '../../entra/client.ts';
import { describeEntraFailure } from '../../entra/errors.ts';
import { AZURE_DEVOPS_RESOURCE } from '../../entra/scopes.ts';
import { HandlerError } from '../agent.ts';
import type { CredentialRecord, CredentialStore } from '../credentials/store.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';
import { beginCodeFlow, redeemCode, takePending } from '../oauth/code-flow.ts';
import { oauthHandlerError } from '../oauth/flow.ts';
import { createTokenService, NeedsReauthorizationError } from '../oauth/tokens.ts';
import type { TokenServiceOptions } from '../oauth/tokens.ts';

/**
 * What an oauth app connection asks the connecting user to delegate: what syncs need (the PAT
 * scopes of SYNC_PAT_SCOPES), plus vso.profile so the organizations the account reaches can be
 * offered to pick from, and offline_access for the refresh token automation lives on.
 */
export const APP_CONNECTION_OAUTH_SCOPES: readonly string[] = Object.freeze([
  'openid',
  'profile',
  'offline_access',
  ...['vso.variablegroups_manage', 'vso.project', 'vso.release_execute', 'vso.serviceendpoint_query', 'vso.profile'].map(
    (s) => `${AZURE_DEVOPS_RESOURCE}/${s}`,
  ),
]);

/** "the account alice@contoso.com", from the ID token's preferred_username kept with the tokens. */
function accountOf(metadata: { upn?: unknown }): string {
  return typeof metadata.upn === 'string' ? `the account ${metadata.upn}` : 'the signed-in account';
}

export interface AppConnectionOAuthDeps {
  db: Kysely<RunnerDB>;
  crypto: FieldCrypto;
  credentials: CredentialStore;
  privateKey: string;
  allowInsecure: boolean;
  now?: () => Date;
  /** Tests: lease and retry timings of the refresh. */
  tokenOptions?: Partial<Omit<TokenServiceOptions, 'credentials' | 'configForRecord'>>;
}

export type ValidateToken = (connection: RunnerAppConnection, accessToken: string, who: string) => Promise<ConnectionValidation>;

/**
 * oauth app connections on the runner: the consent (the same code flow as a user's "Connect", for
 * the instance-wide Entra app whose secret arrives sealed to this runner) and the delegated token,
 * refreshed as user authorizations are (single flight, row lease, rotation committed first).
 */
export function createAppConnectionOAuth(deps: AppConnectionOAuthDeps) {
  const now = deps.now ?? (() => new Date());
  const flow = { db: deps.db, crypto: deps.crypto, now };
  /** The connection as the management plane last sent it: a refresh needs its app settings. */
  const latest = new Map<string, RunnerAppConnection>();
  const subject = (id: string) => ({ type: 'app-connection' as const, id });

  /** Keyway's OAuth app, its secret opened for each configuration (so a rotated one is used at once); discovery is cached by src/entra. */
  function configFor(connection: RunnerAppConnection): Promise<EntraConfiguration> {
    if (!connection.issuerUrl || !connection.clientId) {
      return Promise.reject(
        new HandlerError('invalid_connection', 'the oauth connection has no tenant; edit it and connect again', 'tenantId'),
      );
    }
    if (!connection.sealedClientSecret) {
      return Promise.reject(
        new HandlerError(
          'oauth_app_changed',
          "Keyway's OAuth app (KEYWAY_AZURE_DEVOPS_CLIENT_ID) is no longer configured, or is not the app this connection was made with: connect the connection again",
        ),
      );
    }
    const { issuerUrl, clientId, sealedClientSecret } = connection;
    return (async () => {
      const secret = await open(deps.privateKey, sealedClientSecret, sealingContext.oauthAppClientSecret(clientId));
      return entraConfiguration({ issuerUrl, clientId, credential: secret }, { allowInsecure: deps.allowInsecure });
    })();
  }

  async function configOrFailure(connection: RunnerAppConnection): Promise<EntraConfiguration> {
    try {
      return await configFor(connection);
    } catch (err) {
      if (err instanceof HandlerError) throw err;
      throw new HandlerError('oauth_unavailable', describeEntraFailure(err, { issuerUrl: connection.issuerUrl ?? '' }).message, 'tenantId');
    }
  }

  const tokens = createTokenService({
    credentials: deps.credentials,
    configForRecord: async (record: CredentialRecord) => {
      const connection = latest.get(record.subject.id);
      if (!connection) throw new HandlerError('invalid_request', 'the oauth connection was not sent with the request');
      return configOrFailure(connection);
    },
    ...deps.tokenOptions,
  });

  return {
    async begin(payload: OAuthBeginPayload): Promise<OAuthBeginResult> {
      const { connection } = payload;
      const config = await configOrFailure(connection);
      return beginCodeFlow(flow, config, {
        userId: payload.userId,
        integrationId: '',
        appConnectionId: connection.id,
        clientId: connection.clientId ?? '',
        redirectUri: payload.redirectUri,
        scopes: APP_CONNECTION_OAUTH_SCOPES,
        loginHint: payload.loginHint,
      });
    },

    /**
     * Redeems the code and keeps the tokens (replacing the previous ones only once the new ones are
     * stored), then validates them. A validation failure still keeps them: the consent was given,
     * and picking another organization must not need another one.
     */
    async complete(payload: OAuthCompletePayload, validate: ValidateToken): Promise<OAuthCompleteResult> {
      const { connection } = payload;
      const pending = await takePending(flow, payload.params, {
        userId: payload.userId,
        integrationId: '',
        appConnectionId: connection.id,
        clientId: connection.clientId ?? undefined,
      });
      const config = await configOrFailure(connection);
      const { tokenSet, metadata } = await redeemCode(flow, config, pending, payload.params, {
        requestedScopes: APP_CONNECTION_OAUTH_SCOPES,
        describeError: oauthHandlerError,
      });
      const previous = await deps.credentials.listForSubject(subject(connection.id));
      await deps.credentials.insert({
        subject: subject(connection.id),
        host: 'dev.azure.com',
        method: 'oauth',
        secret: JSON.stringify(tokenSet),
        metadata: { ...metadata },
      });
      for (const old of previous) await deps.credentials.delete(old.id);
      latest.set(connection.id, connection);
      return {
        validation: await validate(connection, tokenSet.access_token, accountOf(metadata)),
        tenantId: metadata.tid ?? null,
        account: metadata.upn ?? null,
      };
    },

    /** The connection's current delegated token, refreshed when due. */
    async accessToken(connection: RunnerAppConnection, record: CredentialRecord): Promise<string> {
      latest.set(connection.id, connection);
      try {
        return (await tokens.tokenFor(record)).token;
      } catch (err) {
        if (err instanceof NeedsReauthorizationError) {
          throw new HandlerError(
            'reauthorization_required',
            `the oauth connection must be connected again (Reconnect): ${err.message.replace(/^the authorization for [^ ]+ must be renewed: /, '')}`,
            'connection',
          );
        }
        throw err;
      }
    },

    /** Who the stored tokens belong to, for messages. */
    account: (record: CredentialRecord): string => accountOf(record.metadata),

    forget(connectionId: string): void {
      latest.delete(connectionId);
    },
  };
}

export type AppConnectionOAuth = ReturnType<typeof createAppConnectionOAuth>;
