import { loadConfig } from '../config/config.ts';
import { createLogger } from '../logging/logger.ts';
import { startRunnerRuntime } from '../runner/runtime.ts';
import { environmentOptionsFromConfig } from '../runner/environments/options.ts';
import { endpointsFromConfig } from './endpoints.ts';
import { ensureDataDir, openRunnerStore } from './planes.ts';
import { onShutdown } from './shutdown.ts';

/** `keyway runner`: a runner process that connects out to a management plane. */
export async function runRunner(options: { server?: string; exchangeToken?: string; dataDir?: string }): Promise<void> {
  const config = loadConfig(process.env, { dataDir: options.dataDir });
  const logger = createLogger(config.logLevel);
  ensureDataDir(config.dataDir);
  const store = await openRunnerStore(config);
  const runtime = await startRunnerRuntime({
    dataDir: config.dataDir,
    store,
    logger,
    serverUrl: options.server,
    exchangeToken: options.exchangeToken,
    allowInsecureHosts: config.allowInsecureHosts,
    endpoints: endpointsFromConfig(config),
    environmentOptions: environmentOptionsFromConfig(config.environments),
    onRevoked: () => process.kill(process.pid, 'SIGTERM'),
  });
  process.stdout.write(`runner "${runtime.registration.name}" (${runtime.registration.runnerId}) connected to ${runtime.registration.serverUrl}\n`);
  onShutdown(logger, async () => {
    await runtime.stop();
    await store.database.close();
  });
}
