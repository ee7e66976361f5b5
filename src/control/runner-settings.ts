// Settings the management plane and its runners must agree on: the Microsoft endpoints (overridden
// for sovereign clouds and the emulator) and whether insecure hosts are allowed. A mismatch would
// otherwise surface far from its cause, e.g. as a rejected issuer URL during Save & Test.

export const RUNNER_SETTINGS_PATH = '/api/v1/runner/settings';

export interface SharedSettings {
  azureDevOpsServicesUrl: string;
  azureDevOpsVsspsUrl: string;
  entraAuthorityUrl: string;
  allowInsecureHosts: boolean;
}

const VARIABLES: Record<keyof SharedSettings, string> = {
  azureDevOpsServicesUrl: 'KEYWAY_AZURE_DEVOPS_SERVICES_URL',
  azureDevOpsVsspsUrl: 'KEYWAY_AZURE_DEVOPS_VSSPS_URL',
  entraAuthorityUrl: 'KEYWAY_ENTRA_AUTHORITY_URL',
  allowInsecureHosts: 'KEYWAY_ALLOW_INSECURE_HOSTS',
};

const canonical = (value: string | boolean) => (typeof value === 'boolean' ? String(value) : value.trim().replace(/\/+$/, '').toLowerCase());

/** One line per variable whose values differ, naming it and both values; empty when they agree. */
export function settingsDifferences(server: Partial<SharedSettings>, runner: SharedSettings): string[] {
  const out: string[] = [];
  for (const key of Object.keys(VARIABLES) as (keyof SharedSettings)[]) {
    const theirs = server[key];
    if (theirs === undefined) continue;
    if (canonical(theirs) !== canonical(runner[key])) out.push(`${VARIABLES[key]} differs: the management plane has ${String(theirs)}, this runner ${String(runner[key])}`);
  }
  return out;
}
