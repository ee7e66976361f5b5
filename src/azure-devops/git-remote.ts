// The URL git talks to for a repository, and what git tells a credential helper about it.
// docs/azure-devops.md, "Git over HTTPS": a helper serving several organizations on one host needs
// the path, which git sends only with `credential.useHttpPath=true`.

import { collectionUrl, seg, targetFromRepositoryContext } from './endpoints.ts';
import type { AzureDevOpsEndpoints } from './endpoints.ts';
import type { RepositoryContext } from './url.ts';

export type GitRemoteLocation = Pick<RepositoryContext, 'kind' | 'origin' | 'organization' | 'project' | 'repository'> &
  Partial<Pick<RepositoryContext, 'virtualDirectory' | 'collection'>>;

/**
 * The HTTPS remote for a parsed repository: Services repositories go to the configured services
 * endpoint (dev.azure.com, or the emulator through KEYWAY_AZURE_DEVOPS_SERVICES_URL) whatever
 * origin the user pasted; Server repositories to their own origin and virtual directory. Never
 * carries a user name or credential; always the full `{project}/_git/{repo}` form.
 */
export function gitRemoteUrl(location: GitRemoteLocation, endpoints: AzureDevOpsEndpoints): string {
  return `${collectionUrl(targetFromRepositoryContext(location), endpoints)}/${seg(location.project)}/_git/${seg(location.repository)}`;
}

/** What git sends a credential helper (with useHttpPath) for requests to a remote URL. */
export interface GitCredentialTarget {
  protocol: string;
  /** `host` or `host:port` (no default port), lower-case. */
  host: string;
  /** The URL path percent-decoded, without leading or trailing slashes (git's credential_from_url). */
  path: string;
}

export function gitCredentialTarget(remoteUrl: string): GitCredentialTarget {
  const url = new URL(remoteUrl);
  return {
    protocol: url.protocol.replace(/:$/, ''),
    host: url.host.toLowerCase(),
    path: decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, ''),
  };
}

/** Whether git's description of a request (protocol, host, path) names exactly this target. */
export function sameCredentialTarget(asked: { protocol?: string; host?: string; path?: string }, expected: GitCredentialTarget): boolean {
  return (
    asked.protocol === expected.protocol &&
    (asked.host ?? '').toLowerCase() === expected.host &&
    (asked.path ?? '').replace(/^\/+|\/+$/g, '') === expected.path
  );
}
