// Control-channel contract: the integration a runner is given to act on. Management builds it
// (scm-integrations/service.ts toRunnerIntegration), the runner consumes it.
import type { IntegrationCredential } from './client-credentials.ts';

/** What a runner receives to act on an integration: never a plaintext secret. */
export interface RunnerIntegration {
  id: string;
  scmId: string;
  kind: 'services' | 'server';
  host: string;
  origin: string;
  virtualDirectory: string;
  oauth: {
    clientId: string;
    issuerUrl: string;
    sealedClientSecret: string | null;
    callbackUrl: string;
    credential?: IntegrationCredential;
  } | null;
  patEnabled: boolean;
}
