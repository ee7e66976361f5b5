// Client authentication with a signed assertion (RFC 7523, OpenID Connect `private_key_jwt`), as
// Entra checks it at the token endpoint:
// - a certificate credential: `iss` = `sub` = the client id, signed with the key of a certificate
//   registered on the app and named by the `x5t#S256` (or legacy `x5t`) header, `aud` = the
//   tenant's token endpoint, within `nbf`/`exp`, a `jti` never seen before;
// - a federated identity credential: a token from another issuer (a Kubernetes cluster, a managed
//   identity) whose issuer, subject and audience match one of the app's federated credentials
//   exactly, verified with the issuer's published keys (OIDC discovery → jwks_uri).
// Microsoft: https://learn.microsoft.com/entra/identity-platform/certificate-credentials and
// https://learn.microsoft.com/entra/workload-id/workload-identity-federation
import { compactVerify, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { EntraContext } from './context.ts';
import { aadsts } from './errors.ts';
import { GUID_RE, entraTimestamp } from './ids.ts';
import type { EntraApp, EntraTenant } from './directory.ts';
import type { RegisteredCertificate } from './app-credentials.ts';
import { v2Issuer } from './tokens.ts';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ALGORITHMS = ['PS256', 'RS256'];

/** The client id an assertion speaks for when the request does not name one: its issuer, for a certificate assertion. */
export function assertionClientId(assertion: string): string | undefined {
  try {
    const iss = decodeJwt(assertion).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

/** Verifies the assertion; answers which kind of credential it was. */
export async function verifyClientAssertion(
  ctx: EntraContext,
  app: EntraApp,
  tenant: EntraTenant,
  assertionType: string | undefined,
  assertion: string,
): Promise<'certificate' | 'federated'> {
  if (assertionType !== JWT_BEARER) throw aadsts.assertionTypeInvalid(assertionType ?? '');
  let header: ProtectedHeaderParameters;
  let claims: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    claims = decodeJwt(assertion);
  } catch {
    throw aadsts.assertionMalformed('The client assertion is not a well-formed JWS.');
  }
  if (typeof claims.iss !== 'string') throw aadsts.assertionMalformed('The client assertion has no iss claim.');
  if (claims.iss.toLowerCase() === app.clientId) {
    await verifyCertificateAssertion(ctx, app, tenant, header, claims, assertion);
    return 'certificate';
  }
  // An application id that is not client_id's: another app's certificate assertion.
  if (GUID_RE.test(claims.iss)) throw aadsts.assertionClientMismatch();
  await verifyFederatedAssertion(ctx, app, claims, assertion);
  return 'federated';
}

function timeRange(ctx: EntraContext, claims: JWTPayload): void {
  if (typeof claims.exp !== 'number') throw aadsts.assertionMalformed('The client assertion has no exp claim.');
  const now = ctx.nowMs();
  const from = typeof claims.nbf === 'number' ? claims.nbf * 1000 : 0;
  // No clock-skew allowance: the emulator's clock is the client's in tests (determinism beats realism).
  if (now >= claims.exp * 1000 || now < from)
    throw aadsts.assertionTimeRange(entraTimestamp(now), entraTimestamp(from), entraTimestamp(claims.exp * 1000));
}

function thumbprintHex(b64url: string): string {
  return Buffer.from(b64url, 'base64url').toString('hex').toUpperCase();
}

async function verifyCertificateAssertion(
  ctx: EntraContext,
  app: EntraApp,
  tenant: EntraTenant,
  header: ProtectedHeaderParameters,
  claims: JWTPayload,
  assertion: string,
): Promise<void> {
  if (claims.sub !== claims.iss) throw aadsts.assertionSubjectMismatchesIssuer();
  if (!header.alg || !ALGORITHMS.includes(header.alg))
    throw aadsts.assertionMalformed(`The client assertion's alg '${String(header.alg)}' is not supported; use PS256 (or RS256).`);
  const s256 = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : undefined;
  const s1 = typeof header.x5t === 'string' ? header.x5t : undefined;
  if (!s256 && !s1) throw aadsts.assertionNoThumbprint();
  const presented = (s256 ?? s1)!;
  const cert: RegisteredCertificate | undefined = app.certificates.find((c) => (s256 ? c.x5tS256 === s256 : c.x5t === s1));
  if (!cert) throw aadsts.assertionKeyNotFound(thumbprintHex(presented), app.clientId);
  const now = ctx.nowMs();
  if (cert.endDate <= now) throw aadsts.assertionKeyExpired(thumbprintHex(presented), app.clientId, entraTimestamp(cert.endDate));
  try {
    await compactVerify(assertion, cert.publicKey, { algorithms: [header.alg] });
  } catch {
    throw aadsts.assertionBadSignature(thumbprintHex(presented), entraTimestamp(cert.startDate), entraTimestamp(cert.endDate));
  }
  const origin = ctx.origin();
  const audiences = new Set([tenant.id, tenant.domain].flatMap((t) => [`${origin}/${t}/oauth2/v2.0/token`, `${origin}/${t}/oauth2/token`]));
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!aud.some((a) => typeof a === 'string' && audiences.has(a))) throw aadsts.assertionAudience();
  timeRange(ctx, claims);
  if (typeof claims.jti !== 'string' || !claims.jti) throw aadsts.assertionMalformed('The client assertion has no jti claim.');
  if (ctx.assertions.spend(`${app.clientId}|${claims.jti}`, (claims.exp as number) * 1000, now)) throw aadsts.assertionReplayed();
}

const remoteKeys = new Map<string, { keys: ReturnType<typeof createRemoteJWKSet>; at: number }>();

/** The issuer's keys, found the way Entra finds them: OIDC discovery, then jwks_uri. */
async function issuerKeys(issuer: string): Promise<ReturnType<typeof createRemoteJWKSet>> {
  const hit = remoteKeys.get(issuer);
  if (hit && Date.now() - hit.at < 60_000) return hit.keys;
  const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`discovery answered ${res.status}`);
  const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
  if (doc.issuer !== issuer || typeof doc.jwks_uri !== 'string')
    throw new Error('the discovery document does not name this issuer or a jwks_uri');
  const keys = createRemoteJWKSet(new URL(doc.jwks_uri), { cacheMaxAge: 60_000 });
  remoteKeys.set(issuer, { keys, at: Date.now() });
  return keys;
}

async function verifyFederatedAssertion(ctx: EntraContext, app: EntraApp, claims: JWTPayload, assertion: string): Promise<void> {
  const issuer = claims.iss as string;
  // Matching is exact and case-sensitive (Microsoft announced case-sensitive matching in 2025).
  const byIssuer = app.federatedCredentials.filter((f) => f.issuer === issuer);
  if (byIssuer.length === 0) throw aadsts.federatedIssuer(issuer);
  try {
    const ownTenant = [...ctx.store.tenants.values()].find((t) => v2Issuer(ctx.origin(), t.id) === issuer);
    if (ownTenant) await ctx.tokens.verifyOwnSignature(assertion);
    else await compactVerify(assertion, await issuerKeys(issuer), { algorithms: ['RS256', 'PS256', 'ES256'] });
  } catch {
    throw aadsts.federatedSignature(issuer);
  }
  timeRange(ctx, claims);
  const subject = typeof claims.sub === 'string' ? claims.sub : '';
  const bySubject = byIssuer.filter((f) => f.subject === subject);
  if (bySubject.length === 0) throw aadsts.federatedSubject(subject);
  const aud = (Array.isArray(claims.aud) ? claims.aud : [claims.aud]).filter((a): a is string => typeof a === 'string');
  if (!bySubject.some((f) => f.audiences.some((a) => aud.includes(a)))) throw aadsts.federatedAudience(aud.join(', '));
}
