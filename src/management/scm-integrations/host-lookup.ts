// Which integration serves a host named by a caller (`host=tfs.example.com/tfs/DefaultCollection`,
// or only `tfs.example.com`): the one whose virtual directory is the longest prefix of the path
// given. Several integrations on one host and no path to tell them apart is a question for the
// caller, never a silent pick of the oldest. Pure.
import { ApiError } from '../../http/errors.ts';

export interface HostQuery {
  /** Lower-case host[:port], or `dev.azure.com` for every Services form. */
  host: string;
  /** Path segments after the host (may be empty). */
  segments: string[];
}

/** `https://Tfs.example.com:8443/tfs/Default/` → host `tfs.example.com:8443`, segments [tfs, Default]. */
export function parseHostQuery(value: string, servicesHost: (bare: string) => boolean): HostQuery {
  const text = value
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/[?#].*$/, '');
  const slash = text.indexOf('/');
  const host = (slash === -1 ? text : text.slice(0, slash)).toLowerCase();
  const segments = (slash === -1 ? '' : text.slice(slash)).split('/').filter(Boolean);
  return servicesHost(host) ? { host: 'dev.azure.com', segments: [] } : { host, segments };
}

export function pickByHost<R extends { host: string; virtual_directory: string }>(rows: readonly R[], query: HostQuery): R | undefined {
  const candidates = rows.filter((r) => r.host.toLowerCase() === query.host);
  if (candidates.length === 0) return undefined;
  const vdirOf = (r: R) => r.virtual_directory.split('/').filter(Boolean);
  const serving = candidates
    .filter((r) => vdirOf(r).every((s, i) => query.segments[i]?.toLowerCase() === s.toLowerCase()))
    .sort((a, b) => vdirOf(b).length - vdirOf(a).length);
  if (serving[0]) return serving[0];
  if (query.segments.length > 0) return undefined;
  if (candidates.length === 1) return candidates[0];
  throw new ApiError(
    409,
    'ambiguous_host',
    `several integrations serve ${query.host} (${candidates.map((r) => r.virtual_directory || '(no virtual directory)').join(', ')}): add the virtual directory to the host, such as ${query.host}${candidates.find((r) => r.virtual_directory)?.virtual_directory ?? ''}, or give integrationId`,
    'host',
  );
}
