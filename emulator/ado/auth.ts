// Authentication as Azure DevOps does it: PATs over HTTP Basic (any user name), Entra access tokens
// as Bearer (or as the Basic password, which git users do), service principals only when added to
// the organization, and the organization's tenant and OAuth policy.
import type { FastifyReply } from 'fastify';
import { EntraTokenError, type AccessTokenClaims, type EntraEmulator } from '../entra/index.ts';
import { ZERO_GUID } from './ids.ts';
import { errors } from './errors.ts';
import { normalizeScopes } from './scopes.ts';
import type { Urls } from './urls.ts';
import type { Organization, PatRecord, ServicePrincipal, User, World } from './world.ts';

export type HostKind = 'services' | 'vssps' | 'server';

export type Credential =
  | { kind: 'none' }
  | { kind: 'basic'; username: string; password: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'unsupported'; scheme: string };

export type Principal =
  | { kind: 'user'; identity: User; method: 'pat'; scopes: string[]; pat: PatRecord }
  | { kind: 'user'; identity: User; method: 'bearer'; scopes: string[]; claims: AccessTokenClaims }
  | { kind: 'servicePrincipal'; identity: ServicePrincipal; method: 'bearer'; scopes: string[]; claims: AccessTokenClaims };

export type AuthFailure =
  | { kind: 'anonymous' }
  /** Unknown, malformed, expired or revoked credential, or a PAT not valid for this organization. */
  | { kind: 'invalid'; reason: string }
  /** A valid identity that this organization does not let in (not a member, other tenant, OAuth policy). */
  | { kind: 'denied'; who: string; reason: string }
  /** A service principal that was never added to the organization. */
  | { kind: 'spNotMember'; who: string };

export type AuthOutcome = { ok: true; principal: Principal } | { ok: false; failure: AuthFailure };

export interface AuthEnv {
  world: World;
  entra: EntraEmulator;
  urls: Urls;
}

export function readCredential(header: string | undefined): Credential {
  if (!header) return { kind: 'none' };
  const m = /^(\S+)\s+(.*)$/.exec(header.trim());
  if (!m) return { kind: 'unsupported', scheme: header };
  const scheme = m[1]!.toLowerCase();
  const value = m[2]!.trim();
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i < 0
      ? { kind: 'basic', username: '', password: decoded }
      : { kind: 'basic', username: decoded.slice(0, i), password: decoded.slice(i + 1) };
  }
  if (scheme === 'bearer') return { kind: 'bearer', token: value };
  return { kind: 'unsupported', scheme: m[1]! };
}

const looksLikeJwt = (s: string): boolean => /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(s);

export interface AuthTarget {
  host: HostKind;
  /** The organization (or Server collection) addressed; undefined for app.vssps global endpoints. */
  org?: Organization;
  /**
   * app.vssps.visualstudio.com endpoints (profile, accounts) take only all-organization PATs
   * (community reports; unconfirmed by Microsoft documentation).
   */
  requireAllOrgsPat?: boolean;
}

export async function authenticate(env: AuthEnv, header: string | undefined, target: AuthTarget): Promise<AuthOutcome> {
  const cred = readCredential(header);
  if (cred.kind === 'none') return { ok: false, failure: { kind: 'anonymous' } };
  if (cred.kind === 'unsupported') return { ok: false, failure: { kind: 'invalid', reason: `unsupported scheme ${cred.scheme}` } };
  if (cred.kind === 'basic') {
    if (!cred.password) return { ok: false, failure: { kind: 'invalid', reason: 'empty password' } };
    const pat = env.world.findPatByToken(cred.password);
    if (pat) return checkPat(env, pat, target);
    // Git users may send an Entra access token as the Basic password
    // (docs/azure-devops.md, "Git over HTTPS").
    if (looksLikeJwt(cred.password) && target.host !== 'server') return checkBearer(env, cred.password, target);
    return { ok: false, failure: { kind: 'invalid', reason: 'unknown credential' } };
  }
  // Azure DevOps Server authenticates with PATs (and Windows auth, not emulated); it does not accept
  // Entra access tokens.
  if (target.host === 'server')
    return { ok: false, failure: { kind: 'invalid', reason: 'bearer tokens are not accepted by Azure DevOps Server' } };
  return checkBearer(env, cred.token, target);
}

function checkPat(env: AuthEnv, pat: PatRecord, target: AuthTarget): AuthOutcome {
  const state = env.world.patState(pat);
  if (state !== 'active') return { ok: false, failure: { kind: 'invalid', reason: `PAT ${state}` } };
  const user = env.world.userById(pat.userId);
  if (!user) return { ok: false, failure: { kind: 'invalid', reason: 'PAT owner deleted' } };
  if (target.requireAllOrgsPat && pat.targetOrgIds !== null) {
    return { ok: false, failure: { kind: 'invalid', reason: 'PAT is not valid for all organizations' } };
  }
  if (target.org) {
    if (pat.targetOrgIds !== null && !pat.targetOrgIds.includes(target.org.id)) {
      return { ok: false, failure: { kind: 'invalid', reason: 'PAT not valid for this organization' } };
    }
    if (!target.org.members.has(user.id)) return { ok: false, failure: { kind: 'denied', who: user.id, reason: 'not a member' } };
  }
  return { ok: true, principal: { kind: 'user', identity: user, method: 'pat', scopes: pat.scopes, pat } };
}

async function checkBearer(env: AuthEnv, token: string, target: AuthTarget): Promise<AuthOutcome> {
  let claims: AccessTokenClaims;
  try {
    claims = await env.entra.verifyAccessToken(token);
  } catch (e) {
    const reason = e instanceof EntraTokenError ? `access token ${e.reason}` : 'access token invalid';
    return { ok: false, failure: { kind: 'invalid', reason } };
  }
  const org = target.org;
  const isApp = claims.idtyp === 'app' || (!claims.scp && !claims.upn);
  if (isApp) {
    if (!org) return { ok: false, failure: { kind: 'denied', who: claims.oid, reason: 'service principal outside an organization' } };
    const sp = env.world.findServicePrincipal(org, claims.tid, claims.appid);
    if (!sp || org.tenantId !== claims.tid) return { ok: false, failure: { kind: 'spNotMember', who: claims.oid } };
    return { ok: true, principal: { kind: 'servicePrincipal', identity: sp, method: 'bearer', scopes: ['.default'], claims } };
  }
  const user = env.world.userByOid(claims.oid);
  if (!user) return { ok: false, failure: { kind: 'denied', who: claims.oid, reason: 'no Azure DevOps identity for this user' } };
  if (org) {
    if (org.tenantId !== claims.tid)
      return { ok: false, failure: { kind: 'denied', who: user.id, reason: 'organization is connected to another tenant' } };
    if (!org.oauthPolicyAllowed)
      return { ok: false, failure: { kind: 'denied', who: user.id, reason: 'third-party OAuth access is disabled' } };
    if (!org.members.has(user.id)) return { ok: false, failure: { kind: 'denied', who: user.id, reason: 'not a member' } };
  }
  return { ok: true, principal: { kind: 'user', identity: user, method: 'bearer', scopes: normalizeScopes(claims.scp ?? ''), claims } };
}

// ---- challenges -------------------------------------------------------------------------------

export function resourceTenant(org: Organization | undefined): string {
  return org?.tenantId ?? ZERO_GUID;
}

/** Headers every 401 from the cloud carries; the Server offers Basic only. */
export function challengeHeaders(urls: Urls, host: HostKind, org: Organization | undefined): Record<string, string | string[]> {
  if (host === 'server') {
    // Only Basic: advertising NTLM/Negotiate would make libcurl pick them for a git PAT and fail.
    return { 'WWW-Authenticate': `Basic realm="${urls.server}/"` };
  }
  const tenant = resourceTenant(org);
  // For a Microsoft-account organization (all-zero tenant) the authority is `common` (unconfirmed).
  const authority = tenant === ZERO_GUID ? `${urls.login}/common` : `${urls.login}/${tenant}`;
  const headers: Record<string, string | string[]> = {
    'WWW-Authenticate': [`Bearer authorization_uri=${authority}`, `Basic realm="${urls.services}/"`, 'TFS-Federated'],
    'X-TFS-FedAuthRealm': `${urls.services}/`,
    'X-TFS-FedAuthIssuer': `${urls.services}/`,
    'X-VSS-AuthorizationEndpoint': `${urls.vssps}/`,
  };
  if (org) headers['X-VSS-ResourceTenant'] = tenant;
  return headers;
}

/**
 * Headers of the answer for an organization that does not exist: a 401 naming no tenant at all —
 * no X-VSS-ResourceTenant and no `Bearer authorization_uri` — so a client cannot learn whether the
 * name exists or which directory it would belong to. Decided from public evidence, exact answer
 * unconfirmed (docs/azure-devops-emulator.md, "Unknown organization"): az devops reports
 * "permission denied" for a mistyped organization (Azure/azure-cli#32897), and Microsoft's git
 * credential manager falls back to the `common` authority when the organization URL's answer carries
 * neither a Bearer challenge nor X-VSS-ResourceTenant (AzureDevOpsRestApi.GetAuthorityAsync in
 * git-ecosystem/git-credential-manager).
 */
export function unknownOrgHeaders(urls: Urls, host: HostKind): Record<string, string | string[]> {
  if (host === 'server') return challengeHeaders(urls, host, undefined);
  return {
    'WWW-Authenticate': [`Basic realm="${urls.services}/"`, 'TFS-Federated'],
    'X-TFS-FedAuthRealm': `${urls.services}/`,
    'X-VSS-AuthorizationEndpoint': `${urls.vssps}/`,
  };
}

export function signInPage(urls: Urls, replyTo: string): string {
  const href = urls.signInUrl(replyTo).replace(/&/g, '&amp;');
  return `<!DOCTYPE html>
<html lang="en-US">
<head><meta charset="utf-8"><title>Azure DevOps Services | Sign In</title></head>
<body>
<p>You need to sign in to continue.</p>
<p><a id="signin" href="${href}">Sign in</a></p>
</body>
</html>
`;
}

/**
 * REST answer to a failed authentication:
 * - a rejected credential without `X-TFS-FedAuthRedirect: Suppress` → 203 with the HTML sign-in page
 *   (the service may also answer 302 with `X-TFS-FedAuthRedirect`; 203 is what `_apis` callers see
 *   most often, so the emulator picks it);
 * - with Suppress, anonymous callers, and identities the organization refuses → 401 with the
 *   challenge headers and a TF400813 body.
 */
export function sendRestAuthFailure(
  reply: FastifyReply,
  failure: AuthFailure,
  p: { urls: Urls; host: HostKind; org?: Organization; suppress: boolean; requestUrl: string },
): FastifyReply {
  const headers = challengeHeaders(p.urls, p.host, p.org);
  if (failure.kind === 'invalid' && !p.suppress) {
    const h = { ...headers };
    delete h['WWW-Authenticate'];
    return reply.code(203).headers(h).type('text/html; charset=utf-8').send(signInPage(p.urls, p.requestUrl));
  }
  const err = failure.kind === 'anonymous' || failure.kind === 'invalid' ? errors.anonymous() : errors.notAuthorized(failure.who);
  return reply.code(401).headers(headers).type('application/json; charset=utf-8').send(err.body());
}

export function wantsSuppress(headerValue: string | string[] | undefined): boolean {
  const v = Array.isArray(headerValue) ? headerValue[0] : headerValue;
  return typeof v === 'string' && v.trim().toLowerCase() === 'suppress';
}
