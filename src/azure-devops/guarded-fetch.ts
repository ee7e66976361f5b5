// Connections to Azure DevOps Server hosts, which admins configure by name. The management plane
// refuses addresses it can see (metadata, link-local, private unless allowed), but a DNS name can
// resolve — or later rebind — to one of them. Here every address a name resolves to is checked at
// the moment the runner connects, by the lookup of the connection itself, so what is checked is
// what is connected to. Services hosts (dev.azure.com and the configured overrides) are not routed
// through this: they are Keyway's own configuration, not an admin's input.
import { lookup as dnsLookup } from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, fetch as undiciFetch } from 'undici';
import { checkAddress, HostPolicyError } from '../management/scm-integrations/host-policy.ts';
import type { FetchLike } from './client.ts';

export const HOST_REFUSED = 'KEYWAY_HOST_REFUSED';

/** Thrown inside the connection's lookup; fetch rejects with it as the cause. */
export class RefusedHostError extends HostPolicyError {
  readonly code = HOST_REFUSED;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

function guardedLookup(allowInsecure: boolean) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const { address } of addresses) {
        try {
          checkAddress(address, allowInsecure);
        } catch (refusal) {
          const reason = refusal instanceof HostPolicyError ? refusal.message : String(refusal);
          return callback(new RefusedHostError(`${hostname} resolves to ${address}: ${reason}`, 'host'), []);
        }
      }
      const [first] = addresses;
      if (!first) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), []);
      if (options.all) return callback(null, addresses);
      callback(null, first.address, first.family);
    });
  };
}

const fetches = new Map<boolean, FetchLike>();

/**
 * fetch for admin-configured hosts: a literal address is checked before the request, a name at
 * connection time (every address it resolves to). `allowInsecure` (KEYWAY_ALLOW_INSECURE_HOSTS)
 * permits loopback and private addresses; link-local and metadata addresses stay refused.
 */
export function guardedFetch(allowInsecure: boolean): FetchLike {
  let fetch = fetches.get(allowInsecure);
  if (!fetch) {
    const dispatcher = new Agent({ connect: { lookup: guardedLookup(allowInsecure) } });
    fetch = async (url, init) => {
      const hostname = new URL(url).hostname.replace(/^\[|\]$/g, '');
      if (isIP(hostname)) {
        try {
          checkAddress(hostname, allowInsecure);
        } catch (refusal) {
          throw new TypeError('fetch failed', { cause: new RefusedHostError(refusal instanceof Error ? refusal.message : String(refusal), 'host') });
        }
      }
      // undici's own fetch with its own dispatcher: Node's global fetch ships another undici copy,
      // whose dispatchers cannot be mixed with this package's. Its Response is the same WHATWG shape.
      return (await undiciFetch(url, { ...(init as Parameters<typeof undiciFetch>[1]), dispatcher })) as unknown as Response;
    };
    fetches.set(allowInsecure, fetch);
  }
  return fetch;
}
