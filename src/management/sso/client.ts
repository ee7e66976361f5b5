// The one place the management plane talks to identity providers for sign-in, through
// openid-client: discovery (cached per issuer), the authorization URL, and the code redemption with
// its checks (state, PKCE, nonce, ID token signature, issuer, audience, expiry).
import * as client from 'openid-client';
import { aadstsCode, describeEntraFailure } from '../../entra/oidc.ts';

export interface SsoProviderConfig {
  clientId: string;
  clientSecret: string;
}

export interface EntraSsoConfig extends SsoProviderConfig {
  /** KEYWAY_ENTRA_AUTHORITY_URL: https://login.microsoftonline.com, a sovereign cloud, or the emulator. */
  authorityOrigin: string;
}

export interface OidcSsoConfig extends SsoProviderConfig {
  issuer: string;
  /** The sign-in button's label, e.g. "Okta". */
  name: string;
}

export interface SsoClientOptions {
  /** KEYWAY_ALLOW_INSECURE_HOSTS: http:// issuers (the emulator). */
  allowInsecure: boolean;
  timeoutSeconds?: number;
}

export class SsoProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SsoProviderError';
  }
}

// What an identity provider's refusal on the way back means for the person signing in (Microsoft's
// AADSTS error code reference).
const REFUSALS: Record<number, string> = {
  50011:
    "the sign-in URL Keyway uses is not registered on the identity provider's app; an operator must add {KEYWAY_PUBLIC_URL}/api/v1/auth/sso/callback as a Web redirect URI",
  50057: 'your account is disabled at your identity provider',
  50105: 'you are not assigned to the Keyway sign-in application; ask your identity provider admin to assign you',
  65001: 'the Keyway sign-in application has not been consented in your tenant; ask your identity provider admin to consent',
  65004: 'the sign-in was cancelled',
  700016: 'the Keyway sign-in application does not exist in your tenant; it must be registered as multi-tenant, or your tenant consented',
  90002: 'your tenant does not exist at this identity provider',
};

function refusal(error: string, description: string | undefined): string {
  const code = aadstsCode(description);
  const known = code !== undefined ? REFUSALS[code] : undefined;
  if (known) return `${known} (AADSTS${code})`;
  if (error === 'access_denied') return 'the sign-in was cancelled or refused';
  return `the identity provider refused the sign-in: ${error}${description ? ` — ${description.split(/\r?\n/)[0]!.slice(0, 200)}` : ''}`;
}

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** `{authority}/{tenant}/v2.0`: tenant-specific, so openid-client checks the ID token's issuer exactly. */
export function entraIssuer(authorityOrigin: string, tenantId: string): string {
  return `${authorityOrigin}/${tenantId}/v2.0`;
}

export function createSsoClient(options: SsoClientOptions) {
  const configs = new Map<string, Promise<client.Configuration>>();
  const execute = options.allowInsecure ? [client.allowInsecureRequests] : [];
  const timeout = options.timeoutSeconds ?? 15;

  function configuration(issuer: string, provider: SsoProviderConfig): Promise<client.Configuration> {
    const key = `${issuer}|${provider.clientId}`;
    let found = configs.get(key);
    if (!found) {
      found = client.discovery(new URL(issuer), provider.clientId, undefined, client.ClientSecretPost(provider.clientSecret), {
        execute,
        timeout,
      });
      // A failed discovery is not remembered: the next sign-in tries again.
      found.catch(() => configs.delete(key));
      configs.set(key, found);
    }
    return found;
  }

  return {
    /** The URL to send the browser to, with PKCE (S256), state and nonce. */
    async authorizationUrl(
      issuer: string,
      provider: SsoProviderConfig,
      params: { redirectUri: string; state: string; nonce: string; codeVerifier: string; loginHint?: string; prompt?: string },
    ): Promise<string> {
      const config = await configuration(issuer, provider).catch((err: unknown) => {
        throw new SsoProviderError(
          'provider_unreachable',
          `the identity provider's discovery at ${issuer} failed: ${describeEntraFailure(err, { issuerUrl: issuer }).message}`,
        );
      });
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: params.redirectUri,
        scope: 'openid profile email',
        response_type: 'code',
        state: params.state,
        nonce: params.nonce,
        code_challenge: await client.calculatePKCECodeChallenge(params.codeVerifier),
        code_challenge_method: 'S256',
        ...(params.loginHint ? { login_hint: params.loginHint } : {}),
        ...(params.prompt ? { prompt: params.prompt } : {}),
      });
      return url.href;
    },

    /** Redeems the code and returns the verified ID token's claims; refuses anything that does not check out. */
    async redeem(
      issuer: string,
      provider: SsoProviderConfig,
      callbackUrl: URL,
      checks: { state: string; nonce: string; codeVerifier: string },
    ): Promise<Record<string, unknown>> {
      const config = await configuration(issuer, provider);
      try {
        const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
        const claims = tokens.claims();
        if (!claims) throw new SsoProviderError('no_id_token', 'the identity provider answered without an ID token');
        return { ...claims };
      } catch (err) {
        if (err instanceof SsoProviderError) throw err;
        if (err instanceof client.AuthorizationResponseError)
          throw new SsoProviderError(
            err.error === 'access_denied' ? 'sign_in_cancelled' : 'provider_refused',
            refusal(err.error, err.error_description),
          );
        const failure = describeEntraFailure(err, { issuerUrl: issuer });
        throw new SsoProviderError(
          failure.error === 'unexpected' ? 'invalid_response' : failure.error,
          `the sign-in could not be completed: ${failure.message}`,
        );
      }
    },

    /**
     * The tenant behind a verified domain of Entra ID, from the domain's discovery document (its
     * issuer names the tenant's GUID); undefined when Entra knows no such domain.
     */
    async entraTenantForDomain(authorityOrigin: string, domain: string): Promise<string | undefined> {
      const url = `${authorityOrigin}/${encodeURIComponent(domain)}/v2.0/.well-known/openid-configuration`;
      let res: Response;
      try {
        res = await fetch(url, { signal: AbortSignal.timeout(timeout * 1000), redirect: 'error' });
      } catch {
        throw new SsoProviderError('provider_unreachable', `Entra ID at ${new URL(authorityOrigin).host} is unreachable`);
      }
      if (!res.ok) return undefined;
      const doc = (await res.json().catch(() => ({}))) as { issuer?: unknown };
      const match = typeof doc.issuer === 'string' ? GUID.exec(doc.issuer) : null;
      return match?.[0].toLowerCase();
    },
  };
}

export type SsoClient = ReturnType<typeof createSsoClient>;
