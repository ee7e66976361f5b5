// The one place the management plane talks to identity providers for sign-in, through src/entra
// (which holds openid-client): discovery (cached per issuer, one cache for the process), the
// authorization URL, and the code redemption with its checks (state, PKCE, nonce, ID token
// signature, issuer, audience, expiry).
import { authorizationUrl, entraConfiguration, pkceChallenge, redeemAuthorizationCode } from '../../entra/client.ts';
import type { EntraConfiguration } from '../../entra/client.ts';
import { describeEntraFailure, describeSignInFailure } from '../../entra/errors.ts';
import { readDiscoveryDocument } from '../../entra/tenant-lookup.ts';

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

const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

/** `{authority}/{tenant}/v2.0`: tenant-specific, so openid-client checks the ID token's issuer exactly. */
export function entraIssuer(authorityOrigin: string, tenantId: string): string {
  return `${authorityOrigin}/${tenantId}/v2.0`;
}

export function createSsoClient(options: SsoClientOptions) {
  const timeout = options.timeoutSeconds ?? 15;

  function configuration(issuer: string, provider: SsoProviderConfig): Promise<EntraConfiguration> {
    // A failed discovery is not remembered: the next sign-in tries again.
    return entraConfiguration(
      { issuerUrl: issuer, clientId: provider.clientId, credential: provider.clientSecret },
      { allowInsecure: options.allowInsecure, timeoutSeconds: timeout },
    );
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
      const url = authorizationUrl(config, {
        redirect_uri: params.redirectUri,
        scope: 'openid profile email',
        response_type: 'code',
        state: params.state,
        nonce: params.nonce,
        code_challenge: await pkceChallenge(params.codeVerifier),
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
        const tokens = await redeemAuthorizationCode(config, callbackUrl, {
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
        const failure = describeSignInFailure(err, issuer);
        throw new SsoProviderError(failure.code, failure.message);
      }
    },

    /**
     * The tenant behind a verified domain of Entra ID, from the domain's discovery document (its
     * issuer names the tenant's GUID); undefined when Entra knows no such domain.
     */
    async entraTenantForDomain(authorityOrigin: string, domain: string): Promise<string | undefined> {
      const url = `${authorityOrigin}/${encodeURIComponent(domain)}/v2.0/.well-known/openid-configuration`;
      let res: Awaited<ReturnType<typeof readDiscoveryDocument>>;
      try {
        res = await readDiscoveryDocument(url, { timeoutMs: timeout * 1000, redirect: 'error' });
      } catch {
        throw new SsoProviderError('provider_unreachable', `Entra ID at ${new URL(authorityOrigin).host} is unreachable`);
      }
      if (!res.ok) return undefined;
      const doc = res.body;
      const match = typeof doc.issuer === 'string' ? GUID.exec(doc.issuer) : null;
      return match?.[0].toLowerCase();
    },
  };
}

export type SsoClient = ReturnType<typeof createSsoClient>;
