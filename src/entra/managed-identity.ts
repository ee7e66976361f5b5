// Tokens of the managed identity of the machine a runner runs on, from the Azure Instance Metadata
// Service: GET {base}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=…[&client_id=…]
// with `Metadata: true` (https://learn.microsoft.com/entra/identity/managed-identities-azure-resources/how-to-use-vm-token#get-a-token-using-http).
//
// The metadata address (169.254.169.254) is refused everywhere an admin can name a host
// (src/azure-devops/host-policy.ts, src/azure-devops/guarded-fetch.ts). This client
// is the one exception: it talks only to the operator's configured base URL (KEYWAY_IMDS_URL,
// default http://169.254.169.254), only on this fixed path, and nothing an admin enters becomes part
// of the URL but a GUID-checked client id, encoded as a query value.
import { Agent, fetch as undiciFetch } from 'undici';
import { measured } from './metrics.ts';

export const DEFAULT_IMDS_URL = 'http://169.254.169.254';
const TOKEN_PATH = '/metadata/identity/oauth2/token';
const API_VERSION = '2018-02-01';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Tokens are reused until this long before they expire. */
const REUSE_MARGIN_MS = 5 * 60_000;

export type ManagedIdentityProblem = 'imds_unreachable' | 'identity_not_found' | 'imds_refused' | 'imds_bad_answer';

export class ManagedIdentityError extends Error {
  override readonly name = 'ManagedIdentityError';
  constructor(
    readonly problem: ManagedIdentityProblem,
    message: string,
  ) {
    super(message);
  }
}

export interface ManagedIdentityToken {
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
  /** The identity's client id, as IMDS reports it. */
  clientId: string | null;
}

export interface ManagedIdentityOptions {
  /** KEYWAY_IMDS_URL: scheme, host and port only. */
  baseUrl?: string;
  timeoutMs?: number;
  now?: () => number;
}

/** Checks KEYWAY_IMDS_URL: an http(s) origin without path, query or credentials. */
export function parseImdsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error('must be a URL such as http://169.254.169.254');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('must use http or https');
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== ''))
    throw new Error('must be scheme, host and port only (the token path is fixed)');
  return url.origin;
}

export function createManagedIdentityClient(options: ManagedIdentityOptions = {}) {
  const base = parseImdsUrl(options.baseUrl ?? DEFAULT_IMDS_URL);
  const timeoutMs = options.timeoutMs ?? 5000;
  const now = options.now ?? Date.now;
  // Its own connection pool: never a proxy (IMDS refuses forwarded requests), never shared with
  // the fetches that reach admin-configured hosts.
  const dispatcher = new Agent({ connect: { timeout: timeoutMs } });
  const cache = new Map<string, ManagedIdentityToken>();
  const inFlight = new Map<string, Promise<ManagedIdentityToken>>();

  async function request(resource: string, clientId: string | undefined): Promise<ManagedIdentityToken> {
    const url = new URL(TOKEN_PATH, base);
    url.searchParams.set('api-version', API_VERSION);
    url.searchParams.set('resource', resource);
    if (clientId) url.searchParams.set('client_id', clientId);
    const who = clientId ? `the user-assigned managed identity ${clientId}` : "the machine's system-assigned managed identity";
    let res: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      res = await undiciFetch(url, { headers: { Metadata: 'true' }, dispatcher, signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      throw new ManagedIdentityError(
        'imds_unreachable',
        `the Azure Instance Metadata Service at ${base} is unreachable from the runner (${cause}): managed identity works only where Azure provides it (a VM, a scale set, an AKS node or App Service with an identity assigned); elsewhere use a certificate or workload identity federation`,
      );
    }
    const text = (await res.text()).slice(0, 16 * 1024);
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON: described by status below.
    }
    if (!res.ok) {
      const description =
        typeof body.error_description === 'string' ? body.error_description.split(/\r?\n/)[0]!.slice(0, 200) : `HTTP ${res.status}`;
      if (/identity not found/i.test(description)) {
        throw new ManagedIdentityError(
          'identity_not_found',
          `${who} is not assigned to the machine the runner runs on (IMDS: ${description}): assign it to the VM or node, or enter the client id of an identity that is assigned`,
        );
      }
      throw new ManagedIdentityError(
        'imds_refused',
        `the Azure Instance Metadata Service refused the token request for ${who} (${res.status}: ${description})`,
      );
    }
    const accessToken = body.access_token;
    const expiresOn = Number(body.expires_on);
    const expiresIn = Number(body.expires_in);
    if (typeof accessToken !== 'string' || !accessToken)
      throw new ManagedIdentityError('imds_bad_answer', 'the Azure Instance Metadata Service answered without an access token');
    const expiresAt =
      Number.isFinite(expiresOn) && expiresOn > 0 ? expiresOn * 1000 : now() + (Number.isFinite(expiresIn) ? expiresIn : 3600) * 1000;
    return { accessToken, expiresAt, clientId: typeof body.client_id === 'string' ? body.client_id : null };
  }

  return {
    baseUrl: base,
    /** A token of the machine's managed identity for `resource`, cached until shortly before it expires. */
    async token(resource: string, clientId?: string | null): Promise<ManagedIdentityToken> {
      if (clientId && !GUID.test(clientId))
        throw new ManagedIdentityError('identity_not_found', 'the managed identity client id must be a GUID');
      const key = `${resource}|${clientId ?? ''}`;
      const hit = cache.get(key);
      if (hit && hit.expiresAt - REUSE_MARGIN_MS > now()) return hit;
      let pending = inFlight.get(key);
      if (!pending) {
        pending = measured(
          'managed_identity',
          () => request(resource, clientId ?? undefined),
          undefined,
          (err) => (err instanceof ManagedIdentityError ? err.problem : undefined),
        ).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      const token = await pending;
      cache.set(key, token);
      return token;
    },
    close: () => dispatcher.close(),
  };
}

export type ManagedIdentityClient = ReturnType<typeof createManagedIdentityClient>;
