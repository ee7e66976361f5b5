import type { Kysely } from 'kysely';
import type { AzureDevOpsEndpoints } from '../../azure-devops/endpoints.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Handler } from '../agent.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';
import { createSyncExecutor } from '../syncs/executor.ts';
import type { SyncExecutorDeps } from '../syncs/executor.ts';
import { createSyncHandlers } from '../syncs/handlers.ts';
import { createSyncStore } from '../syncs/store.ts';
import { createAppConnectionHandlers } from './handlers.ts';
import { createAppConnectionTokens } from './tokens.ts';

export interface AppConnectionRuntimeDeps {
  privateKey: string;
  db: Kysely<RunnerDB>;
  crypto: FieldCrypto;
  credentials: CredentialStore;
  endpoints: AzureDevOpsEndpoints;
  allowInsecure: boolean;
  logger?: Logger;
  /** Tests: faster retries. */
  executor?: Partial<Pick<SyncExecutorDeps, 'attempts' | 'attemptDelayMs' | 'clientOptions'>>;
}

/** Every control handler of app connections and variable group syncs, wired to this runner's stores. */
export function createAppConnectionRuntime(deps: AppConnectionRuntimeDeps): Record<string, Handler> {
  const tokens = createAppConnectionTokens({ credentials: deps.credentials, allowInsecure: deps.allowInsecure });
  const store = createSyncStore(deps.db, deps.crypto);
  const executor = createSyncExecutor({ store, tokens, endpoints: deps.endpoints, logger: deps.logger, ...deps.executor });
  return {
    ...createAppConnectionHandlers({ privateKey: deps.privateKey, credentials: deps.credentials, tokens, endpoints: deps.endpoints, allowInsecure: deps.allowInsecure }),
    ...createSyncHandlers({ privateKey: deps.privateKey, store, executor }),
  };
}
