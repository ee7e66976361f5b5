import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from '../logging/logger.ts';
import type { ControlRequest } from '../control/protocol.ts';
import type { RunnerStore } from './store.ts';
import type { AzureDevOpsEndpoints } from '../azure-devops/endpoints.ts';
import { createRunnerAgent } from './agent.ts';
import type { ControlHandlers, RunnerAgent } from './agent.ts';
import { createCredentialStore } from './credentials/store.ts';
import { createFieldCrypto } from './keys/field-crypto.ts';
import { createManagementClient, ManagementApiError } from './management-client.ts';
import { createEventOutbox } from './events/outbox.ts';
import type { EventOutbox } from './events/outbox.ts';
import { purgeAfterRevocation } from './revocation.ts';
import { loadRegistration, loadRunnerKey, runnerPaths, saveRegistration } from './identity.ts';
import type { RunnerRegistration } from './identity.ts';
import { createValidateIntegrationHandler } from './handlers/validate-integration.ts';
import { createPurgeCredentialsHandler } from './handlers/purge-credentials.ts';
import { createResolveIssuerHandler } from './handlers/resolve-issuer.ts';
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
import { createSealedComparisonHandler } from './apply/compare.ts';
import { settingsDifferences } from '../control/runner-settings.ts';
import type { SharedSettings } from '../control/runner-settings.ts';
import { createSyncStore } from './syncs/store.ts';
import { createRunnerClientCredentials } from './client-credentials/index.ts';
import type { RunnerClientCredentialOptions } from './client-credentials/index.ts';
import { createClientCredentialHandlers } from './handlers/client-credentials.ts';

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
      | 'socketPath'
      | 'progressIntervalMs'
      | 'grantCacheMs'
      | 'stallTimeoutMs'
      | 'cloneTimeoutMs'
      | 'maxEnvironments'
      | 'maxClones'
      | 'idleTimeoutMs'
      | 'maintenanceIntervalMs'
      | 'workspacesDir'
      | 'isolation'
      | 'repositoryCache'
      | 'cacheHooks'
    >
  >;
  /** This runner's view of the settings it must share with the management plane; checked at start when given. */
  sharedSettings?: SharedSettings;
  /**
   * This process joins a runner identity that other replicas already use (same key, registration and
   * PostgreSQL store): it never registers, and never publishes a key of its own. Without it, a
   * process that finds another live replica of its runner refuses to start.
   */
  replica?: boolean;
  /** Sees each control request this process takes (tests: which replica handled what). */
  observeRequests?: (request: ControlRequest) => void;
  /** Credentials without a secret: the federated token file (AZURE_FEDERATED_TOKEN_FILE) and KEYWAY_IMDS_URL. */
  clientCredentials?: RunnerClientCredentialOptions;
}

export interface RunnerRuntime {
  registration: RunnerRegistration;
  /** This process among the runner's replicas: stable for a machine and data directory. */
  replicaId: string;
  agent: RunnerAgent;
  /** Events for the management plane's audit log. */
  events: EventOutbox;
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
    this.name = new.target.name;
  }
}

/** The management plane said this runner was revoked; what it held has been deleted. */
export class RunnerRevokedError extends RunnerRegistrationError {}

/**
 * Brings a runner up: its key pair (created locally on first run; only the public key leaves), its
 * registration (exchanged once, reused after restarts), and the control loop with its handlers.
 */
export async function startRunnerRuntime(options: RunnerRuntimeOptions): Promise<RunnerRuntime> {
  const { keyPair } = await loadRunnerKey(options.dataDir);
  let registration = await loadRegistration(options.dataDir);
  // The built-in runner follows its process's port; a replica may reach the management plane at another address than the first.
  if (registration && (options.local || options.replica) && options.serverUrl && normalize(options.serverUrl) !== registration.serverUrl) {
    registration = { ...registration, serverUrl: normalize(options.serverUrl) };
    await saveRegistration(options.dataDir, registration);
  } else if (registration && options.serverUrl && normalize(options.serverUrl) !== normalize(registration.serverUrl)) {
    throw new RunnerRegistrationError(
      `this data directory belongs to a runner registered with ${registration.serverUrl}; use another --data-dir for ${options.serverUrl}`,
    );
  }
  if (!registration && options.replica) {
    throw new RunnerRegistrationError(
      `a replica joins a registered runner, but ${runnerPaths(options.dataDir).registration} is missing: copy runner-key.json and runner-registration.json from the first replica's data directory into ${options.dataDir} (and use the same data keys: its encryption-keys file or KEYWAY_ENCRYPTION_KEYS)`,
    );
  }
  if (!registration) {
    if (!options.serverUrl || !options.exchangeToken) {
      throw new RunnerRegistrationError(
        'this runner is not registered yet: pass --server URL and --exchange-token T (an admin creates the token under Runners)',
      );
    }
    const result = await createManagementClient(options.serverUrl).exchange(options.exchangeToken, keyPair.publicKey);
    registration = { serverUrl: normalize(options.serverUrl), ...result };
    await saveRegistration(options.dataDir, registration);
    options.logger.info({ runnerId: registration.runnerId, name: registration.name }, 'runner registered');
  }

  const replicaId = replicaIdFor(options.dataDir);
  const client = createManagementClient(registration.serverUrl, registration.runnerToken, replicaId);
  const purge = () =>
    purgeAfterRevocation({
      db: options.store.database.db,
      report: (report) => client.reportRevocationPurge(report),
      logger: options.logger,
    });
  let self: Awaited<ReturnType<typeof client.self>>;
  try {
    self = await client.self();
  } catch (err) {
    if (err instanceof ManagementApiError && err.code === 'runner_revoked') {
      // Revoked while it was not running: what it holds goes before anything else happens.
      await purge();
      throw new RunnerRevokedError(
        'this runner was revoked: every credential it held was deleted; an admin creates a new runner (and exchange token) to continue',
      );
    }
    throw err;
  }
  if (options.replica && self.publicKey !== keyPair.publicKey) {
    throw new RunnerRegistrationError(
      `this replica's runner-key.json is not the key runner "${self.name}" uses: copy runner-key.json from the first replica (a replica never publishes a key of its own, which would make every sealed secret unreadable to the others)`,
    );
  }
  if (!options.replica && !options.local) {
    const others = (await client.replicas()).filter((r) => r.replicaId !== replicaId && r.live);
    if (others.length)
      throw new RunnerRegistrationError(
        `another replica of runner "${self.name}" is running (${others.map((r) => r.replicaId).join(', ')}): start this one with --replica to join it (shared PostgreSQL store, same keys), or stop the other first`,
      );
  }
  if (options.sharedSettings) {
    const theirs = await client.settings();
    const differences = theirs ? settingsDifferences(theirs, options.sharedSettings) : [];
    if (differences.length)
      throw new RunnerRegistrationError(
        `this runner and the management plane must use the same settings: ${differences.join('; ')}. Set the same value on both and start again`,
      );
  }
  if (self.publicKey !== keyPair.publicKey) {
    // The key file was replaced (lost disk, deliberate rotation): secrets sealed to the old key are gone.
    const published = await client.publishPublicKey(keyPair.publicKey);
    options.logger.warn({ clearedSecrets: published.clearedSecrets }, published.message);
  }

  const crypto = createFieldCrypto(options.store.keys);
  const credentials = createCredentialStore(options.store.database.db, crypto);
  const events = createEventOutbox({ db: options.store.database.db, send: (batch) => client.sendEvents(batch), logger: options.logger });
  events.start();
  const integrations = createIntegrationSource((id) => client.integration(id));
  const clientCredentials = createRunnerClientCredentials({ db: options.store.database.db, crypto, events, ...options.clientCredentials });
  const configFor = createOidcConfigs({
    privateKey: keyPair.privateKey,
    allowInsecure: options.allowInsecureHosts,
    credentials: clientCredentials,
  });
  const flow = createOAuthFlow({ db: options.store.database.db, crypto, credentials, configFor });
  const tokens = createTokenService({
    credentials,
    configForRecord: integrationConfigForRecord(integrations, configFor),
    events,
    ...options.tokenOptions,
  });
  const environments = await startEnvironments({
    dataDir: options.dataDir,
    db: options.store.database.db,
    getAccessToken: (userId, integrationId) => tokens.getAccessToken(userId, integrationId),
    tokenRejected: (token, via) => tokens.rejected(token, via),
    rememberIntegration: (integration) => integrations.remember(integration),
    endpoints: options.endpoints,
    logger: options.logger,
    report: (environmentId, report) => client.environmentProgress(environmentId, report),
    reportCacheUsage: (usage) => client.repositoryCacheUsage(usage),
    ...options.environmentOptions,
  });
  // Every kind of the registry, or this does not compile (src/control/registry.ts).
  const handlers: ControlHandlers = {
    ...environments.handlers,
    ...createAuthorizationHandlers({
      privateKey: keyPair.privateKey,
      credentials,
      integrations,
      flow,
      tokens,
      endpoints: options.endpoints,
    }),
    ping: async () => ({ pong: true }),
    'validate-integration': createValidateIntegrationHandler({
      countCredentials: (integrationId) => credentials.countForIntegration(integrationId),
      privateKey: keyPair.privateKey,
      allowInsecure: options.allowInsecureHosts,
      probeHost: createHostProbe({ endpoints: options.endpoints }),
      credentials: clientCredentials,
    }),
    'purge-credentials': createPurgeCredentialsHandler({ credentials, certificates: clientCredentials.certificates, events }),
    ...createClientCredentialHandlers({ credentials: clientCredentials }),
    'resolve-issuer': createResolveIssuerHandler({ allowInsecure: options.allowInsecureHosts }),
    [PURGE_USER_CREDENTIALS]: createPurgeUserHandler({ db: options.store.database.db, credentials, logger: options.logger, events }),
    ...createRepositoryHandlers({ tokens, credentials, integrations, endpoints: options.endpoints }),
    ...createAppConnectionRuntime({
      privateKey: keyPair.privateKey,
      db: options.store.database.db,
      crypto,
      credentials,
      endpoints: options.endpoints,
      allowInsecure: options.allowInsecureHosts,
      logger: options.logger,
      clientCredentials,
    }),
    ...createSealedComparisonHandler({
      privateKey: keyPair.privateKey,
      credentials,
      syncs: createSyncStore(options.store.database.db, crypto),
    }),
  };
  const agent = createRunnerAgent({
    client,
    handlers,
    logger: options.logger,
    waitSeconds: options.pollWaitSeconds,
    observe: options.observeRequests,
    onRevoked: (revoked) => {
      // Told it was revoked: delete everything held, then stop (the caller's hook ends the process).
      void (revoked ? purge() : Promise.resolve())
        .catch((err: unknown) =>
          options.logger.error(
            { err: { message: (err as Error).message } },
            'the purge after revocation failed; it runs again at the next start',
          ),
        )
        .finally(() => options.onRevoked?.());
    },
  });
  agent.start();
  let stopping: Promise<void> | undefined;
  return {
    registration,
    replicaId,
    agent,
    events,
    tokens,
    credentials,
    integrations,
    configFor,
    environments,
    // Once: a signal and a shutdown path may both ask, and closed clients refuse a second close.
    stop() {
      stopping ??= (async () => {
        await agent.stop();
        await environments.stop();
        await events.stop();
        await clientCredentials.close();
      })();
      return stopping;
    },
  };
}

/** The replica id of a data directory on this machine (the same machine and directory the environments' workspaces live in). */
export function replicaIdFor(dataDir: string): string {
  return `rep_${createHash('sha256')
    .update(`${hostname()}:${resolve(dataDir)}`)
    .digest('base64url')
    .slice(0, 22)}`;
}

function normalize(url: string): string {
  return url.replace(/\/+$/, '');
}
