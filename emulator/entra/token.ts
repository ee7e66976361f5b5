// POST /{tenant}/oauth2/v2.0/token: client authentication and the three grants Keyway uses.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { EntraContext } from './context.ts';
import { EntraOAuthError, aadsts } from './errors.ts';
import { assertionClientId, verifyClientAssertion } from './client-assertion.ts';
import { errorContext, isFormRequest, noStore, sendOAuthError, singleParams } from './http.ts';
import { entraTimestamp } from './ids.ts';
import type { EntraApp, EntraTenant, EntraUser } from './directory.ts';
import { pkceVerifierMatches, redirectUriMatches } from './policy.ts';
import { parseClientCredentialsScope, responseScope, scopeForRefresh, type GrantScope } from './scopes.ts';
import { CODE_LIFETIME_MS, directoryName, type TenantRef } from './store.ts';

type TenantParams = { Params: { tenant: string } };

const GRANTS = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

export interface TokenResponse {
  token_type: 'Bearer';
  scope?: string;
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

export function tokenRoutes(app: FastifyInstance, ctx: EntraContext): void {
  app.get<TenantParams>('/:tenant/oauth2/v2.0/token', async (req, reply) =>
    sendOAuthError(reply, aadsts.tokenEndpointGet(), errorContext(req, ctx)),
  );
  app.post<TenantParams>('/:tenant/oauth2/v2.0/token', async (req, reply) => {
    ctx.counters.tokenRequests++;
    const ectx = errorContext(req, ctx);
    try {
      const body = await handleToken(req, ctx);
      noStore(reply);
      return reply.code(200).type('application/json; charset=utf-8').send(body);
    } catch (err) {
      if (err instanceof EntraOAuthError) return sendOAuthError(reply, err, ectx);
      throw err;
    }
  });
}

async function handleToken(req: FastifyRequest<TenantParams>, ctx: EntraContext): Promise<TokenResponse> {
  // Entra reads form bodies only; anything else looks like an empty request.
  const body = isFormRequest(req) ? singleParams(req.body) : {};
  const grantType = body.grant_type;
  const key = grantType ?? '(missing)';
  ctx.counters.byGrant[key] = (ctx.counters.byGrant[key] ?? 0) + 1;

  const segment = req.params.tenant;
  const ref = ctx.store.resolveTenant(segment);
  if (!ref) throw aadsts.tenantNotFound(segment);
  if (!grantType) throw aadsts.missingParameter('grant_type');
  // Device code, on-behalf-of, password and SAML grants exist in Entra but not in this emulator.
  if (!GRANTS.has(grantType)) throw aadsts.unsupportedGrantType(grantType);
  const { app, tenant } = await authenticateClient(req, body, ref, segment, ctx);

  switch (grantType) {
    case 'authorization_code':
      return authorizationCode(body, ctx, tenant, app);
    case 'refresh_token':
      return refreshToken(body, ctx, tenant, app);
    default:
      return clientCredentials(body, ctx, tenant, app);
  }
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function decodeBasic(header: string): { id: string; secret: string } | undefined {
  const m = /^basic\s+(.+)$/i.exec(header.trim());
  if (!m) return undefined;
  const raw = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = raw.indexOf(':');
  if (i === -1) return undefined;
  try {
    const dec = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: dec(raw.slice(0, i)), secret: dec(raw.slice(i + 1)) };
  } catch {
    return undefined;
  }
}

async function authenticateClient(
  req: FastifyRequest,
  body: Record<string, string>,
  ref: TenantRef,
  segment: string,
  ctx: EntraContext,
): Promise<{ app: EntraApp; tenant: EntraTenant }> {
  // A certificate assertion names its client in `iss` when the request leaves client_id out.
  let clientId = body.client_id ?? (body.client_assertion !== undefined ? assertionClientId(body.client_assertion) : undefined);
  let secret = body.client_secret;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^basic\s/i.test(auth)) {
    const basic = decodeBasic(auth);
    if (!basic) throw aadsts.missingClientSecret();
    if (clientId !== undefined && clientId.toLowerCase() !== basic.id.toLowerCase()) {
      // Two different client identities in one request: refuse rather than pick one.
      throw aadsts.invalidClientSecret(basic.id);
    }
    clientId = basic.id;
    secret = basic.secret;
  }
  if (!clientId) throw aadsts.missingParameter('client_id');
  const app = ctx.store.findAppThrough(ref, clientId);
  if (!app) throw aadsts.appNotFound(clientId, directoryName(ref, segment));
  if (ref.kind === 'alias') throw aadsts.notMultiTenant(app.clientId, app.displayName, ref.alias);
  if (body.client_assertion !== undefined) {
    if (secret !== undefined) throw aadsts.twoClientCredentials();
    const kind = await verifyClientAssertion(ctx, app, ref.tenant, body.client_assertion_type, body.client_assertion);
    ctx.counters.byClientAuth[kind] = (ctx.counters.byClientAuth[kind] ?? 0) + 1;
    return { app, tenant: ref.tenant };
  }
  if (secret === undefined || secret === '') throw aadsts.missingClientSecret();
  const verdict = ctx.store.checkSecret(app, secret);
  if (verdict === 'expired') throw aadsts.expiredClientSecret(app.clientId);
  if (verdict === 'invalid') throw aadsts.invalidClientSecret(app.clientId);
  ctx.counters.byClientAuth.client_secret = (ctx.counters.byClientAuth.client_secret ?? 0) + 1;
  return { app, tenant: ref.tenant };
}

async function authorizationCode(
  body: Record<string, string>,
  ctx: EntraContext,
  tenant: EntraTenant,
  app: EntraApp,
): Promise<TokenResponse> {
  const code = body.code;
  if (!code) throw aadsts.missingParameter('code');
  const rec = ctx.store.getCode(code);
  if (!rec || rec.tenantId !== tenant.id) throw aadsts.malformedGrant();
  if (rec.clientId !== app.clientId) throw aadsts.grantClientMismatch();
  if (rec.redeemed) throw aadsts.codeRedeemed();
  if (ctx.nowMs() - rec.issuedAt > CODE_LIFETIME_MS) throw aadsts.grantExpired();
  const redirectUri = body.redirect_uri;
  if (redirectUri === undefined) throw aadsts.missingParameter('redirect_uri');
  if (redirectUri !== rec.redirectUri) {
    if (!app.redirectUris.some((r) => redirectUriMatches(r, redirectUri))) {
      throw aadsts.redirectUriNotRegisteredAtToken(redirectUri, app.clientId);
    }
    throw aadsts.redirectUriDiffersFromCode(redirectUri, rec.redirectUri);
  }
  if (rec.codeChallenge !== undefined) {
    const verifier = body.code_verifier;
    if (!verifier || !pkceVerifierMatches(rec.codeChallenge, rec.codeChallengeMethod ?? 'plain', verifier)) {
      throw aadsts.pkceMismatch();
    }
  }
  // A code_verifier without a challenge at authorize time is ignored (unconfirmed what Entra does).
  // The `scope` parameter of a code redemption is ignored too: the code carries its grant.
  const user = requireUser(ctx, rec.userOid);
  rec.redeemed = true;
  return issueUserTokens(ctx, tenant, app, user, rec.grant, rec.grant, rec.nonce);
}

async function refreshToken(body: Record<string, string>, ctx: EntraContext, tenant: EntraTenant, app: EntraApp): Promise<TokenResponse> {
  const token = body.refresh_token;
  if (!token) throw aadsts.missingParameter('refresh_token');
  const rec = ctx.store.getRefreshToken(token);
  if (!rec || rec.tenantId !== tenant.id) throw aadsts.malformedGrant();
  if (rec.clientId !== app.clientId) throw aadsts.grantClientMismatch();
  if (rec.revoked) throw aadsts.grantRevoked(entraTimestamp(rec.issuedAt));
  if (rec.expiresAt <= ctx.nowMs()) throw aadsts.refreshInactive(entraTimestamp(rec.issuedAt));
  if (rec.rotated && ctx.refreshReuseFails()) throw aadsts.refreshRotated();
  const grant = scopeForRefresh(rec.grant, body.scope, {
    tenantName: tenant.displayName,
    clientId: app.clientId,
    appName: app.displayName,
  });
  const user = requireUser(ctx, rec.userOid);
  // Entra rotates without revoking: the presented token stays usable until its own expiry.
  rec.rotated = true;
  return issueUserTokens(ctx, tenant, app, user, grant, rec.grant, undefined);
}

async function clientCredentials(
  body: Record<string, string>,
  ctx: EntraContext,
  tenant: EntraTenant,
  app: EntraApp,
): Promise<TokenResponse> {
  const scope = parseClientCredentialsScope(body.scope, tenant.displayName);
  const lifetime = ctx.accessTokenLifetime();
  const at = await ctx.tokens.appAccessToken({
    tid: tenant.id,
    clientId: app.clientId,
    servicePrincipalObjectId: app.servicePrincipalObjectId,
    scope,
    lifetimeSeconds: lifetime,
  });
  // Entra's client-credentials answer has no `scope` member (and never a refresh or ID token).
  return { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: at.token };
}

function requireUser(ctx: EntraContext, oid: string): EntraUser {
  const user = ctx.store.users.get(oid);
  if (!user) throw aadsts.malformedGrant();
  if (user.disabled) throw aadsts.userDisabled();
  return user;
}

/**
 * `grant` shapes this response; `storedGrant` is what a new refresh token may later ask for
 * (Entra binds refresh tokens to user and client, not to the narrowed scope of one request).
 */
async function issueUserTokens(
  ctx: EntraContext,
  tenant: EntraTenant,
  app: EntraApp,
  user: EntraUser,
  grant: GrantScope,
  storedGrant: GrantScope,
  nonce: string | undefined,
): Promise<TokenResponse> {
  const lifetime = ctx.accessTokenLifetime();
  const at = await ctx.tokens.userAccessToken({ tid: tenant.id, clientId: app.clientId, user, grant, lifetimeSeconds: lifetime });
  const out: TokenResponse = {
    token_type: 'Bearer',
    scope: responseScope(grant),
    expires_in: lifetime,
    ext_expires_in: lifetime,
    access_token: at.token,
  };
  // A refresh token only when offline_access was asked (on refresh too: unconfirmed), an ID token
  // only with openid (docs/entra-id.md, "Token responses").
  if (grant.oidc.includes('offline_access')) {
    out.refresh_token = ctx.store.createRefreshToken({
      tenantId: tenant.id,
      clientId: app.clientId,
      userOid: user.oid,
      grant: storedGrant,
    });
  }
  if (grant.oidc.includes('openid')) {
    out.id_token = await ctx.tokens.idToken({
      origin: ctx.origin(),
      tid: tenant.id,
      clientId: app.clientId,
      user,
      oidc: grant.oidc,
      ...(nonce !== undefined ? { nonce } : {}),
    });
  }
  return out;
}
