import { loadConfig } from '../config/config.ts';
import { createLogger } from '../logging/logger.ts';
import { buildManagementPlane, ensureDataDir, openManagementDatabase, managementDatabaseUrl } from './planes.ts';
import { openRunnerStore } from '../runner/store.ts';
import { onShutdown } from './shutdown.ts';
import { endpointsFromConfig } from './endpoints.ts';
import { rm } from 'node:fs/promises';
import { loadRegistration, runnerPaths } from '../runner/identity.ts';
import { ManagementApiError } from '../runner/management-client.ts';
import { RunnerRevokedError, startRunnerRuntime } from '../runner/runtime.ts';
import { environmentOptionsFromConfig } from '../runner/environments/options.ts';
import { configureDemo, startDemoEmulator, writeDemoDetails } from './demo.ts';
import { PUBLIC_URL_SETTING } from './admin.ts';

export interface StartOptions {
  port?: number;
  dataDir?: string;
  host?: string;
  demo?: boolean;
  /** --demo: the emulator's first port (it takes four); default random. */
  emulatorPort?: number;
}

/** `keyway start`: both planes in one process on SQLite under the data directory. */
export async function runStart(options: StartOptions): Promise<void> {
  let config = loadConfig(process.env, {
    port: options.port,
    dataDir: options.dataDir ? resolvePath(options.dataDir) : undefined,
    host: options.host,
  });
  const logger = createLogger(config.logLevel);
  ensureDataDir(config.dataDir);
  const demo = options.demo ? await startDemoEmulator({ port: options.emulatorPort, dataDir: config.dataDir }) : undefined;
  if (demo) config = { ...config, ...demo.overrides };

  const management = await openManagementDatabase(managementDatabaseUrl(config));
  const runnerStore = await openRunnerStore(config);
  if (runnerStore.keys.created) {
    logger.warn(
      { keyFile: runnerStore.keys.file },
      'created a new encryption key file; back it up: without it stored credentials cannot be read',
    );
  }

  // The public URL is only known for certain once the port is bound (port 0 picks one).
  let publicUrl = config.publicUrl ?? '';
  const { app, core } = await buildManagementPlane(config, logger, management, publicUrl || 'http://localhost');
  const address = await app.listen({ port: config.port, host: config.host });
  if (!publicUrl) {
    const port = new URL(address).port;
    publicUrl = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`;
    core.publicUrl = publicUrl;
  }

  await core.identity.bootstrap({ organizationName: 'Default', adminEmail: 'admin@keyway.local' });
  // `keyway admin link` prints links with the URL this instance was last reachable at.
  await core.identity.store.setSetting(PUBLIC_URL_SETTING, publicUrl, new Date().toISOString());
  const admin = await core.identity.bootstrapAdmin();

  // The local runner talks to this process over the same HTTP control channel as any remote runner.
  const localUrl = `http://127.0.0.1:${new URL(address).port}`;
  let exchangeToken: string | undefined;
  if (!(await loadRegistration(config.dataDir)) && admin) {
    exchangeToken = (await core.runners.create({ organizationId: admin.organizationId, name: 'local', createdBy: null, local: true }))
      .exchangeToken;
  }
  const startLocalRunner = (token: string | undefined) =>
    startRunnerRuntime({
      dataDir: config.dataDir,
      store: runnerStore,
      logger: logger.child({ plane: 'runner' }),
      serverUrl: localUrl,
      exchangeToken: token,
      local: true,
      allowInsecureHosts: config.allowInsecureHosts,
      endpoints: endpointsFromConfig(config),
      environmentOptions: environmentOptionsFromConfig(config.environments),
      clientCredentials: { imdsUrl: config.imdsUrl },
      onRevoked: () => logger.error('the built-in runner "local" was revoked: restart keyway start to register a new one'),
    });
  const notices: string[] = [];
  let runner;
  try {
    runner = await startLocalRunner(exchangeToken);
  } catch (err) {
    // An admin revoked the built-in runner: register a new one in its place rather than serve
    // without a runner. Its repository access has to be configured again.
    const revoked = err instanceof RunnerRevokedError || (err instanceof ManagementApiError && err.status === 401);
    if (!(revoked && admin)) throw err;
    await rm(runnerPaths(config.dataDir).registration, { force: true });
    const replacement = await core.runners.create({ organizationId: admin.organizationId, name: 'local', createdBy: null, local: true });
    runner = await startLocalRunner(replacement.exchangeToken);
    notices.push(
      `The built-in runner "local" had been revoked: registered a new local runner (${runner.registration.runnerId}). Configure its repository access again under Runners → local.`,
    );
    logger.warn({ runnerId: runner.registration.runnerId }, 'the built-in runner had been revoked; registered a new local runner');
  }
  const lines = [`Keyway ${'is running at'} ${publicUrl}`, `Data directory: ${config.dataDir}`, ...notices];
  if (admin) {
    const link = await core.identity.createSignInLink(admin.userId, admin.organizationId);
    lines.push(
      `Sign in as the admin (one-time link, valid ${link.expiresInMinutes} minutes; \`keyway admin link\` prints another):`,
      `  ${publicUrl}/sign-in/link#token=${link.token}`,
    );
    if (demo) {
      lines.push(...(await configureDemo(core, demo.emulator, admin, config.dataDir)));
      const details = await writeDemoDetails(config.dataDir, demo.emulator, demo.servicePrincipal);
      lines.push('', ...details.lines, `  (also in ${details.file})`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);

  onShutdown(logger, async () => {
    await runner.stop();
    await app.close();
    await runnerStore.database.close();
    await management.close();
    await demo?.emulator.close();
  });
}

function resolvePath(p: string): string {
  return p.startsWith('/') ? p : `${process.cwd()}/${p}`;
}
