import { isIP } from 'node:net';
import { lookup as dnsLookup } from 'node:dns/promises';

/**
 * Which hosts an integration may point a runner at. The runner will make requests to them with
 * credentials, so this is an SSRF boundary: cloud metadata and link-local addresses are always
 * refused, loopback and private networks unless the instance allows insecure hosts (demo, tests).
 */
export class HostPolicyError extends Error {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
    this.name = 'HostPolicyError';
  }
}

export interface NormalizedHost {
  kind: 'services' | 'server';
  /** 'dev.azure.com', or the Server's host[:port] */
  host: string;
  /** https://dev.azure.com, or the Server's origin */
  origin: string;
  /** '' for Services; '' or '/tfs' style for Server */
  virtualDirectory: string;
}

// Cloud metadata and platform endpoints by name (GCP, Azure, AWS) and by address: always refused,
// whatever KEYWAY_ALLOW_INSECURE_HOSTS says. 169.254.0.0/16 is refused as a whole (link-local).
const METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'metadata.azure.com',
  'instance-data',
  'instance-data.ec2.internal',
]);
const METADATA_IPV4 = new Set([
  '100.100.100.200', // Alibaba Cloud metadata
  '168.63.129.16', // Azure WireServer (platform agent, certificates)
  '192.0.0.192', // Oracle Cloud (classic) metadata
]);
const METADATA_IPV6 = new Set(['fd00:ec2:0:0:0:0:0:254']); // AWS instance metadata over IPv6
// Public wildcard DNS services whose names spell the address they resolve to
// (169.254.169.254.nip.io, 10-0-0-1.sslip.io); judged by that address.
const ADDRESS_IN_NAME = /(?:^|\.)(?:nip\.io|sslip\.io|xip\.io|traefik\.me)$/;
const LOOPBACK_NAMES = /(?:^|\.)(?:localtest\.me|lvh\.me)$/;

const SERVICES_HOSTS = /^(dev\.azure\.com|[a-z0-9][a-z0-9-]{0,61}\.visualstudio\.com)$/;

export function normalizeHost(input: string, virtualDirectory: string | undefined, options: { allowInsecure: boolean }): NormalizedHost {
  const raw = input.trim();
  if (!raw) throw new HostPolicyError('host is required: dev.azure.com or your Azure DevOps Server host, e.g. tfs.example.com', 'host');
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `https://${raw}`);
  } catch {
    throw new HostPolicyError(`host "${raw.slice(0, 100)}" is not a host name; use dev.azure.com or e.g. tfs.example.com`, 'host');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new HostPolicyError('host must be reached over https', 'host');
  if (url.username || url.password) throw new HostPolicyError('host must not contain credentials', 'host');
  if (url.search || url.hash) throw new HostPolicyError('host must not contain a query or fragment', 'host');
  const hostname = url.hostname.toLowerCase();

  if (SERVICES_HOSTS.test(hostname)) {
    if (url.protocol !== 'https:' || url.port)
      throw new HostPolicyError('Azure DevOps Services is https://dev.azure.com; drop the scheme and port', 'host');
    if (url.pathname !== '/' || virtualDirectory) {
      throw new HostPolicyError(
        'Azure DevOps Services has no virtual directory: enter dev.azure.com only (organizations are picked per repository)',
        url.pathname !== '/' ? 'host' : 'virtualDirectory',
      );
    }
    // {org}.visualstudio.com organizations are served at dev.azure.com/{org} too.
    return { kind: 'services', host: 'dev.azure.com', origin: 'https://dev.azure.com', virtualDirectory: '' };
  }

  checkAddress(hostname, options.allowInsecure);
  if (url.protocol === 'http:' && !options.allowInsecure)
    throw new HostPolicyError(
      'Azure DevOps Server must be reached over https (http is allowed only with KEYWAY_ALLOW_INSECURE_HOSTS)',
      'host',
    );
  const pathFromHost = url.pathname === '/' ? '' : url.pathname;
  if (pathFromHost && virtualDirectory)
    throw new HostPolicyError('give the virtual directory either in host or in virtualDirectory, not both', 'virtualDirectory');
  return {
    kind: 'server',
    host: url.host,
    origin: url.origin,
    virtualDirectory: normalizeVirtualDirectory(pathFromHost || virtualDirectory || ''),
  };
}

export function normalizeVirtualDirectory(value: string): string {
  const trimmed = value.trim().replace(/\/+$/, '');
  if (!trimmed) return '';
  const withSlash = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  if (!/^(\/[A-Za-z0-9._~-]+){1,3}$/.test(withSlash) || withSlash.split('/').some((s) => s === '..' || s === '.')) {
    throw new HostPolicyError(
      'virtualDirectory must look like /tfs (letters, digits, dots, dashes; up to three segments)',
      'virtualDirectory',
    );
  }
  return withSlash;
}

/**
 * Refuses addresses a runner must never be pointed at. `hostname` is what WHATWG URL made of the
 * input, so IPv4 in decimal, octal or hex (`2852039166`, `0251.0376.0251.0376`) arrives as
 * dotted decimal and IPv6 arrives compressed and lower-case. A DNS name that *resolves* to such
 * an address is not caught here: that needs a check at connection time on the runner.
 */
export function checkAddress(hostname: string, allowInsecure: boolean, field = 'host'): void {
  // A trailing dot names the same host (`metadata.google.internal.`, `localhost.`).
  const bare = hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.+$/, '')
    .toLowerCase();
  if (METADATA_HOSTS.has(bare)) throw new HostPolicyError(`${bare} is a cloud metadata endpoint, not Azure DevOps`, field);
  const family = isIP(bare);
  if (family === 0 && ADDRESS_IN_NAME.test(bare)) {
    const spelled = /(\d{1,3})[.-](\d{1,3})[.-](\d{1,3})[.-](\d{1,3})(?=[.-])/.exec(bare);
    if (!spelled) throw new HostPolicyError(`${bare} is a wildcard DNS name without an address; use the server's own DNS name`, field);
    checkIPv4(spelled.slice(1, 5).map(Number).join('.'), allowInsecure, field);
    return;
  }
  if (family === 0 && LOOPBACK_NAMES.test(bare) && !allowInsecure)
    throw new HostPolicyError(`${bare} resolves to loopback; use the server's DNS name`, field);
  if (family === 4) {
    checkIPv4(bare, allowInsecure, field);
  } else if (family === 6) {
    checkIPv6(bare, allowInsecure, field);
  } else if ((bare === 'localhost' || bare.endsWith('.localhost')) && !allowInsecure) {
    throw new HostPolicyError(
      "localhost is refused; use the server's DNS name (or set KEYWAY_ALLOW_INSECURE_HOSTS for a lab setup)",
      field,
    );
  }
}

function checkIPv4(address: string, allowInsecure: boolean, field: string): void {
  const [a, b] = address.split('.').map(Number) as [number, number];
  if (a === 169 && b === 254)
    throw new HostPolicyError('link-local addresses (169.254.x.x) are refused: they reach cloud metadata services', field);
  if (METADATA_IPV4.has(address)) throw new HostPolicyError(`${address} is a cloud metadata or platform endpoint, not Azure DevOps`, field);
  if (a === 0 || a >= 224) throw new HostPolicyError(`${address} is not a usable host address`, field);
  const privateOrLoopback =
    a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  if (privateOrLoopback && !allowInsecure)
    throw new HostPolicyError(
      `${address} is a loopback or private address; use the server's DNS name (or set KEYWAY_ALLOW_INSECURE_HOSTS for a lab setup)`,
      field,
    );
}

/** The eight 16-bit groups of an IPv6 address (a trailing dotted IPv4 part included). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4?.[1]) {
    const [p, q, r, t] = v4[1].split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1].length)}${((p << 8) | q).toString(16)}:${((r << 8) | t).toString(16)}`;
  }
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16));
}

function checkIPv6(address: string, allowInsecure: boolean, field: string): void {
  const g = ipv6Groups(address);
  const canonical = g.map((x) => x.toString(16)).join(':');
  const embeddedV4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const first96Zero = g.slice(0, 6).every((x) => x === 0);
  if (g.every((x) => x === 0)) throw new HostPolicyError(`${address} is not a usable host address`, field);
  if ((g[0]! & 0xffc0) === 0xfe80) throw new HostPolicyError('link-local IPv6 addresses are refused', field);
  if ((g[0]! & 0xff00) === 0xff00) throw new HostPolicyError(`${address} is a multicast address, not a host`, field);
  if (METADATA_IPV6.has(canonical)) throw new HostPolicyError(`${address} is a cloud metadata endpoint, not Azure DevOps`, field);
  // Forms that carry an IPv4 address and would take a request to it: the IPv4 check is bypassed
  // otherwise. IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96, deprecated), the
  // ::ffff:0:0:0/96 translation prefix and NAT64 (64:ff9b::/96, 64:ff9b:1::/48).
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff)
    throw new HostPolicyError('IPv4-mapped IPv6 addresses are refused; use the IPv4 address or a DNS name', field);
  if (g.slice(0, 4).every((x) => x === 0) && g[4] === 0xffff && g[5] === 0)
    throw new HostPolicyError('IPv4-translated IPv6 addresses are refused; use the IPv4 address or a DNS name', field);
  if (first96Zero && !(g[6] === 0 && g[7] === 1))
    throw new HostPolicyError('IPv4-compatible IPv6 addresses are refused; use the IPv4 address or a DNS name', field);
  if (g[0] === 0x64 && g[1] === 0xff9b && (g[2] === 1 || g.slice(2, 6).every((x) => x === 0)))
    throw new HostPolicyError('NAT64 IPv6 addresses are refused; use the IPv4 address or a DNS name', field);
  // 6to4 (2002::/16) carries an IPv4 address in its second and third groups.
  if (g[0] === 0x2002) checkIPv4(embeddedV4(g[1]!, g[2]!), allowInsecure, field);
  const loopbackOrPrivate = canonical === '0:0:0:0:0:0:0:1' || (g[0]! & 0xfe00) === 0xfc00;
  if (loopbackOrPrivate && !allowInsecure)
    throw new HostPolicyError(`${address} is a loopback or private address; use the server's DNS name`, field);
}

/**
 * The connection-time half of the policy: resolves `hostname` and applies checkAddress to every
 * address it has, so a DNS name pointing at a metadata or private address (or rebinding to one) is
 * refused. For the runner to call right before it connects to a configured Server host; the
 * static check above cannot see DNS.
 */
export async function checkResolvedHost(
  hostname: string,
  allowInsecure: boolean,
  lookup: (host: string) => Promise<{ address: string }[]> = (host) => dnsLookup(host, { all: true, verbatim: true }),
  field = 'host',
): Promise<string[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  checkAddress(bare, allowInsecure, field);
  if (isIP(bare)) return [bare];
  const addresses = (await lookup(bare)).map((a) => a.address);
  if (addresses.length === 0) throw new HostPolicyError(`${bare} does not resolve`, field);
  for (const address of addresses) {
    try {
      checkAddress(address, allowInsecure, field);
    } catch (err) {
      if (err instanceof HostPolicyError) throw new HostPolicyError(`${bare} resolves to ${address}: ${err.message}`, field);
      throw err;
    }
  }
  return addresses;
}
