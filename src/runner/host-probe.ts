import { probeAzureDevOpsHost } from '../azure-devops/client.ts';
import type { AzureDevOpsEndpoints, AzureDevOpsTarget } from '../azure-devops/endpoints.ts';
import type { RunnerIntegration } from '../management/scm-integrations/service.ts';
import type { HostProbeResult } from './handlers/validate-integration.ts';

// An integration names a host, not an organization or collection. Azure DevOps challenges an
// unauthenticated request (401 with X-TFS-*/X-VSS-* headers) before it looks the collection up —
// the same behaviour git-credential-manager relies on to discover a tenant — so a placeholder name
// is enough to tell "this is Azure DevOps" from "this is some other web server".
const PLACEHOLDER_COLLECTION = 'DefaultCollection';

export function createHostProbe(deps: { endpoints: AzureDevOpsEndpoints; timeoutMs?: number }) {
  return async (integration: RunnerIntegration): Promise<HostProbeResult> => {
    const target: AzureDevOpsTarget =
      integration.kind === 'services'
        ? { kind: 'services', organization: PLACEHOLDER_COLLECTION }
        : { kind: 'server', origin: integration.origin, virtualDirectory: integration.virtualDirectory, collection: PLACEHOLDER_COLLECTION };
    const probe = await probeAzureDevOpsHost({ target, endpoints: deps.endpoints, timeoutMs: deps.timeoutMs ?? 10_000 });
    if (probe.isAzureDevOps) return { ok: true };
    const where = integration.kind === 'services' ? 'dev.azure.com' : `${integration.origin}${integration.virtualDirectory}`;
    if (probe.status === undefined) return { ok: false, message: `${where} is unreachable from the runner: ${probe.reason}` };
    return { ok: false, message: `${where} answered, but it is not Azure DevOps (${probe.reason}); check the host and virtual directory` };
  };
}
