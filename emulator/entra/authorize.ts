// GET/POST /{tenant}/oauth2/v2.0/authorize: request validation, the sign-in + consent page, and
// the authorization response (query, fragment or form_post).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EntraContext } from './context.ts';
import { aadsts, describeError, errorUri, newTrace, type EntraOAuthError, type ErrorContext } from './errors.ts';
import { asOAuthError, errorContext, htmlHeaders, isFormRequest, sendErrorPage, singleParams } from './http.ts';
import { guid, randomToken } from './ids.ts';
import type { EntraApp, EntraTenant, EntraUser } from './directory.ts';
import { CARRIED_PARAMS, formPostPage, signInPage } from './pages.ts';
import { checkCodeChallenge, redirectUriMatches, safeEqual } from './policy.ts';
import { describeForConsent, parseDelegatedScope, type GrantScope } from './scopes.ts';
import { directoryName, type AuthorizeParams } from './store.ts';
import { v2Issuer } from './tokens.ts';

type TenantParams = { Params: { tenant: string } };

const PROMPTS = new Set(['login', 'none', 'consent', 'select_account', 'create']);
const MODES = new Set(['query', 'fragment', 'form_post']);

interface Target {
  tenant: EntraTenant;
  redirectUri: string;
  mode: AuthorizeParams['response_mode'];
  state: string | undefined;
}

export function authorizeRoutes(app: FastifyInstance, ctx: EntraContext): void {
  app.get<TenantParams>('/:tenant/oauth2/v2.0/authorize', async (req, reply) => {
    ctx.counters.authorizeRequests++;
    return authorizeGet(req, reply, ctx);
  });
  app.post<TenantParams>('/:tenant/oauth2/v2.0/authorize', async (req, reply) => authorizePost(req, reply, ctx));
}

async function authorizeGet(req: FastifyRequest<TenantParams>, reply: FastifyReply, ctx: EntraContext): Promise<FastifyReply> {
  const ectx = errorContext(req, ctx);
  const segment = req.params.tenant;
  let q: Record<string, string>;
  try {
    q = singleParams(req.query);
  } catch (err) {
    return sendErrorPage(reply, asOAuthError(err), ectx);
  }

  // Until client_id and redirect_uri are validated, errors go to Entra's own page.
  const ref = ctx.store.resolveTenant(segment);
  if (!ref) return sendErrorPage(reply, aadsts.tenantNotFound(segment), ectx);
  const clientId = q.client_id;
  if (!clientId) return sendErrorPage(reply, aadsts.missingParameter('client_id'), ectx);
  const entraApp = ctx.store.findAppThrough(ref, clientId);
  if (!entraApp) return sendErrorPage(reply, aadsts.appNotFound(clientId, directoryName(ref, segment)), ectx);
  let redirectUri = q.redirect_uri;
  if (redirectUri === undefined) {
    // Entra falls back to the app's default reply URL when redirect_uri is omitted.
    redirectUri = entraApp.redirectUris[0];
    if (redirectUri === undefined) return sendErrorPage(reply, aadsts.noReplyAddress(), ectx);
  }
  if (!entraApp.redirectUris.some((r) => redirectUriMatches(r, redirectUri))) {
    return sendErrorPage(reply, aadsts.redirectUriMismatch(redirectUri, entraApp.clientId), ectx);
  }
  // A multi-tenant app signs users in through their own tenant's endpoint.
  const tenant = ref.kind === 'tenant' ? ref.tenant : ctx.store.requireTenant(entraApp.tenantId);
  const rawMode = q.response_mode ?? 'query';
  const target: Target = {
    tenant,
    redirectUri,
    mode: MODES.has(rawMode) ? (rawMode as Target['mode']) : 'query',
    state: q.state,
  };
  const fail = (err: EntraOAuthError) => sendAuthorizationError(reply, ctx, target, err, ectx);

  // From here on, errors are reported to the (now trusted) redirect URI.
  if (!MODES.has(rawMode)) return fail(aadsts.invalidRequestValue('response_mode', rawMode));
  if (ref.kind === 'alias') return fail(aadsts.notMultiTenant(entraApp.clientId, entraApp.displayName, ref.alias));
  if (!q.response_type) return fail(aadsts.missingParameter('response_type'));
  if (q.response_type !== 'code') return fail(aadsts.unsupportedResponseType(q.response_type));
  if (q.prompt !== undefined && !PROMPTS.has(q.prompt)) return fail(aadsts.invalidRequestValue('prompt', q.prompt));

  let grant: GrantScope;
  let pkce: ReturnType<typeof checkCodeChallenge>;
  try {
    grant = parseDelegatedScope(q.scope, tenant.displayName);
    pkce = checkCodeChallenge(q.code_challenge, q.code_challenge_method, entraApp.requirePkce);
  } catch (err) {
    return fail(asOAuthError(err));
  }

  const params: AuthorizeParams = {
    client_id: entraApp.clientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    response_mode: target.mode,
    scope: q.scope ?? '',
  };
  if (q.state !== undefined) params.state = q.state;
  if (q.nonce !== undefined) params.nonce = q.nonce;
  if (q.prompt !== undefined) params.prompt = q.prompt;
  if (q.login_hint !== undefined) params.login_hint = q.login_hint;
  if (pkce.challenge !== undefined) params.code_challenge = pkce.challenge;
  if (pkce.method !== undefined) params.code_challenge_method = pkce.method;

  if (q.prompt === 'none') {
    // No browser sessions are modelled: a silent request succeeds only for a login_hint naming a
    // user of the tenant (as if that user were signed in and had consented). Without one Entra
    // answers login_required / AADSTS50058 (not interaction_required, which Entra uses when a
    // session exists but consent or MFA is missing).
    const user = q.login_hint ? ctx.store.findUserByUpn(tenant.id, q.login_hint) : undefined;
    if (!user || user.disabled) return fail(aadsts.silentNoSession());
    return completeSignIn(reply, ctx, target, entraApp, params, grant, user, ectx);
  }
  return renderSignIn(reply, ctx, segment, tenant, entraApp, params, grant, { selectedUpn: q.login_hint?.toLowerCase() });
}

async function authorizePost(req: FastifyRequest<TenantParams>, reply: FastifyReply, ctx: EntraContext): Promise<FastifyReply> {
  const ectx = errorContext(req, ctx);
  let body: Record<string, string>;
  try {
    body = isFormRequest(req) ? singleParams(req.body) : {};
  } catch (err) {
    return sendErrorPage(reply, asOAuthError(err), ectx);
  }
  // The flow token is single-use and bound to this tenant path and to the carried request: a
  // forged, replayed or edited POST fails like an expired Entra flow (AADSTS50089).
  const flow = ctx.store.takeFlow(body.flowToken ?? '');
  if (!flow || flow.tenantSegment.toLowerCase() !== req.params.tenant.toLowerCase()) {
    return sendErrorPage(reply, aadsts.flowTokenExpired(), ectx);
  }
  for (const k of CARRIED_PARAMS) {
    if (body[k] !== flow.params[k]) return sendErrorPage(reply, aadsts.flowTokenExpired(), ectx);
  }
  const tenant = ctx.store.requireTenant(flow.tenantId);
  const entraApp = ctx.store.findAppFor(tenant.id, flow.params.client_id);
  if (!entraApp) return sendErrorPage(reply, aadsts.appNotFound(flow.params.client_id, tenant.displayName), ectx);
  const target: Target = {
    tenant,
    redirectUri: flow.params.redirect_uri,
    mode: flow.params.response_mode,
    state: flow.params.state,
  };
  const again = (error: string, selectedUpn?: string) =>
    renderSignIn(reply, ctx, flow.tenantSegment, tenant, entraApp, flow.params, flow.grant, { error, selectedUpn });

  if (body.action === 'cancel') return sendAuthorizationError(reply, ctx, target, aadsts.userDeclined(), ectx);
  if (body.action !== 'accept') return again('Choose Accept or Cancel.');
  const upn = body.login;
  const user = upn ? ctx.store.findUserByUpn(tenant.id, upn) : undefined;
  if (!user) return again('Select an account to continue.');
  if (user.password !== undefined && !safeEqual(body.passwd ?? '', user.password)) {
    return again(aadsts.badPassword().message, user.upn);
  }
  if (user.disabled) return again(`AADSTS50057: ${aadsts.userDisabled().message}`, user.upn);
  return completeSignIn(reply, ctx, target, entraApp, flow.params, flow.grant, user, ectx);
}

function renderSignIn(
  reply: FastifyReply,
  ctx: EntraContext,
  segment: string,
  tenant: EntraTenant,
  entraApp: EntraApp,
  params: AuthorizeParams,
  grant: GrantScope,
  extra: { selectedUpn?: string | undefined; error?: string },
): FastifyReply {
  const flow = ctx.store.createFlow({ tenantId: tenant.id, tenantSegment: segment, params, grant });
  const html = signInPage({
    action: `/${encodeURIComponent(segment)}/oauth2/v2.0/authorize`,
    flowToken: flow.token,
    params,
    appName: entraApp.displayName,
    tenantName: tenant.displayName,
    scopes: describeForConsent(grant),
    users: ctx.store.usersOf(tenant.id).map((u) => ({ upn: u.upn, displayName: u.displayName, hasPassword: u.password !== undefined })),
    ...(extra.selectedUpn !== undefined ? { selectedUpn: extra.selectedUpn } : {}),
    ...(extra.error !== undefined ? { error: extra.error } : {}),
  });
  htmlHeaders(reply);
  return reply.code(200).send(html);
}

async function completeSignIn(
  reply: FastifyReply,
  ctx: EntraContext,
  target: Target,
  entraApp: EntraApp,
  params: AuthorizeParams,
  grant: GrantScope,
  user: EntraUser,
  ectx: ErrorContext,
): Promise<FastifyReply> {
  // An Azure DevOps organization with "Third-party application access via OAuth" off makes the flow
  // fail with an invalid-scope error (docs/azure-devops.md, "Organization policies"; unconfirmed).
  if (
    grant.resource.key === 'ado' &&
    ctx.isOAuthBlocked?.({ tenantId: target.tenant.id, clientId: entraApp.clientId, userOid: user.oid })
  ) {
    return sendAuthorizationError(reply, ctx, target, aadsts.oauthBlocked(params.scope), ectx);
  }
  const code = ctx.store.createCode({
    tenantId: target.tenant.id,
    clientId: entraApp.clientId,
    userOid: user.oid,
    redirectUri: params.redirect_uri,
    grant,
    ...(params.nonce !== undefined ? { nonce: params.nonce } : {}),
    ...(params.code_challenge !== undefined ? { codeChallenge: params.code_challenge } : {}),
    ...(params.code_challenge_method !== undefined ? { codeChallengeMethod: params.code_challenge_method } : {}),
  });
  const fields: Record<string, string> = { code };
  if (target.state !== undefined) fields.state = target.state;
  fields.session_state = guid();
  return sendAuthorizationResponse(reply, ctx, target, fields);
}

function sendAuthorizationError(
  reply: FastifyReply,
  ctx: EntraContext,
  target: Target,
  err: EntraOAuthError,
  ectx: ErrorContext,
): FastifyReply {
  const fields: Record<string, string> = {
    error: err.error,
    error_description: describeError(err, newTrace(ectx)),
    error_uri: errorUri(ectx.origin, err.code),
  };
  if (target.state !== undefined) fields.state = target.state;
  return sendAuthorizationResponse(reply, ctx, target, fields);
}

function sendAuthorizationResponse(reply: FastifyReply, ctx: EntraContext, target: Target, fields: Record<string, string>): FastifyReply {
  // RFC 9207 `iss`: whether Entra sends it is unconfirmed, so it is off unless the tenant opts in.
  if (target.tenant.sendIssParameter) fields.iss = v2Issuer(ctx.origin(), target.tenant.id);
  if (target.mode === 'form_post') {
    const nonce = randomToken(16);
    htmlHeaders(reply, nonce);
    return reply.code(200).send(formPostPage(target.redirectUri, fields, nonce));
  }
  const url = new URL(target.redirectUri);
  if (target.mode === 'fragment') {
    url.hash = new URLSearchParams(fields).toString();
  } else {
    for (const [k, v] of Object.entries(fields)) url.searchParams.append(k, v);
  }
  reply.header('cache-control', 'no-store, no-cache');
  return reply.redirect(url.href, 302);
}
