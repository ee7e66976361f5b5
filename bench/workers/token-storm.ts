// One runner replica for the refresh storm (bench 3): opens the shared runner store, warms up, and
// on "go" fires `count` concurrent requests for the same user's token at the agreed instant.
import { createHash } from 'node:crypto';
import { nowMs, workerFailed } from '../lib.ts';
import { createAzureDevOpsClient } from '../../src/azure-devops/client.ts';
import { openRunnerPieces } from '../support/runner-fixture.ts';
import type { RunnerFixtureConfig } from '../support/runner-fixture.ts';

interface Go {
  type: 'go';
  /** Epoch milliseconds at which every replica fires. */
  at: number;
  userId: string;
  count: number;
  /**
   * With `rest`, each request also calls Azure DevOps (connectionData of `organization` on the
   * emulator at `servicesUrl`) with the token, and a refused token is refreshed early once and
   * retried, as the runner's handlers do.
   */
  rest?: { servicesUrl: string; organization: string };
}

try {
  const config = JSON.parse(process.env.KEYWAY_BENCH_FIXTURE ?? '') as RunnerFixtureConfig;
  const owner = process.env.KEYWAY_BENCH_OWNER ?? `replica-${process.pid}`;
  const pieces = await openRunnerPieces(config);
  // A running runner has its pool open and the issuer discovered; so does this one before "go".
  await Promise.all(Array.from({ length: 10 }, () => pieces.credentials.get('warm-up')));
  await pieces.configFor(config.integration);
  const tokens = pieces.tokens({ owner });

  process.on('message', (raw) => {
    const go = raw as Go;
    if (go.type !== 'go') return;
    setTimeout(
      async () => {
        try {
          const latencies: number[] = [];
          const errors: string[] = [];
          const values = new Set<string>();
          await Promise.all(
            Array.from({ length: go.count }, async () => {
              const start = nowMs();
              try {
                let token = await tokens.getAccessToken(go.userId, config.integration.id);
                if (go.rest) {
                  const client = createAzureDevOpsClient({
                    target: { kind: 'services', organization: go.rest.organization },
                    endpoints: { services: go.rest.servicesUrl },
                    credential: { kind: token.kind, token: token.token },
                    maxRetries: 0,
                    refreshCredential: async () => {
                      const fresh = await tokens.rejected(token, 'rest');
                      if (fresh) token = fresh;
                      return fresh && { kind: fresh.kind, token: fresh.token };
                    },
                  });
                  await client.connectionData();
                }
                // A digest, not the token: nothing secret crosses the IPC channel.
                values.add(createHash('sha256').update(token.token).digest('hex').slice(0, 16));
              } catch (err) {
                errors.push((err as { code?: string }).code ?? (err as Error).message);
              }
              latencies.push(nowMs() - start);
            }),
          );
          process.send?.({ type: 'done', latencies, errors, distinctTokens: [...values] });
        } catch (err) {
          workerFailed(err);
        }
      },
      Math.max(0, go.at - Date.now()),
    );
  });
  process.on('SIGTERM', () => void pieces.close().finally(() => process.exit(0)));
  process.send?.({ type: 'ready' });
} catch (err) {
  workerFailed(err);
}
