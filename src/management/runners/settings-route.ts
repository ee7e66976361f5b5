import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../../http/errors.ts';
import { RUNNER_REPLICAS_PATH, RUNNER_SETTINGS_PATH } from '../../control/runner-settings.ts';
import { ONLINE_WINDOW_MS } from '../../control/protocol.ts';
import { asRunner } from '../identity/principal.ts';
import type { ControlChannel } from './control.ts';
import type { SharedSettings } from '../../control/runner-settings.ts';

/** What a runner asks about the plane it talks to: the settings they must share, and its own replicas. */
export async function runnerSettingsRoutes(
  app: FastifyInstance,
  deps: { settings: () => Partial<SharedSettings>; control: Pick<ControlChannel, 'replicas'> },
): Promise<void> {
  // A runner's replicas, so a process started without --replica can see it would be a second one.
  app.get(
    RUNNER_REPLICAS_PATH,
    {
      config: { auth: 'runner' },
      schema: {
        tags: ['runner protocol'],
        summary: "The calling runner's replicas and whether each polled recently",
        response: {
          200: Type.Object({
            replicas: Type.Array(Type.Object({ replicaId: Type.String(), lastSeenAt: Type.String(), live: Type.Boolean() })),
          }),
          ...errorResponses(401),
        },
      },
    },
    async (request) => {
      const runner = asRunner(request);
      const rows = await deps.control.replicas(runner.runnerId);
      return {
        replicas: rows.map((r) => ({
          replicaId: r.replica_id,
          lastSeenAt: r.last_seen_at,
          live: Date.now() - Date.parse(r.last_seen_at) <= ONLINE_WINDOW_MS,
        })),
      };
    },
  );

  // Runners compare these with their own at start and refuse to run on a mismatch, naming the variable.
  app.get(
    RUNNER_SETTINGS_PATH,
    {
      config: { auth: 'runner' },
      schema: {
        tags: ['runner protocol'],
        summary: 'Settings runners must share with the management plane (Azure DevOps endpoints, insecure hosts)',
        response: {
          200: Type.Object({
            azureDevOpsServicesUrl: Type.Optional(Type.String()),
            azureDevOpsVsspsUrl: Type.Optional(Type.String()),
            allowInsecureHosts: Type.Optional(Type.Boolean()),
          }),
          ...errorResponses(401),
        },
      },
    },
    async () => deps.settings(),
  );
}
