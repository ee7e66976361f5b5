// Connections to Azure DevOps Server hosts, which admins configure by name. The management plane
// refuses addresses it can see (metadata, link-local, private unless allowed), but a DNS name can
// resolve — or later rebind — to one of them. Here every address a name resolves to is checked at
// the moment the runner connects, by the lookup of the connection itself, so what is checked is
// what is connected to. Services hosts (dev.azure.com and the configured overrides) are not routed
// through this: they are Keyway's own configuration, not an admin's input.
import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { checkAddress, HostPolicyError } from './host-policy.ts';

/** The fetch the Azure DevOps client calls: the global one, or the guarded one for Server hosts. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export const HOST_REFUSED = 'KEYWAY_HOST_REFUSED';

/** Thrown inside the connection's lookup; fetch rejects with it as the cause. */
export class RefusedHostError extends HostPolicyError {
  readonly code = HOST_REFUSED;
}

/** Every address a name resolves to (the system resolver by default; tests pass a stub). */
export type HostLookup = (hostname: string) => Promise<{ address: string; family?: number }[]>;

export const systemLookup: HostLookup = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** The addresses, each checked against the policy; a RefusedHostError naming the first refused one. */
function vetted(hostname: string, addresses: readonly { address: string }[], allowInsecure: boolean): LookupAddress[] {
  if (addresses.length === 0) throw Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' });
  return addresses.map(({ address }) => {
    try {
      checkAddress(address, allowInsecure);
    } catch (refusal) {
      const reason = refusal instanceof HostPolicyError ? refusal.message : String(refusal);
      throw new RefusedHostError(`${hostname} resolves to ${address}: ${reason}`, 'host');
    }
    return { address, family: isIP(address) };
  });
}

function connectLookup(resolveHost: (hostname: string) => Promise<LookupAddress[]>) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolveHost(hostname).then(
      (addresses) => {
        const [first] = addresses;
        if (options.all) return callback(null, addresses);
        callback(null, first!.address, first!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, []),
    );
  };
}

function fetchThrough(dispatcher: Agent, allowInsecure: boolean): FetchLike {
  return async (url, init) => {
    const hostname = new URL(url).hostname.replace(/^\[|\]$/g, '');
    if (isIP(hostname)) {
      try {
        checkAddress(hostname, allowInsecure);
      } catch (refusal) {
        throw new TypeError('fetch failed', {
          cause: new RefusedHostError(refusal instanceof Error ? refusal.message : String(refusal), 'host'),
        });
      }
    }
    // undici's own fetch with its own dispatcher: Node's global fetch ships another undici copy,
    // whose dispatchers cannot be mixed with this package's. Its Response is the same WHATWG shape.
    return (await undiciFetch(url, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as Response;
  };
}

const fetches = new WeakMap<HostLookup, Map<boolean, FetchLike>>();

/**
 * fetch for admin-configured hosts: a literal address is checked before the request, a name at
 * connection time (every address it resolves to). `allowInsecure` (KEYWAY_ALLOW_INSECURE_HOSTS)
 * permits loopback and private addresses; link-local and metadata addresses stay refused.
 */
export function guardedFetch(allowInsecure: boolean, lookup: HostLookup = systemLookup): FetchLike {
  let byMode = fetches.get(lookup);
  if (!byMode) fetches.set(lookup, (byMode = new Map()));
  let fetch = byMode.get(allowInsecure);
  if (!fetch) {
    const dispatcher = new Agent({
      connect: { lookup: connectLookup(async (hostname) => vetted(hostname, await lookup(hostname), allowInsecure)) },
    });
    fetch = fetchThrough(dispatcher, allowInsecure);
    byMode.set(allowInsecure, fetch);
  }
  return fetch;
}

/**
 * Resolves a Server host once and checks every address (issue 15: a name that passes one check and
 * rebinds before the next must not reach anything). Returns the addresses to connect to, so that
 * everything that follows (REST and git) goes exactly there.
 */
export async function vetHost(hostname: string, allowInsecure: boolean, lookup: HostLookup = systemLookup): Promise<string[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (isIP(bare)) {
    checkAddress(bare, allowInsecure);
    return [bare];
  }
  // A name that is refused as written (metadata.google.internal, 169.254.169.254.nip.io) is never resolved.
  checkAddress(bare, allowInsecure);
  return vetted(bare, await lookup(bare), allowInsecure).map((a) => a.address);
}

/**
 * fetch that connects `hostname` only to `addresses` (already vetted; checked again here) and
 * refuses any other host. For one piece of work; `close()` releases its connections.
 */
export function pinnedFetch(
  hostname: string,
  addresses: readonly string[],
  allowInsecure: boolean,
): { fetch: FetchLike; close(): Promise<void> } {
  const pinned = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const dispatcher = new Agent({
    connect: {
      lookup: connectLookup(async (name) => {
        if (name.toLowerCase() !== pinned)
          throw new RefusedHostError(`${name} is not the host this work was checked for (${pinned})`, 'host');
        return vetted(
          name,
          addresses.map((address) => ({ address })),
          allowInsecure,
        );
      }),
    },
  });
  return { fetch: fetchThrough(dispatcher, allowInsecure), close: () => dispatcher.close() };
}
