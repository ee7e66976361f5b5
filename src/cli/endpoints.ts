import type { KeywayConfig } from '../config/config.ts';
import { resolveEndpoints } from '../azure-devops/endpoints.ts';
import type { AzureDevOpsEndpoints } from '../azure-devops/endpoints.ts';

export function endpointsFromConfig(config: KeywayConfig): AzureDevOpsEndpoints {
  return resolveEndpoints({
    services: config.azureDevOpsServicesUrl,
    vssps: config.azureDevOpsVsspsUrl,
    allowInsecureServerHosts: config.allowInsecureHosts,
  });
}
