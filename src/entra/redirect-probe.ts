// Does an Entra app accept Keyway's redirect URI? Entra checks client_id and redirect_uri before
// anyone signs in and answers a mismatch with its own error page (AADSTS50011), never with a
// redirect, so Keyway can find out at set-up time instead of leaving an admin's first user stranded
// on Entra's page. The request carries no secret and changes nothing.
//
// That the live service renders the AADSTS code in that page's text is what its error pages show;
// the exact markup is unconfirmed, so only the codes are looked for.
import { measured } from './metrics.ts';

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export type AuthorizeProbeOutcome = 'ok' | 'callback_mismatch' | 'unknown_client' | 'unknown_tenant' | 'unreachable' | 'invalid_authority';

/**
 * Sends the authorization request a user's Connect would send (client id and redirect URI, no
 * secret, nobody signed in) to `authorizeUrl` and reads which of Entra's pre-sign-in checks failed.
 * Used by app connections' probe and integrations' Save & Test.
 */
export async function probeAuthorizeEndpoint(
  authorizeUrl: string,
  req: { clientId: string; redirectUri: string },
  options: { allowInsecure: boolean; fetch?: FetchLike; timeoutMs?: number },
): Promise<AuthorizeProbeOutcome> {
  let url: URL;
  try {
    url = new URL(authorizeUrl);
  } catch {
    return 'invalid_authority';
  }
  if (url.protocol !== 'https:' && !options.allowInsecure) return 'invalid_authority';
  url.search = new URLSearchParams({
    client_id: req.clientId,
    response_type: 'code',
    redirect_uri: req.redirectUri,
    scope: 'openid',
    response_mode: 'query',
  }).toString();
  return measured(
    'redirect_probe',
    async (): Promise<AuthorizeProbeOutcome> => {
      let text: string;
      try {
        const res = await (options.fetch ?? fetch)(url.href, {
          method: 'GET',
          redirect: 'manual',
          signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
        });
        text = res.status >= 300 && res.status < 400 ? '' : (await res.text()).slice(0, 200_000);
      } catch {
        return 'unreachable';
      }
      if (/AADSTS50011\b/.test(text)) return 'callback_mismatch';
      if (/AADSTS700016\b/.test(text)) return 'unknown_client';
      if (/AADSTS90002\b/.test(text)) return 'unknown_tenant';
      return 'ok';
    },
    (outcome) => (outcome === 'ok' ? 'success' : outcome === 'unreachable' ? 'network' : outcome),
  );
}
