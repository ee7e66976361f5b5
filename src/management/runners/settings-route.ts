import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { errorResponses } from '../../http/errors.ts';
import { RUNNER_SETTINGS_PATH } from '../../control/runner-settings.ts';
import type { SharedSettings } from '../../control/runner-settings.ts';

/** Runners compare these with their own at start and refuse to run on a mismatch, naming the variable. */
export function registerRunnerSettingsRoute(app: FastifyInstance, settings: () => Partial<SharedSettings>): void {
  app.get(
    RUNNER_SETTINGS_PATH,
    {
      config: { auth: 'runner' },
      schema: {
        tags: ['runner protocol'],
        summary: 'Settings runners must share with the management plane (Microsoft endpoints, insecure hosts)',
        response: {
          200: Type.Object({
            azureDevOpsServicesUrl: Type.Optional(Type.String()),
            azureDevOpsVsspsUrl: Type.Optional(Type.String()),
            entraAuthorityUrl: Type.Optional(Type.String()),
            allowInsecureHosts: Type.Optional(Type.Boolean()),
          }),
          ...errorResponses(401),
        },
      },
    },
    async () => settings(),
  );
}
