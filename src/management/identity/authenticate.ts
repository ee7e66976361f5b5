import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError, forbidden, unauthorized } from '../../http/errors.ts';
import type { AuditLog } from '../audit/service.ts';
import type { Principal, RunnerPrincipal } from './principal.ts';
import type { IdentityService } from './service.ts';

export type AuthRequirement = 'public' | 'user' | 'admin' | 'runner' | 'revoked-runner';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Routes under /api/ default to 'user': a new route is closed until opened. */
    auth?: AuthRequirement;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

export const SESSION_COOKIE = 'keyway_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export interface AuthenticateDeps {
  identity: Pick<IdentityService, 'authenticateSession' | 'authenticateApiToken' | 'checkCsrf'>;
  audit: Pick<AuditLog, 'record'>;
  /** Resolves a runner token; provided by the runners module. */
  authenticateRunner?: (token: string) => Promise<RunnerPrincipal | undefined>;
}

export function clientInfo(request: FastifyRequest) {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined };
}

export function installAuthentication(app: FastifyInstance, deps: AuthenticateDeps): void {
  app.decorateRequest('principal', undefined);

  app.addHook('onRequest', async (request) => {
    const requirement: AuthRequirement = request.routeOptions.config?.auth ?? (request.url.startsWith('/api/') ? 'user' : 'public');
    const principal = await resolvePrincipal(request, deps);
    if (principal) request.principal = principal;
    if (principal?.kind === 'runner' && principal.revoked && requirement !== 'revoked-runner') {
      // Said plainly, so the runner knows to delete what it holds instead of retrying forever.
      throw new ApiError(401, 'runner_revoked', `runner "${principal.name}" was revoked: it must delete every credential it holds and stop; register a new runner to continue`);
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
    if (principal.kind !== 'user') throw forbidden('runner tokens cannot call user routes');
    if (!SAFE_METHODS.has(request.method) && !deps.identity.checkCsrf(principal, headerValue(request, 'x-csrf-token'))) {
      throw new ApiError(403, 'csrf_failed', 'missing or wrong X-CSRF-Token header; read csrfToken from GET /api/v1/me and send it with every write');
    }
    if (requirement === 'admin' && principal.role !== 'admin') {
      await deps.audit.record({
        actor: principal,
        action: 'authorization.denied',
        target: { type: 'route', id: `${request.method} ${request.routeOptions.url ?? ''}` },
        outcome: 'denied',
        client: clientInfo(request),
      });
      throw forbidden('only organization admins may do this; ask an admin of your organization');
    }
  });
}

async function resolvePrincipal(request: FastifyRequest, deps: AuthenticateDeps): Promise<Principal | undefined> {
  const authorization = headerValue(request, 'authorization');
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match?.[1]) throw unauthorized('Authorization header must be "Bearer <token>"');
    const token = match[1];
    const principal = token.startsWith('kwr_')
      ? await deps.authenticateRunner?.(token)
      : await deps.identity.authenticateApiToken(token);
    // A presented but unusable token is an error even on public routes: silently treating the
    // caller as anonymous hides revoked tokens from the people who hold them.
    if (!principal) throw unauthorized('the token is unknown, expired or revoked');
    return principal;
  }
  const cookie = request.cookies?.[SESSION_COOKIE];
  if (cookie) return deps.identity.authenticateSession(cookie);
  return undefined;
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
