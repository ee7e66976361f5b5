import type { Kysely } from 'kysely';
import type { AzureDevOpsEndpoints } from '../../azure-devops/endpoints.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { Logger } from '../../logging/logger.ts';
import type { HandlerSet } from '../agent.ts';
import type { APP_CONNECTION_REQUESTS, SYNC_REQUESTS } from '../../control/app-connections.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';
import { createSyncExecutor } from '../syncs/executor.ts';
import type { SyncExecutorDeps } from '../syncs/executor.ts';
import { createSyncHandlers } from '../syncs/handlers.ts';
import { createSyncStore } from '../syncs/store.ts';
import { createAppConnectionHandlers } from './handlers.ts';
import { createAppConnectionTokens } from './tokens.ts';
import { createAppConnectionOAuth } from './oauth.ts';
import type { AppConnectionOAuthDeps } from './oauth.ts';
import type { ClientCredentials } from '../client-credentials/index.ts';

export interface AppConnectionRuntimeDeps {
  privateKey: string;
  db: Kysely<RunnerDB>;
  crypto: FieldCrypto;
  credentials: CredentialStore;
  endpoints: AzureDevOpsEndpoints;
  allowInsecure: boolean;
  logger?: Logger;
  /** Tests: refresh lease and retry timings of oauth connections. */
  oauthTokenOptions?: AppConnectionOAuthDeps['tokenOptions'];
  /** Tests: faster retries. */
  executor?: Partial<Pick<SyncExecutorDeps, 'attempts' | 'attemptDelayMs' | 'clientOptions'>>;
  clientCredentials: ClientCredentials;
}

/** Every control handler of app connections and variable group syncs, wired to this runner's stores. */
export function createAppConnectionRuntime(
  deps: AppConnectionRuntimeDeps,
): HandlerSet<(typeof APP_CONNECTION_REQUESTS)[keyof typeof APP_CONNECTION_REQUESTS] | (typeof SYNC_REQUESTS)[keyof typeof SYNC_REQUESTS]> {
  const oauth = createAppConnectionOAuth({
    db: deps.db,
    crypto: deps.crypto,
    credentials: deps.credentials,
    privateKey: deps.privateKey,
    allowInsecure: deps.allowInsecure,
    tokenOptions: deps.oauthTokenOptions,
  });
  const tokens = createAppConnectionTokens({
    credentials: deps.credentials,
    allowInsecure: deps.allowInsecure,
    oauth,
    clientCredentials: deps.clientCredentials,
  });
  const store = createSyncStore(deps.db, deps.crypto);
  const executor = createSyncExecutor({ store, tokens, endpoints: deps.endpoints, logger: deps.logger, ...deps.executor });
  return {
    ...createAppConnectionHandlers({
      privateKey: deps.privateKey,
      credentials: deps.credentials,
      tokens,
      oauth,
      endpoints: deps.endpoints,
      allowInsecure: deps.allowInsecure,
      clientCredentials: deps.clientCredentials,
    }),
    ...createSyncHandlers({ privateKey: deps.privateKey, store, executor }),
  };
}
