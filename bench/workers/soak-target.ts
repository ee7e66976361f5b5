// The soak's system under test, alone in its process: a management plane on real HTTP and a runner
// connected to it (control channel, credential socket), with a user whose cached token the
// credential socket serves. It samples its own memory (after a full GC) and open handles on the
// parent's request, so the load generator's own memory is not in the figures.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { workerFailed } from '../lib.ts';
import { startTestPlane, startTestRunner } from '../../test/support/plane.ts';
import { hashSecret } from '../../src/runner/environments/credential-server.ts';
import { createEnvironmentStore } from '../../src/runner/environments/store.ts';

try {
  const plane = await startTestPlane(process.env.KEYWAY_SOAK_DB === 'postgres' ? 'postgres' : 'sqlite');
  const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'soak' } });
  const runner = await startTestRunner(plane.url, created.json().exchangeToken);
  // A cached, valid token for the credential socket, and an environment whose helper asks for it.
  const integrationId = 'int_soak';
  await runner.runtime.credentials.insert({
    subject: { type: 'user', id: plane.member.id },
    integrationId,
    host: 'dev.azure.com',
    method: 'oauth',
    secret: JSON.stringify({ access_token: `eyJ0eXAi.${randomBytes(900).toString('base64url')}`, refresh_token: randomBytes(600).toString('base64url') }),
    metadata: { issuer: 'https://login.microsoftonline.com/t/v2.0', clientId: 'c', scopes: ['openid'], accessTokenExpiresAt: new Date(Date.now() + 7 * 24 * 3600_000).toISOString() },
  });
  const secret = randomBytes(32).toString('base64url');
  await createEnvironmentStore(runner.store.database.db).insert({
    id: 'env_soaktarget01',
    userId: plane.member.id,
    integrationId,
    repository: { kind: 'services', host: 'dev.azure.com', origin: 'https://dev.azure.com', organization: 'contoso', project: 'Web', repository: 'web-app' },
    remoteUrl: 'https://dev.azure.com/contoso/Web/_git/web-app',
    secretHash: hashSecret(secret),
    workspace: join(runner.dataDir, 'workspaces', 'env_soaktarget01'),
    status: 'ready',
    createdAt: new Date().toISOString(),
  });
  const apiToken = (await plane.memberBrowser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'soak' } })).json().token as string;

  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (raw) => {
    const message = raw as { type: string };
    if (message.type === 'sample') {
      gc?.();
      const m = process.memoryUsage();
      process.send?.({ type: 'sample', at: Date.now(), heapUsed: m.heapUsed, rss: m.rss, external: m.external, handles: process.getActiveResourcesInfo().length });
    }
  });
  process.on('SIGTERM', () => {
    void (async () => {
      await runner.stop();
      await plane.close();
      process.exit(0);
    })();
  });
  process.send?.({ type: 'ready', url: plane.url, socketPath: runner.runtime.environments.socketPath, secret, apiToken, runnerToken: runner.runtime.registration.runnerToken });
} catch (err) {
  workerFailed(err);
}
