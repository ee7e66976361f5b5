import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseKind } from '../../src/db/database.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { loadConfig } from '../../src/config/config.ts';
import { openRunnerStore } from '../../src/runner/store.ts';
import type { RunnerStore } from '../../src/runner/store.ts';
import { startRunnerRuntime } from '../../src/runner/runtime.ts';
import type { RunnerRuntime, RunnerRuntimeOptions } from '../../src/runner/runtime.ts';
import { resolveEndpoints } from '../../src/azure-devops/endpoints.ts';
import type { AzureDevOpsEndpoints } from '../../src/azure-devops/endpoints.ts';
import type { ManagementAppOptions } from '../../src/management/app.ts';
import { Browser, LogCapture, startTestManagement } from './management.ts';
import type { TestManagement } from './management.ts';

/** A management plane listening on real HTTP, with a signed-in admin and member. */
export interface TestPlane extends TestManagement {
  url: string;
  adminBrowser: Browser;
  memberBrowser: Browser;
}

export async function startTestPlane(kind: DatabaseKind, extra: Partial<ManagementAppOptions> = {}): Promise<TestPlane> {
  const t = await startTestManagement(kind, { allowInsecureHosts: true, controlPollIntervalMs: 50, ...extra });
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  t.core.publicUrl = address;
  const adminBrowser = new Browser(t.app);
  await adminBrowser.signIn(t.admin.email, t.admin.password);
  const memberBrowser = new Browser(t.app);
  await memberBrowser.signIn(t.member.email, t.member.password);
  return { ...t, url: address, adminBrowser, memberBrowser };
}

export interface TestRunner {
  dataDir: string;
  store: RunnerStore;
  runtime: RunnerRuntime;
  logs: LogCapture;
  revoked: boolean;
  stop(): Promise<void>;
}

/** Starts a runner process-equivalent in this process, with its own data dir and SQLite store. */
export async function startTestRunner(
  serverUrl: string,
  exchangeToken: string | undefined,
  options: {
    dataDir?: string;
    endpoints?: Partial<AzureDevOpsEndpoints>;
    extra?: Partial<RunnerRuntimeOptions>;
    store?: { url: string; schema?: string };
  } = {},
): Promise<TestRunner> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'keyway-runner-'));
  const config = loadConfig({ KEYWAY_DATA_DIR: dataDir, KEYWAY_ALLOW_INSECURE_HOSTS: 'true' });
  const store = options.store
    ? await openRunnerStore(config, options.store.url, { schema: options.store.schema })
    : await openRunnerStore(config);
  const logs = new LogCapture();
  const state = { revoked: false };
  const runtime = await startRunnerRuntime({
    dataDir,
    store,
    logger: createLogger('debug', logs),
    serverUrl,
    exchangeToken,
    allowInsecureHosts: true,
    // The emulator's Server collections are on 127.0.0.1, as KEYWAY_ALLOW_INSECURE_HOSTS permits.
    endpoints: resolveEndpoints({ allowInsecureServerHosts: true, ...options.endpoints }),
    pollWaitSeconds: 2,
    onRevoked: () => {
      state.revoked = true;
    },
    ...options.extra,
  });
  return {
    dataDir,
    store,
    runtime,
    logs,
    get revoked() {
      return state.revoked;
    },
    async stop() {
      await runtime.stop();
      await store.database.close();
    },
  };
}

/**
 * A plane that signs in with Entra ID at the emulator, and one runner the admin created on it
 * (`name`), reaching the emulator's Azure DevOps. `plane` and `runner` add to that or override it.
 */
export async function startPlaneWithRunner(
  kind: DatabaseKind,
  emu: { urls: { login: string; services: string; vssps: string } },
  options: { name: string; plane?: Partial<ManagementAppOptions>; runner?: Parameters<typeof startTestRunner>[2] },
): Promise<{ plane: TestPlane; runner: TestRunner; runnerId: string }> {
  const plane = await startTestPlane(kind, { entraAuthorityUrl: emu.urls.login, ...options.plane });
  const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: options.name } });
  assert.equal(created.statusCode, 201, created.body);
  const runner = await startTestRunner(plane.url, created.json().exchangeToken, {
    endpoints: { services: emu.urls.services, vssps: emu.urls.vssps },
    ...options.runner,
  });
  return { plane, runner, runnerId: created.json().runner.id as string };
}

/** The runner's own call (its bearer token, not a session) publishing a new public key, as after a key rotation. */
export function publishRunnerKey(plane: Pick<TestManagement, 'app'>, runner: TestRunner, publicKey: string) {
  return plane.app.inject({
    method: 'PUT',
    url: '/api/v1/runner/public-key',
    headers: { authorization: `Bearer ${runner.runtime.registration.runnerToken}` },
    payload: { publicKey },
  });
}

/** Waits for an environment's clone to settle (ready or failed) and returns the environment as `browser` reads it. */
export function settledEnvironment(browser: Browser, id: string, what: string) {
  return eventually(
    async () => {
      const got = (await browser.request({ method: 'GET', url: `/api/v1/environments/${id}` })).json();
      return got.status === 'cloning' ? undefined : got;
    },
    what,
    30_000,
  );
}

export async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
