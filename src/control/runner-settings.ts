// Settings the management plane and its runners must agree on: the Azure DevOps endpoints (overridden
// for sovereign clouds and the emulator: the management plane recognizes repository URLs by them, the
// runner calls them) and whether insecure hosts are allowed (both check issuers and hosts with it). A
// mismatch would otherwise surface far from its cause, e.g. as a rejected issuer URL in Save & Test.
// (KEYWAY_ENTRA_AUTHORITY_URL is the management plane's alone: runners use the issuer each
// integration names.)

export const RUNNER_SETTINGS_PATH = '/api/v1/runner/settings';
/** The calling runner's replicas (runner auth). */
export const RUNNER_REPLICAS_PATH = '/api/v1/runner/replicas';

export interface SharedSettings {
  azureDevOpsServicesUrl: string;
  azureDevOpsVsspsUrl: string;
  allowInsecureHosts: boolean;
}

const VARIABLES: Record<keyof SharedSettings, string> = {
  azureDevOpsServicesUrl: 'KEYWAY_AZURE_DEVOPS_SERVICES_URL',
  azureDevOpsVsspsUrl: 'KEYWAY_AZURE_DEVOPS_VSSPS_URL',
  allowInsecureHosts: 'KEYWAY_ALLOW_INSECURE_HOSTS',
};

const canonical = (value: string | boolean) =>
  typeof value === 'boolean' ? String(value) : value.trim().replace(/\/+$/, '').toLowerCase();

/** One line per variable whose values differ, naming it and both values; empty when they agree. */
export function settingsDifferences(server: Partial<SharedSettings>, runner: SharedSettings): string[] {
  const out: string[] = [];
  for (const key of Object.keys(VARIABLES) as (keyof SharedSettings)[]) {
    const theirs = server[key];
    if (theirs === undefined) continue;
    if (canonical(theirs) !== canonical(runner[key]))
      out.push(`${VARIABLES[key]} differs: the management plane has ${String(theirs)}, this runner ${String(runner[key])}`);
  }
  return out;
}
