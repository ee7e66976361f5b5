// The runner's credential path as `startRunnerRuntime` wires it — environments service, credential
// socket, token service over the runner store — without a management plane, plus one user with a
// valid cached OAuth token and one environment whose helper secret is known. Used by benchmark 1
// (in a worker process) and by the soak.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { resolveEndpoints } from '../../src/azure-devops/endpoints.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { startEnvironments } from '../../src/runner/environments/service.ts';
import { createEnvironmentStore } from '../../src/runner/environments/store.ts';
import { cachedOAuthTokens, openRunnerPieces, randomEncryptionKeys, servicesIntegration, webAppEnvironment } from './runner-fixture.ts';
import type { RunnerPieces } from './runner-fixture.ts';

export const HOT_PATH_REQUEST = 'protocol=https\nhost=dev.azure.com\npath=contoso/Web/_git/web-app\n\n';

export interface CredentialRunner {
  socketPath: string;
  /** The environment helper's secret: send as `Authorization: Bearer <secret>`. */
  secret: string;
  pieces: RunnerPieces;
  close(): Promise<void>;
}

/** `storeUrl`: `sqlite` (the embedded default, a temp file) or a `postgres://` URL (a fresh schema). */
export async function startCredentialRunner(storeUrl: 'sqlite' | string = 'sqlite'): Promise<CredentialRunner> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kw-cr-'));
  const integration = servicesIntegration('int_hot');
  const schema = storeUrl.startsWith('postgres') ? `bench_hot_${randomBytes(4).toString('hex')}` : undefined;
  const pieces = await openRunnerPieces({
    storeUrl: storeUrl === 'sqlite' ? `sqlite:${join(dataDir, 'runner.db')}` : storeUrl,
    ...(schema ? { schema } : {}),
    encryptionKeys: randomEncryptionKeys(),
    privateKey: '',
    integration,
  });
  const userId = 'user_hot';
  // A valid, cached Entra token set.
  await pieces.credentials.insert({
    subject: { type: 'user', id: userId },
    integrationId: integration.id,
    host: integration.host,
    ...cachedOAuthTokens(24 * 3600_000),
  });
  const tokens = pieces.tokens();
  const logger = createLogger('silent');
  const endpoints = resolveEndpoints({});
  const environments = await startEnvironments({
    dataDir,
    db: pieces.store.database.db,
    getAccessToken: (u, i) => tokens.getAccessToken(u, i),
    rememberIntegration: () => undefined,
    endpoints,
    logger,
    report: async () => undefined,
  });
  const secret = randomBytes(32).toString('base64url');
  await createEnvironmentStore(pieces.store.database.db).insert(
    webAppEnvironment('env_benchhotpath', { userId, integrationId: integration.id }, secret, dataDir),
  );
  return {
    socketPath: environments.socketPath,
    secret,
    pieces,
    async close() {
      await environments.stop();
      if (schema) await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(pieces.store.database.db).catch(() => undefined);
      await pieces.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
