import { parseRepositoryUrl, SERVICES_ORIGIN } from '../../azure-devops/url.ts';
import type { ParseRepositoryUrlOptions, ServerHostConfig } from '../../azure-devops/url.ts';

/**
 * Origins laid out like dev.azure.com besides dev.azure.com itself: the configured
 * KEYWAY_AZURE_DEVOPS_SERVICES_URL when it is not the default (the emulator, a sovereign cloud), so
 * URLs copied from it parse as Services URLs. An endpoint with a path prefix is left out: its prefix
 * could not be told apart from an organization name.
 */
export function servicesOriginsFor(servicesUrl: string | undefined): string[] {
  if (!servicesUrl) return [];
  let url: URL;
  try {
    url = new URL(servicesUrl);
  } catch {
    return [];
  }
  if (url.pathname !== '/' || url.username || url.password || url.search) return [];
  return url.origin === SERVICES_ORIGIN ? [] : [url.origin];
}

export interface IntegrationHost {
  kind: 'services' | 'server';
  origin: string;
  virtualDirectory: string;
}

/** Parse options for an organization: its Server integrations' hosts, and the Services origins. */
export function parseOptionsFor(integrations: readonly IntegrationHost[], servicesUrl: string | undefined): ParseRepositoryUrlOptions {
  const seen = new Set<string>();
  const serverHosts: ServerHostConfig[] = [];
  for (const i of integrations) {
    if (i.kind !== 'server') continue;
    const key = `${i.origin}|${i.virtualDirectory.toLowerCase()}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const host: ServerHostConfig = { origin: i.origin, virtualDirectory: i.virtualDirectory };
    // One unusable stored host must not make every URL unparsable: the parser validates its options
    // all at once, so each is tried alone first.
    try {
      parseRepositoryUrl('https://dev.azure.com/o/p/_git/r', { serverHosts: [host] });
      serverHosts.push(host);
    } catch {
      continue;
    }
  }
  return { serverHosts, servicesOrigins: servicesOriginsFor(servicesUrl) };
}
