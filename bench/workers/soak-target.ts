// The soak's system under test, alone in its process: a management plane on real HTTP and a runner
// connected to it (control channel, credential socket), with a user whose cached token the
// credential socket serves. Both log at info level as in production, to a stream that discards
// (the tests' in-memory log capture would itself grow). It samples its own memory after a full GC
// and its open handles on the parent's request, so the load generator's memory is not counted.
import { Writable } from 'node:stream';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { workerFailed } from '../lib.ts';
import { Browser, startTestManagement } from '../../test/support/management.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { loadConfig } from '../../src/config/config.ts';
import { openRunnerStore } from '../../src/runner/store.ts';
import { startRunnerRuntime } from '../../src/runner/runtime.ts';
import { resolveEndpoints } from '../../src/azure-devops/endpoints.ts';
import { createEnvironmentStore } from '../../src/runner/environments/store.ts';
import { cachedOAuthTokens, webAppEnvironment } from '../support/runner-fixture.ts';

const discard = () => new Writable({ write: (_chunk, _encoding, done) => done() });

try {
  const t = await startTestManagement(process.env.KEYWAY_SOAK_DB === 'postgres' ? 'postgres' : 'sqlite', {
    allowInsecureHosts: true,
    logger: createLogger('info', discard()),
  });
  const url = await t.app.listen({ port: 0, host: '127.0.0.1' });
  t.core.publicUrl = url;
  const admin = new Browser(t.app);
  await admin.signIn(t.admin.email, t.admin.password);
  const member = new Browser(t.app);
  await member.signIn(t.member.email, t.member.password);
  const created = await admin.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'soak' } });

  const dataDir = mkdtempSync(join(tmpdir(), 'keyway-soak-runner-'));
  const store = await openRunnerStore(loadConfig({ KEYWAY_DATA_DIR: dataDir, KEYWAY_ALLOW_INSECURE_HOSTS: 'true' }));
  const runtime = await startRunnerRuntime({
    dataDir,
    store,
    logger: createLogger('info', discard()),
    serverUrl: url,
    exchangeToken: created.json().exchangeToken,
    allowInsecureHosts: true,
    endpoints: resolveEndpoints({}),
  });

  // A cached, valid token for the credential socket, and an environment whose helper asks for it.
  const integrationId = 'int_soak';
  await runtime.credentials.insert({
    subject: { type: 'user', id: t.member.id },
    integrationId,
    host: 'dev.azure.com',
    ...cachedOAuthTokens(7 * 24 * 3600_000),
  });
  const secret = randomBytes(32).toString('base64url');
  await createEnvironmentStore(store.database.db).insert(
    webAppEnvironment('env_soaktarget01', { userId: t.member.id, integrationId }, secret, dataDir),
  );
  const apiToken = (await member.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'soak' } })).json().token as string;

  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (raw) => {
    const message = raw as { type: string };
    if (message.type === 'sample') {
      gc?.();
      const m = process.memoryUsage();
      process.send?.({
        type: 'sample',
        at: Date.now(),
        heapUsed: m.heapUsed,
        rss: m.rss,
        external: m.external,
        handles: process.getActiveResourcesInfo().length,
      });
    }
  });
  process.on('SIGTERM', () => {
    void (async () => {
      await runtime.stop();
      await store.database.close();
      await t.close();
      process.exit(0);
    })();
  });
  process.send?.({
    type: 'ready',
    url,
    socketPath: runtime.environments.socketPath,
    secret,
    apiToken,
    runnerToken: runtime.registration.runnerToken,
  });
} catch (err) {
  workerFailed(err);
}
