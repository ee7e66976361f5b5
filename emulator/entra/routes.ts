// Discovery, signing keys, sign-out, the error lookup page and UserInfo; mounts every route.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { decodeJwt } from 'jose';
import { authorizeRoutes } from './authorize.ts';
import type { EntraContext } from './context.ts';
import { ERROR_SUMMARIES, aadsts } from './errors.ts';
import { errorContext, htmlHeaders, sendOAuthError, singleParams } from './http.ts';
import { publishKeys } from './keys.ts';
import { redirectUriMatches } from './policy.ts';
import { CONSUMERS_TENANT_ID, type TenantRef } from './store.ts';
import { tokenRoutes } from './token.ts';
import { EntraTokenError } from './token-error.ts';
import { GRAPH_AUDIENCES, v2Issuer } from './tokens.ts';
import { errorCodePage, signedOutPage } from './pages.ts';

type TenantParams = { Params: { tenant: string } };

export function registerEntraRoutes(app: FastifyInstance, ctx: EntraContext): void {
  app.get<TenantParams>('/:tenant/v2.0/.well-known/openid-configuration', async (req, reply) => discovery(req, reply, ctx));
  app.get<TenantParams>('/:tenant/discovery/v2.0/keys', async (req, reply) => keys(req, reply, ctx));
  // v1 key path (where v1 metadata points); same keys.
  app.get<TenantParams>('/:tenant/discovery/keys', async (req, reply) => keys(req, reply, ctx));
  authorizeRoutes(app, ctx);
  tokenRoutes(app, ctx);
  app.get<TenantParams>('/:tenant/oauth2/v2.0/logout', async (req, reply) => logout(req, reply, ctx));
  app.get('/error', async (req, reply) => {
    const code = String((req.query as Record<string, unknown>).code ?? '').replace(/^AADSTS/i, '');
    htmlHeaders(reply);
    return reply.send(errorCodePage(/^\d+$/.test(code) ? code : '', ERROR_SUMMARIES[Number(code)]));
  });
  app.get('/oidc/userinfo', async (req, reply) => userinfo(req, reply, ctx));
  // Listed in discovery as Entra lists them; not implemented, so refused the way Entra refuses a
  // request it cannot serve rather than a 404 that would look like a wrong URL.
  for (const path of ['/:tenant/oauth2/v2.0/devicecode', '/:tenant/kerberos']) {
    app.post<TenantParams>(path, async (req, reply) => {
      const ref = tenantOr400(req, reply, ctx);
      if (!ref) return reply;
      return reply
        .code(400)
        .type('application/json; charset=utf-8')
        .send({
          error: 'unsupported_grant_type',
          error_description:
            'The Keyway emulator does not implement this flow (device code, Kerberos); use the authorization code or client credentials flows.',
          error_codes: [70003],
          timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
        });
    });
  }
  app.post('/oidc/userinfo', async (req, reply) => userinfo(req, reply, ctx));
}

interface TenantView {
  /** Path segment used in endpoint URLs. */
  base: string;
  issuer: string;
  regionScope: string | null;
}

/**
 * Entra's metadata for a domain-named tenant is written with the tenant GUID throughout; under
 * `common` / `organizations` the endpoints keep the alias and the issuer is the literal
 * `{tenantid}` template; `consumers` is the Microsoft-account tenant.
 */
function tenantView(ref: TenantRef, origin: string): TenantView {
  if (ref.kind === 'tenant') return { base: ref.tenant.id, issuer: v2Issuer(origin, ref.tenant.id), regionScope: 'NA' };
  if (ref.alias === 'consumers') return { base: 'consumers', issuer: v2Issuer(origin, CONSUMERS_TENANT_ID), regionScope: null };
  return { base: ref.alias, issuer: `${origin}/{tenantid}/v2.0`, regionScope: null };
}

function tenantOr400(req: FastifyRequest<TenantParams>, reply: FastifyReply, ctx: EntraContext): TenantRef | undefined {
  const ref = ctx.store.resolveTenant(req.params.tenant);
  if (!ref) {
    sendOAuthError(reply, aadsts.tenantNotFound(req.params.tenant, 'invalid_tenant'), errorContext(req, ctx));
    return undefined;
  }
  return ref;
}

async function discovery(req: FastifyRequest<TenantParams>, reply: FastifyReply, ctx: EntraContext): Promise<FastifyReply> {
  const ref = tenantOr400(req, reply, ctx);
  if (!ref) return reply;
  const origin = ctx.origin();
  const v = tenantView(ref, origin);
  const oauth = `${origin}/${v.base}/oauth2/v2.0`;
  // Member order and values follow the live document. Deliberate differences:
  // - no `code_challenge_methods_supported`: Entra omits it although it supports S256 and plain
  //   (publicly reported by several client libraries), so clients must not require it;
  // - `userinfo_endpoint` is served here (`/oidc/userinfo`) instead of graph.microsoft.com.
  // `device_authorization_endpoint` and `kerberos_endpoint` are listed as Entra lists them; the
  // emulator answers them with an Entra-shaped refusal (it implements neither flow).
  const doc = {
    token_endpoint: `${oauth}/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${origin}/${v.base}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: v.issuer,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${origin}/oidc/userinfo`,
    authorization_endpoint: `${oauth}/authorize`,
    device_authorization_endpoint: `${oauth}/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${oauth}/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${origin}/${v.base}/kerberos`,
    tenant_region_scope: v.regionScope,
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  };
  reply.header('cache-control', 'max-age=86400, private');
  reply.header('access-control-allow-origin', '*');
  return reply.type('application/json; charset=utf-8').send(doc);
}

async function keys(req: FastifyRequest<TenantParams>, reply: FastifyReply, ctx: EntraContext): Promise<FastifyReply> {
  const ref = tenantOr400(req, reply, ctx);
  if (!ref) return reply;
  reply.header('cache-control', 'max-age=86400, private');
  reply.header('access-control-allow-origin', '*');
  return reply.type('application/json; charset=utf-8').send(publishKeys(ctx.tokens.keys, tenantView(ref, ctx.origin()).issuer));
}

/**
 * Sign-out. No browser sessions exist to end; this redirects to `post_logout_redirect_uri` when
 * it is a redirect URI registered on the app named by `client_id` or `id_token_hint` (as Entra
 * requires), else shows Entra's "you signed out" page.
 */
async function logout(req: FastifyRequest<TenantParams>, reply: FastifyReply, ctx: EntraContext): Promise<FastifyReply> {
  const ref = tenantOr400(req, reply, ctx);
  if (!ref) return reply;
  let q: Record<string, string>;
  try {
    q = singleParams(req.query);
  } catch {
    q = {};
  }
  const target = q.post_logout_redirect_uri;
  if (target) {
    let clientId = q.client_id;
    if (!clientId && q.id_token_hint) {
      try {
        const aud = decodeJwt(q.id_token_hint).aud;
        clientId = typeof aud === 'string' ? aud : undefined;
      } catch {
        clientId = undefined;
      }
    }
    const app = clientId ? ctx.store.findAppAnywhere(clientId) : undefined;
    if (app && app.redirectUris.some((r) => redirectUriMatches(r, target))) {
      const url = new URL(target);
      if (q.state !== undefined) url.searchParams.append('state', q.state);
      return reply.redirect(url.href, 302);
    }
  }
  htmlHeaders(reply);
  return reply.send(signedOutPage());
}

/**
 * OIDC UserInfo. Entra's lives on Microsoft Graph and takes a Graph access token (what Entra
 * issues when only OIDC scopes are asked); errors use Graph's shape.
 */
async function userinfo(req: FastifyRequest, reply: FastifyReply, ctx: EntraContext): Promise<FastifyReply> {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^bearer\s+(.+)$/i.exec(h) : null;
  const fail = (message: string) => {
    reply.header('www-authenticate', `Bearer realm="", authorization_uri="${ctx.origin()}/common/oauth2/authorize", error="invalid_token"`);
    return reply.code(401).send({ error: { code: 'InvalidAuthenticationToken', message } });
  };
  if (!m) return fail('Access token is empty.');
  try {
    const claims = await ctx.tokens.verifyV1(m[1]!, GRAPH_AUDIENCES, (tid) => ctx.store.tenants.has(tid));
    const oid = String(claims.oid ?? '');
    const user = ctx.store.users.get(oid);
    if (!user) return fail('Access token validation failure.');
    const scp = String(claims.scp ?? '').split(' ');
    const out: Record<string, string> = { sub: ctx.tokens.pairwiseSub(user.tenantId, String(claims.appid ?? ''), user.oid) };
    if (scp.includes('profile')) {
      out.name = user.displayName;
      const [given, ...rest] = user.displayName.split(/\s+/);
      if (rest.length) out.family_name = rest.join(' ');
      if (given) out.given_name = given;
    }
    if (scp.includes('email')) out.email = user.upn;
    return reply.type('application/json; charset=utf-8').send(out);
  } catch (err) {
    if (err instanceof EntraTokenError) return fail(`Access token validation failure. ${err.message}`);
    throw err;
  }
}
