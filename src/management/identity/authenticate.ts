import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ApiError, forbidden, unauthorized } from '../../http/errors.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { organizationRequired } from './principal.ts';
import type { AccountPrincipal, Principal, RunnerPrincipal, UserPrincipal } from './principal.ts';
import type { IdentityService } from './service.ts';

/**
 * Who may call a route:
 * - public: anyone;
 * - account: a signed-in person, even one whose session is in no organization yet;
 * - user: a person acting in their current organization (the default for /api/);
 * - admin: an admin of that organization;
 * - operator: an instance operator (creates organizations, disables accounts);
 * - runner: a runner token;
 * - revoked-runner: a revoked runner's token, only to confirm it purged what it held.
 */
export type AuthRequirement = 'public' | 'account' | 'user' | 'admin' | 'operator' | 'runner' | 'revoked-runner';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Routes under /api/ default to 'user': a new route is closed until opened. */
    auth?: AuthRequirement;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * The session cookie. Over https it carries the `__Host-` prefix, which browsers accept only with
 * Secure, Path=/ and no Domain: a sibling subdomain cannot plant or overwrite it (RFC 6265bis
 * §4.1.3.2).
 */
export function sessionCookieName(secure: boolean): string {
  return secure ? '__Host-keyway_session' : 'keyway_session';
}
/** Kept for code that only needs the plain-http name (tests, the sign-in page on http). */
export const SESSION_COOKIE = sessionCookieName(false);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthenticateDeps {
  identity: Pick<IdentityService, 'authenticateSession' | 'authenticateApiToken' | 'checkCsrf'>;
  audit: Pick<AuditLog, 'record' | 'recordAggregated'>;
  /** Resolves a runner token; provided by the runners module. */
  authenticateRunner?: (token: string) => Promise<RunnerPrincipal | undefined>;
  secureCookies: boolean;
}

/**
 * Authentication runs as each route's own onRequest hook, added after the rate limiter's, so a
 * request refused for a bad token has already been counted against its address (a guesser is
 * throttled like anyone else). Failed bearer tokens are audited once per address and minute.
 */
export function installAuthentication(app: FastifyInstance, deps: AuthenticateDeps): void {
  app.decorateRequest('principal', undefined);
  const cookieName = sessionCookieName(deps.secureCookies);
  const routeAudit = createRouteAudit(deps.audit);

  const hook: onRequestHookHandler = async (request) => {
    const requirement: AuthRequirement = request.routeOptions.config?.auth ?? (request.url.startsWith('/api/') ? 'user' : 'public');
    let principal: Principal | undefined;
    try {
      principal = await resolvePrincipal(request, deps, cookieName);
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 401) {
        await deps.audit.recordAggregated({ action: 'authentication.token_refused', ip: request.ip, label: 'bearer token' });
      }
      throw err;
    }
    if (principal) request.principal = principal;
    if (principal?.kind === 'runner' && principal.revoked && requirement !== 'revoked-runner') {
      // Said plainly, so the runner knows to delete what it holds instead of retrying forever.
      throw new ApiError(
        401,
        'runner_revoked',
        `runner "${principal.name}" was revoked: it must delete every credential it holds and stop; register a new runner to continue`,
      );
    }
    if (requirement === 'public') return;
    if (requirement === 'revoked-runner') {
      if (principal?.kind !== 'runner' || !principal.revoked) throw unauthorized('this route is for a revoked runner confirming its purge');
      return;
    }

    if (requirement === 'runner') {
      if (principal?.kind !== 'runner') throw unauthorized('this route is for runners: send Authorization: Bearer <runner token>');
      return;
    }
    if (!principal) throw unauthorized();
    if (principal.kind === 'runner') throw forbidden('runner tokens cannot call user routes');
    if (!SAFE_METHODS.has(request.method) && !deps.identity.checkCsrf(principal, headerValue(request, 'x-csrf-token'))) {
      throw new ApiError(
        403,
        'csrf_failed',
        'missing or wrong X-CSRF-Token header; read csrfToken from GET /api/v1/me and send it with every write',
      );
    }
    if (requirement === 'account') return;
    if (requirement === 'operator') {
      if (!principal.operator)
        await deny(request, principal, 'only instance operators may do this; an operator can grant it with `keyway admin operator EMAIL`');
      return;
    }
    if (principal.kind === 'account') throw organizationRequired();
    if (requirement === 'admin' && principal.role !== 'admin')
      await deny(request, principal, 'only organization admins may do this; ask an admin of your organization');
  };

  const deny = (request: FastifyRequest, principal: UserPrincipal | AccountPrincipal, message: string) =>
    routeAudit.deny(request, message, principal);

  app.addHook('onRoute', (routeOptions) => {
    const existing = routeOptions.onRequest;
    routeOptions.onRequest = existing === undefined ? [hook] : Array.isArray(existing) ? [...existing, hook] : [existing, hook];
  });
}

async function resolvePrincipal(request: FastifyRequest, deps: AuthenticateDeps, cookieName: string): Promise<Principal | undefined> {
  const authorization = headerValue(request, 'authorization');
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) throw unauthorized('Authorization header must be "Bearer <token>"');
    const token = match[1];
    const principal = token.startsWith('kwr_') ? await deps.authenticateRunner?.(token) : await deps.identity.authenticateApiToken(token);
    // A presented but unusable token is an error even on public routes: silently treating the
    // caller as anonymous hides revoked tokens from the people who hold them.
    if (!principal) throw unauthorized('the token is unknown, expired or revoked');
    return principal;
  }
  const cookie = request.cookies?.[cookieName];
  if (cookie) return deps.identity.authenticateSession(cookie);
  return undefined;
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
