// Control-channel contract: the integration a runner is given to act on. Management builds it
// (scm-integrations/service.ts toRunnerIntegration), the runner consumes it.
import { Type } from 'typebox';
import type { Static } from 'typebox';
import { IntegrationCredential } from './client-credentials.ts';
import { NonEmpty, Nullable } from './schema.ts';

/** What a runner receives to act on an integration: never a plaintext secret. */
export const RunnerIntegration = Type.Object({
  id: NonEmpty(),
  scmId: Type.String(),
  kind: Type.Enum(['services', 'server'] as const),
  host: NonEmpty(),
  origin: NonEmpty(),
  virtualDirectory: Type.String(),
  oauth: Nullable(
    Type.Object({
      clientId: Type.String(),
      issuerUrl: Type.String(),
      sealedClientSecret: Nullable(Type.String()),
      callbackUrl: Type.String(),
      credential: Type.Optional(IntegrationCredential),
    }),
  ),
  patEnabled: Type.Boolean(),
});
export type RunnerIntegration = Static<typeof RunnerIntegration>;
