// The one place Keyway talks OpenID Connect and OAuth to Entra ID (and, for sign-in, to another
// OpenID provider), as src/azure-devops/ is for Azure DevOps: issuer discovery behind one cache,
// the authorization code flow, refresh, client credentials, each call counted (src/entra/metrics.ts)
// and its failures described by src/entra/errors.ts. Nothing outside src/entra imports openid-client.
import * as client from 'openid-client';
import { withEntraAnswer } from './errors.ts';
import { measured } from './metrics.ts';

/** A configured client for one issuer and one app (its client id and credential). */
export type EntraConfiguration = client.Configuration;
/** A client assertion method (src/entra/client-auth.ts); a string credential is a client secret. */
export type ClientAuth = client.ClientAuth;
export type EntraCredential = string | ClientAuth;
export type EntraTokenResponse = Awaited<ReturnType<typeof client.authorizationCodeGrant>>;

export interface EntraClientOptions {
  /** Permit http:// issuers (the bundled emulator). Never in production. */
  allowInsecure?: boolean;
  timeoutSeconds?: number;
  /** Tests: another cache than the process's. */
  cache?: DiscoveryCache;
}

export interface EntraApp {
  /** The tenant-specific issuer, `{authority}/{tenant-id}/v2.0` (src/entra/issuer.ts). */
  issuerUrl: string;
  clientId: string;
  credential: EntraCredential;
}

/** A string is a client secret (client_secret_post); anything else is a client assertion method (src/entra/client-auth.ts). */
function toClientAuth(credential: EntraCredential): ClientAuth {
  return typeof credential === 'string' ? client.ClientSecretPost(credential) : credential;
}

interface Entry {
  metadata: Promise<client.ServerMetadata>;
  expiresAt: number;
  /** The issuer's signing keys as last fetched (ID token checks), handed to every new configuration. */
  jwks?: ReturnType<typeof client.getJwksCache>;
}

export interface DiscoveryCacheOptions {
  /** How long a discovered issuer is used before it is discovered again. Default 10 minutes. */
  ttlMs?: number;
  /** Past this many issuers the oldest is dropped. Default 200. */
  maxEntries?: number;
  now?: () => number;
}

/**
 * Discovered issuers, by issuer URL and whether insecure requests are allowed. Discovery needs no
 * client credential, so every app of an issuer shares one discovery; each call then gets a
 * configuration of its own with its client id and credential (built from the cached metadata: no
 * request). Concurrent discoveries of one issuer share one request; a failed one is forgotten at
 * once, so the next call tries again.
 */
export function createDiscoveryCache(options: DiscoveryCacheOptions = {}) {
  const ttl = options.ttlMs ?? 10 * 60_000;
  const max = options.maxEntries ?? 200;
  const now = options.now ?? Date.now;
  const entries = new Map<string, Entry>();
  /** The cache entry a configuration was built from, so what it learns (keys) is kept. */
  const origin = new WeakMap<client.Configuration, Entry>();

  function entryFor(issuerUrl: string, opts: EntraClientOptions): Entry {
    const key = `${opts.allowInsecure ? 'insecure' : 'tls'}|${issuerUrl}`;
    const hit = entries.get(key);
    if (hit && hit.expiresAt > now()) return hit;
    if (hit) entries.delete(key);
    const metadata = measured('discovery', async () => {
      try {
        // The client id and authentication are not used by discovery; each call sets its own below.
        const found = await client.discovery(new URL(issuerUrl), 'discovery', undefined, client.None(), {
          execute: opts.allowInsecure ? [client.allowInsecureRequests] : [],
          timeout: opts.timeoutSeconds ?? 15,
        });
        return found.serverMetadata();
      } catch (err) {
        throw await withEntraAnswer(err);
      }
    });
    const entry: Entry = { metadata, expiresAt: now() + ttl };
    metadata.catch(() => {
      if (entries.get(key) === entry) entries.delete(key);
    });
    entries.set(key, entry);
    while (entries.size > max) entries.delete(entries.keys().next().value!);
    return entry;
  }

  return {
    /** A configuration for `app`, discovering its issuer only when the cache has none (or an expired one). */
    async configuration(app: EntraApp, opts: EntraClientOptions = {}): Promise<EntraConfiguration> {
      const entry = entryFor(app.issuerUrl, opts);
      const config = build(await entry.metadata, app.clientId, app.credential, opts);
      if (entry.jwks) client.setJwksCache(config, entry.jwks);
      origin.set(config, entry);
      return config;
    },

    /** After a call that may have fetched the issuer's keys: keep them for the next configuration. */
    learned(config: EntraConfiguration): void {
      const entry = origin.get(config);
      const jwks = client.getJwksCache(config);
      if (entry && jwks) entry.jwks = jwks;
    },

    /** The number of issuers held (tests). */
    get size() {
      return entries.size;
    },

    clear(): void {
      entries.clear();
    },
  };
}

export type DiscoveryCache = ReturnType<typeof createDiscoveryCache>;

/** The process's discoveries: every runner-side and sign-in caller shares them. */
export const discoveryCache = createDiscoveryCache();

function build(metadata: client.ServerMetadata, clientId: string, credential: EntraCredential, opts: EntraClientOptions) {
  const config = new client.Configuration(metadata, clientId, undefined, toClientAuth(credential));
  if (opts.allowInsecure) client.allowInsecureRequests(config);
  config.timeout = opts.timeoutSeconds ?? 15;
  return config;
}

/**
 * A configured client for `app`. openid-client compares the discovered `issuer` with the URL
 * exactly (RFC 8414 §3.3), so only tenant-specific issuers pass; see src/entra/issuer.ts for the
 * common/organizations case. Failures are described by describeEntraFailure (src/entra/errors.ts).
 */
export function entraConfiguration(app: EntraApp, options: EntraClientOptions = {}): Promise<EntraConfiguration> {
  return (options.cache ?? discoveryCache).configuration(app, options);
}

/**
 * The same issuer with another client authentication (a certificate pinned for a test), without
 * discovering it again.
 */
export function withClientAuth(
  config: EntraConfiguration,
  clientId: string,
  credential: EntraCredential,
  options: EntraClientOptions = {},
): EntraConfiguration {
  return build(config.serverMetadata(), clientId, credential, options);
}

export const randomPKCECodeVerifier = client.randomPKCECodeVerifier;
export const randomState = client.randomState;
export const randomNonce = client.randomNonce;

/** The PKCE challenge (S256) of a code verifier. */
export const pkceChallenge = client.calculatePKCECodeChallenge;

/** The authorization URL the browser is sent to, with `params` in the order given. No request is made. */
export function authorizationUrl(config: EntraConfiguration, params: Record<string, string>): URL {
  return client.buildAuthorizationUrl(config, params);
}

/** Redeems an authorization code; openid-client checks state, nonce, PKCE and the ID token. */
export async function redeemAuthorizationCode(
  config: EntraConfiguration,
  currentUrl: URL,
  checks: client.AuthorizationCodeGrantChecks,
  options: { cache?: DiscoveryCache } = {},
): Promise<EntraTokenResponse> {
  try {
    return await measured('authorization_code', () => client.authorizationCodeGrant(config, currentUrl, checks));
  } finally {
    (options.cache ?? discoveryCache).learned(config);
  }
}

/** A refresh token grant. */
export function refreshToken(config: EntraConfiguration, token: string, parameters: Record<string, string>) {
  return measured('refresh_token', () => client.refreshTokenGrant(config, token, parameters));
}

/** A client credentials grant (a service principal's own token). */
export function clientCredentialsToken(config: EntraConfiguration, parameters: Record<string, string>) {
  return measured('client_credentials', () => client.clientCredentialsGrant(config, parameters));
}
