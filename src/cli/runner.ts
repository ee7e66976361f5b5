import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../config/config.ts';
import { ConfigError } from '../config/config.ts';
import type { KeywayConfig } from '../config/config.ts';
import { createLogger } from '../logging/logger.ts';
import { environmentOptionsFromConfig } from '../runner/environments/options.ts';
import { loadRegistration, runnerPaths } from '../runner/identity.ts';
import { RunnerRegistrationError, startRunnerRuntime } from '../runner/runtime.ts';
import { endpointsFromConfig } from './endpoints.ts';
import { ensureDataDir } from './planes.ts';
import { openRunnerStore } from '../runner/store.ts';
import { onShutdown } from './shutdown.ts';
import { serveRunnerMetrics } from '../telemetry/runner-metrics.ts';

/**
 * Where `keyway runner` keeps its key, registration and store unless told otherwise: a directory of
 * its own per user, never `keyway start`'s ./.keyway-data, so a runner started in a folder where
 * Keyway also ran does not take over that instance's built-in runner.
 */
export function defaultRunnerDataDir(env: Record<string, string | undefined> = process.env): string {
  const base = env.XDG_DATA_HOME?.trim() || join(homedir(), '.local', 'share');
  return join(base, 'keyway', 'runner');
}

/** The data directory: --data-dir, else KEYWAY_DATA_DIR (environment or config file), else the runner's own default. */
export function runnerDataDir(option: string | undefined, env: Record<string, string | undefined> = process.env): string {
  if (option) return resolve(option);
  const configured = loadConfig(env).dataDir;
  return configured === resolve('.keyway-data') ? defaultRunnerDataDir(env) : configured;
}

/**
 * A data directory that already holds a registration refuses a new exchange token instead of
 * ignoring it: the new runner would stay Pending while the old one connected.
 */
export async function checkNoConflictingRegistration(dataDir: string, exchangeToken: string | undefined): Promise<void> {
  if (!exchangeToken) return;
  const existing = await loadRegistration(dataDir);
  if (!existing) return;
  throw new RunnerRegistrationError(
    `${dataDir} already holds runner "${existing.name}" (${existing.runnerId}) registered with ${existing.serverUrl}, so the exchange token was not used. ` +
      `To start that runner, run keyway runner without --exchange-token. To register another runner on this machine, give it its own directory: ` +
      `keyway runner --data-dir DIR --server URL --exchange-token T. To replace the old runner, revoke it under Runners, delete ${runnerPaths(dataDir).registration} and run this command again.`,
  );
}

/** Replicas share one credential store, so it must be PostgreSQL; an exchange token has no place in joining. */
export function checkReplicaStore(config: KeywayConfig): void {
  if (!config.runnerDatabaseUrl?.startsWith('postgres')) {
    throw new ConfigError(
      'KEYWAY_RUNNER_DATABASE_URL',
      "must be the postgres:// URL the runner's other replicas use: replicas share one credential store (see High availability in the README)",
    );
  }
}

export function sharedSettingsOf(config: KeywayConfig) {
  return {
    azureDevOpsServicesUrl: config.azureDevOpsServicesUrl,
    azureDevOpsVsspsUrl: config.azureDevOpsVsspsUrl,
    allowInsecureHosts: config.allowInsecureHosts,
  };
}

/** `keyway runner`: a runner process that connects out to a management plane. */
export async function runRunner(options: {
  server?: string;
  exchangeToken?: string;
  dataDir?: string;
  replica?: boolean;
  metricsPort?: number;
}): Promise<void> {
  const config = loadConfig(process.env, { dataDir: runnerDataDir(options.dataDir) });
  const logger = createLogger(config.logLevel);
  ensureDataDir(config.dataDir);
  await checkNoConflictingRegistration(config.dataDir, options.exchangeToken);
  if (options.replica) {
    if (options.exchangeToken)
      throw new ConfigError(
        '--exchange-token',
        "a replica joins a registered runner and takes no exchange token: copy the first replica's runner-key.json and runner-registration.json instead",
      );
    checkReplicaStore(config);
  }
  const store = await openRunnerStore(config);
  let runtime;
  try {
    runtime = await startRunnerRuntime({
      dataDir: config.dataDir,
      store,
      logger,
      serverUrl: options.server,
      exchangeToken: options.exchangeToken,
      allowInsecureHosts: config.allowInsecureHosts,
      endpoints: endpointsFromConfig(config),
      sharedSettings: sharedSettingsOf(config),
      replica: options.replica === true,
      environmentOptions: environmentOptionsFromConfig(config.environments),
      clientCredentials: { imdsUrl: config.imdsUrl },
      onRevoked: () => process.kill(process.pid, 'SIGTERM'),
    });
  } catch (err) {
    await store.database.close();
    throw err;
  }
  process.stdout.write(
    `runner "${runtime.registration.name}" (${runtime.registration.runnerId}) connected to ${runtime.registration.serverUrl}\nData directory: ${config.dataDir}\n`,
  );
  const metrics = options.metricsPort !== undefined ? await serveRunnerMetrics(options.metricsPort, config.host) : undefined;
  if (metrics) process.stdout.write(`Metrics: ${metrics.url}\n`);
  onShutdown(logger, async () => {
    metrics?.server.close();
    await runtime.stop();
    await store.database.close();
  });
}
