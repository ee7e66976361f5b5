// Git under the same guard as REST (issue 15). REST calls to a Server host go through the guarded
// fetch: every address checked as the connection is made, redirects not followed. git resolves
// names and follows redirects itself, so an environment's git gets the same rules through its own
// configuration:
//
// - http.followRedirects=false: a redirect (to http://0.0.0.0:…, a metadata address, anywhere) is
//   an error, not a second request. Keyway always clones the canonical URL of the repository, which
//   Azure DevOps serves without redirecting.
// - http.curloptResolve=host:port:addr…: for a Server host given by name, the runner resolves it
//   once, checks every address against the host policy, and git (libcurl) connects only to those
//   addresses. The name is still what TLS verifies and what the Host header says. A name that
//   rebinds after the check never reaches git.
//
// Services hosts (dev.azure.com, or KEYWAY_AZURE_DEVOPS_SERVICES_URL) are Keyway's own
// configuration, not an admin's input, and are not pinned (as for REST: see guarded-fetch.ts).
//
// The same settings are written to `.keyway/network.gitconfig` and included from the clone's
// `.git/config`, so the user's own fetch and push in the workspace follow them too; the runner
// refreshes the pinned addresses when it checks the name again (maintenance), never to a refused one.
import { chown, rename, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { HostPolicyError } from '../../azure-devops/host-policy.ts';
import { systemLookup, vetHost } from '../../azure-devops/guarded-fetch.ts';
import type { HostLookup } from '../../azure-devops/guarded-fetch.ts';
import { HandlerError } from '../agent.ts';

export interface VettedRemote {
  /** The Server host name that was resolved and checked; null when nothing is pinned. */
  hostname: string | null;
  /** The addresses it was checked to have. */
  addresses: string[];
  /** `host:port:addr[,addr]` for http.curloptResolve; null when git needs no pin. */
  pin: string | null;
}

const NO_PIN: VettedRemote = { hostname: null, addresses: [], pin: null };

/** curl's --resolve format: IPv6 addresses in brackets. */
function pinOf(hostname: string, port: string, addresses: readonly string[]): string {
  return `${hostname}:${port}:${addresses.map((a) => (isIP(a) === 6 ? `[${a}]` : a)).join(',')}`;
}

/**
 * Resolves and checks the remote's host once, for everything the environment does next. A refused
 * address is a HandlerError the user sees, naming the host and why.
 */
export async function vetRemote(
  remoteUrl: string,
  kind: 'services' | 'server',
  options: { allowInsecure: boolean; lookup?: HostLookup | undefined },
): Promise<VettedRemote> {
  if (kind !== 'server') return NO_PIN;
  const url = new URL(remoteUrl);
  const hostname = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  let addresses: string[];
  try {
    addresses = await vetHost(hostname, options.allowInsecure, options.lookup ?? systemLookup);
  } catch (err) {
    if (err instanceof HostPolicyError)
      throw new HandlerError(
        'host_refused',
        `Keyway does not connect to ${url.host}: ${err.message}. Ask an admin to check the integration's host.`,
      );
    const code = (err as NodeJS.ErrnoException).code;
    throw new HandlerError(
      'host_unavailable',
      `the Azure DevOps Server host ${url.host} could not be resolved (${code ?? (err as Error).message}); check the integration's host and the runner's DNS`,
    );
  }
  // An address literal needs no pin: libcurl resolves nothing.
  if (isIP(hostname)) return { hostname, addresses, pin: null };
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return { hostname, addresses, pin: pinOf(hostname, port, addresses) };
}

/** `-c` arguments for one git command that talks to the remote. */
export function gitNetworkArgs(vetted: Pick<VettedRemote, 'pin'>): string[] {
  return ['-c', 'http.followRedirects=false', ...(vetted.pin ? ['-c', `http.curloptResolve=${vetted.pin}`] : [])];
}

/** The same settings as a config file the workspace's `.git/config` includes. */
export function networkConfigFile(vetted: Pick<VettedRemote, 'pin'>): string {
  return [
    '# Written by the Keyway runner (generated; edits are overwritten): git in this environment',
    '# follows no redirects and connects the server only at the addresses the runner checked.',
    '[http]',
    '\tfollowRedirects = false',
    ...(vetted.pin ? [`\tcurloptResolve = ${vetted.pin}`] : []),
    '',
  ].join('\n');
}

/** Replaces the file in one step, so a git reading it never sees half of it. */
export async function writeNetworkConfig(
  path: string,
  vetted: Pick<VettedRemote, 'pin'>,
  owner?: { uid: number; gid: number },
): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, networkConfigFile(vetted), { mode: 0o644 });
  if (owner) await chown(temporary, owner.uid, owner.gid);
  await rename(temporary, path);
}
