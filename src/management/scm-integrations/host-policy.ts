import { isIP } from 'node:net';

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

const METADATA_HOSTS = new Set(['metadata.google.internal', 'metadata', 'metadata.azure.com', 'instance-data', 'instance-data.ec2.internal']);
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
    if (url.protocol !== 'https:' || url.port) throw new HostPolicyError('Azure DevOps Services is https://dev.azure.com; drop the scheme and port', 'host');
    if (url.pathname !== '/' || virtualDirectory) {
      throw new HostPolicyError('Azure DevOps Services has no virtual directory: enter dev.azure.com only (organizations are picked per repository)', url.pathname !== '/' ? 'host' : 'virtualDirectory');
    }
    // {org}.visualstudio.com organizations are served at dev.azure.com/{org} too.
    return { kind: 'services', host: 'dev.azure.com', origin: 'https://dev.azure.com', virtualDirectory: '' };
  }

  checkAddress(hostname, options.allowInsecure);
  if (url.protocol === 'http:' && !options.allowInsecure) throw new HostPolicyError('Azure DevOps Server must be reached over https (http is allowed only with KEYWAY_ALLOW_INSECURE_HOSTS)', 'host');
  const pathFromHost = url.pathname === '/' ? '' : url.pathname;
  if (pathFromHost && virtualDirectory) throw new HostPolicyError('give the virtual directory either in host or in virtualDirectory, not both', 'virtualDirectory');
  return { kind: 'server', host: url.host, origin: url.origin, virtualDirectory: normalizeVirtualDirectory(pathFromHost || virtualDirectory || '') };
}

export function normalizeVirtualDirectory(value: string): string {
  const trimmed = value.trim().replace(/\/+$/, '');
  if (!trimmed) return '';
  const withSlash = trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
  if (!/^(\/[A-Za-z0-9._~-]+){1,3}$/.test(withSlash) || withSlash.split('/').some((s) => s === '..' || s === '.')) {
    throw new HostPolicyError('virtualDirectory must look like /tfs (letters, digits, dots, dashes; up to three segments)', 'virtualDirectory');
  }
  return withSlash;
}

export function checkAddress(hostname: string, allowInsecure: boolean, field = 'host'): void {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (METADATA_HOSTS.has(bare)) throw new HostPolicyError(`${bare} is a cloud metadata endpoint, not Azure DevOps`, field);
  const family = isIP(bare);
  if (family === 4) {
    const [a, b] = bare.split('.').map(Number) as [number, number];
    if (a === 169 && b === 254) throw new HostPolicyError('link-local addresses (169.254.x.x) are refused: they reach cloud metadata services', field);
    if (a === 0 || a >= 224) throw new HostPolicyError(`${bare} is not a usable host address`, field);
    const privateOrLoopback = a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
    if (privateOrLoopback && !allowInsecure) throw new HostPolicyError(`${bare} is a loopback or private address; use the server's DNS name (or set KEYWAY_ALLOW_INSECURE_HOSTS for a lab setup)`, field);
  } else if (family === 6) {
    const lower = bare.toLowerCase();
    if (lower.startsWith('fe8') || lower.startsWith('fe9') || lower.startsWith('fea') || lower.startsWith('feb')) throw new HostPolicyError('link-local IPv6 addresses are refused', field);
    if (lower.startsWith('::ffff:')) throw new HostPolicyError('IPv4-mapped IPv6 addresses are refused; use the IPv4 address or a DNS name', field);
    const loopbackOrPrivate = lower === '::1' || lower.startsWith('fc') || lower.startsWith('fd');
    if (loopbackOrPrivate && !allowInsecure) throw new HostPolicyError(`${bare} is a loopback or private address; use the server's DNS name`, field);
  } else if ((bare === 'localhost' || bare.endsWith('.localhost')) && !allowInsecure) {
    throw new HostPolicyError('localhost is refused; use the server\'s DNS name (or set KEYWAY_ALLOW_INSECURE_HOSTS for a lab setup)', field);
  }
}
