// Environments on a bench runner: what startEnvironments needs to serve the seeded emulator's users
// from a runner store, and the request that creates one environment. Only types come from the
// environments service here, so a benchmark that loads the service itself (bench/02 reports a
// service that does not load) still can.
import { join } from 'node:path';
import type { SeededWorld } from '../../emulator/test-support.ts';
import { resolveEndpoints } from '../../src/azure-devops/endpoints.ts';
import type { EnvironmentCreatePayload } from '../../src/control/environments.ts';
import type { RunnerIntegration } from '../../src/control/integration.ts';
import { createLogger } from '../../src/logging/logger.ts';
import type { EnvironmentServiceOptions } from '../../src/runner/environments/service.ts';
import type { RunnerPieces } from './runner-fixture.ts';

/** The options of a runner whose data is under `dir` and whose tokens are `pieces`', against `s`'s emulator. */
export function environmentOptions(
  pieces: RunnerPieces,
  dir: string,
  s: SeededWorld,
): Pick<EnvironmentServiceOptions, 'dataDir' | 'db' | 'getAccessToken' | 'rememberIntegration' | 'endpoints' | 'logger'> {
  const tokens = pieces.tokens();
  return {
    dataDir: join(dir, 'runner'),
    db: pieces.store.database.db,
    getAccessToken: (u, i) => tokens.getAccessToken(u, i),
    rememberIntegration: () => undefined,
    endpoints: resolveEndpoints({ services: s.emu.urls.services, vssps: s.emu.urls.vssps }),
    logger: createLogger('silent'),
  };
}

/** An environment of `s`'s repository `repository` on dev.azure.com for `userId`. */
export function environmentCreate(
  environmentId: string,
  userId: string,
  integration: RunnerIntegration,
  s: SeededWorld,
  repository: string,
): EnvironmentCreatePayload {
  return {
    environmentId,
    userId,
    integration,
    repository: {
      kind: 'services',
      host: 'dev.azure.com',
      origin: 'https://dev.azure.com',
      organization: s.org,
      project: s.project,
      repository,
    },
  };
}
