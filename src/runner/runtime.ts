import type { Logger } from '../logging/logger.ts';
import type { RunnerStore } from '../cli/planes.ts';
import type { AzureDevOpsEndpoints } from '../azure-devops/endpoints.ts';
import { createRunnerAgent } from './agent.ts';
import type { Handler, RunnerAgent } from './agent.ts';
import { createCredentialStore } from './credentials/store.ts';
import { createFieldCrypto } from './keys/field-crypto.ts';
import { createManagementClient } from './management-client.ts';
import { loadRegistration, loadRunnerKey, saveRegistration } from './identity.ts';
import type { RunnerRegistration } from './identity.ts';
import { createValidateIntegrationHandler } from './handlers/validate-integration.ts';
import { createPurgeCredentialsHandler } from './handlers/purge-credentials.ts';
import { createPurgeUserHandler } from './handlers/purge-user.ts';
import { PURGE_USER_CREDENTIALS } from '../control/people.ts';
import { createHostProbe } from './host-probe.ts';
import { createAppConnectionRuntime } from './app-connections/index.ts';
import { createAuthorizationHandlers } from './handlers/authorizations.ts';
import { createRepositoryHandlers } from './repositories/handlers.ts';
import { createIntegrationSource, createOidcConfigs, integrationConfigForRecord } from './oauth/integration-config.ts';
import type { IntegrationSource, OidcConfigs } from './oauth/integration-config.ts';
import { createOAuthFlow } from './oauth/flow.ts';
import { createTokenService } from './oauth/tokens.ts';
import type { TokenService, TokenServiceOptions } from './oauth/tokens.ts';
import type { CredentialStore } from './credentials/store.ts';
import { startEnvironments } from './environments/service.ts';
import type { EnvironmentServiceOptions, Environments } from './environments/service.ts';

export interface RunnerRuntimeOptions {
  dataDir: string;
  store: RunnerStore;
  logger: Logger;
  serverUrl?: string;
  exchangeToken?: string;
  allowInsecureHosts: boolean;
  endpoints: AzureDevOpsEndpoints;
  pollWaitSeconds?: number;
  onRevoked?: () => void;
  tokenOptions?: Partial<Omit<TokenServiceOptions, 'credentials' | 'integrations' | 'configFor'>>;
  /** The in-process runner of `keyway start`: its server is this process, whatever port it got. */
  local?: boolean;
  environmentOptions?: Partial<
    Pick<
      EnvironmentServiceOptions,
      'socketPath' | 'progressIntervalMs' | 'grantCacheMs' | 'stallTimeoutMs' | 'cloneTimeoutMs' | 'maxEnvironments' | 'maxClones' | 'idleTimeoutMs' | 'maintenanceIntervalMs' | 'workspacesDir' | 'isolation' | 'repositoryCache' | 'cacheHooks'
    >
  >;
}

export interface RunnerRuntime {
  registration: RunnerRegistration;
  agent: RunnerAgent;
  tokens: TokenService;
  credentials: CredentialStore;
  integrations: IntegrationSource;
  configFor: OidcConfigs;
  environments: Environments;
  stop(): Promise<void>;
}

export class RunnerRegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunnerRegistrationError';
  }
}

/**
 * Brings a runner up: its key pair (created locally on first run; only the public key leaves), its
 * registration (exchanged once, reused after restarts), and the control loop with its handlers.
 */
export async function startRunnerRuntime(options: RunnerRuntimeOptions): Promise<RunnerRuntime> {
  const { keyPair } = await loadRunnerKey(options.dataDir);
  let registration = await loadRegistration(options.dataDir);
  if (registration && options.local && options.serverUrl && normalize(options.serverUrl) !== registration.serverUrl) {
    registration = { ...registration, serverUrl: normalize(options.serverUrl) };
    await saveRegistration(options.dataDir, registration);
  } else if (registration && options.serverUrl && normalize(options.serverUrl) !== normalize(registration.serverUrl)) {
    throw new RunnerRegistrationError(`this data directory belongs to a runner registered with ${registration.serverUrl}; use another --data-dir for ${options.serverUrl}`);
  }
  if (!registration) {
    if (!options.serverUrl || !options.exchangeToken) {
      throw new RunnerRegistrationError('this runner is not registered yet: pass --server URL and --exchange-token T (an admin creates the token under Runners)');
    }
    const result = await createManagementClient(options.serverUrl).exchange(options.exchangeToken, keyPair.publicKey);
    registration = { serverUrl: normalize(options.serverUrl), ...result };
    await saveRegistration(options.dataDir, registration);
    options.logger.info({ runnerId: registration.runnerId, name: registration.name }, 'runner registered');
  }

  const client = createManagementClient(registration.serverUrl, registration.runnerToken);
  const self = await client.self();
  if (self.publicKey !== keyPair.publicKey) {
    // The key file was replaced (lost disk, deliberate rotation): secrets sealed to the old key are gone.
    const published = await client.publishPublicKey(keyPair.publicKey);
    options.logger.warn({ clearedSecrets: published.clearedSecrets }, published.message);
  }

  const crypto = createFieldCrypto(options.store.keys);
  const credentials = createCredentialStore(options.store.database.db, crypto);
  const integrations = createIntegrationSource((id) => client.integration(id));
  const configFor = createOidcConfigs({ privateKey: keyPair.privateKey, allowInsecure: options.allowInsecureHosts });
  const flow = createOAuthFlow({ db: options.store.database.db, crypto, credentials, configFor });
  const tokens = createTokenService({ credentials, configForRecord: integrationConfigForRecord(integrations, configFor), ...options.tokenOptions });
  const environments = await startEnvironments({
    dataDir: options.dataDir,
    db: options.store.database.db,
    getAccessToken: (userId, integrationId) => tokens.getAccessToken(userId, integrationId),
    rememberIntegration: (integration) => integrations.remember(integration),
    endpoints: options.endpoints,
    logger: options.logger,
    report: (environmentId, report) => client.environmentProgress(environmentId, report),
    reportCacheUsage: (usage) => client.repositoryCacheUsage(usage),
    ...options.environmentOptions,
  });
  const handlers: Record<string, Handler> = {
    ...environments.handlers,
    ...createAuthorizationHandlers({ privateKey: keyPair.privateKey, credentials, integrations, flow, tokens, endpoints: options.endpoints }),
    ping: async () => ({ pong: true }),
    'validate-integration': createValidateIntegrationHandler({
      privateKey: keyPair.privateKey,
      allowInsecure: options.allowInsecureHosts,
      probeHost: createHostProbe({ endpoints: options.endpoints }),
    }),
    'purge-credentials': createPurgeCredentialsHandler({ credentials }),
    [PURGE_USER_CREDENTIALS]: createPurgeUserHandler({ db: options.store.database.db, credentials, logger: options.logger }),
    ...createRepositoryHandlers({ tokens, credentials, integrations, endpoints: options.endpoints }),
    ...createAppConnectionRuntime({ privateKey: keyPair.privateKey, db: options.store.database.db, crypto, credentials, endpoints: options.endpoints, allowInsecure: options.allowInsecureHosts, logger: options.logger }),
  };
  const agent = createRunnerAgent({ client, handlers, logger: options.logger, waitSeconds: options.pollWaitSeconds, onRevoked: options.onRevoked });
  agent.start();
  return {
    registration,
    agent,
    tokens,
    credentials,
    integrations,
    configFor,
    environments,
    async stop() {
      await agent.stop();
      await environments.stop();
    },
  };
}

function normalize(url: string): string {
  return url.replace(/\/+$/, '');
}
