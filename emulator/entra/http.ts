// Request/response plumbing shared by the Entra routes.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EntraContext } from './context.ts';
import { EntraOAuthError, aadsts, describeError, errorBody, errorUri, newTrace, type ErrorContext } from './errors.ts';
import { GUID_RE, guid } from './ids.ts';
import { errorPage } from './pages.ts';

/**
 * Flattens a parsed query or form body to single string values. A repeated parameter is an
 * error in Entra (AADSTS9000411), not "first one wins".
 */
export function singleParams(input: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!input || typeof input !== 'object') return out;
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    if (Array.isArray(v)) throw aadsts.duplicateParameter(k);
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

export function isFormRequest(req: FastifyRequest): boolean {
  const ct = req.headers['content-type'] ?? '';
  return ct.toLowerCase().startsWith('application/x-www-form-urlencoded');
}

/** Entra uses the caller's `client-request-id` as the correlation id when it is a GUID. */
export function errorContext(req: FastifyRequest, ctx: EntraContext): ErrorContext {
  const h = req.headers['client-request-id'];
  const given = typeof h === 'string' && GUID_RE.test(h) ? h : undefined;
  return { origin: ctx.origin(), nowMs: ctx.nowMs(), correlationId: given ?? guid() };
}

export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store, no-cache');
  reply.header('pragma', 'no-cache');
}

export function sendOAuthError(reply: FastifyReply, err: EntraOAuthError, ectx: ErrorContext): FastifyReply {
  const body = errorBody(err, ectx);
  noStore(reply);
  reply.header('x-ms-request-id', body.trace_id);
  reply.header('client-request-id', body.correlation_id);
  // No WWW-Authenticate on 401 invalid_client: Entra sends none, and clients (oauth4webapi) would
  // otherwise report a challenge instead of the error body.
  return reply.code(err.status).type('application/json; charset=utf-8').send(body);
}

export function htmlHeaders(reply: FastifyReply, scriptNonce?: string): void {
  noStore(reply);
  const script = scriptNonce ? `script-src 'nonce-${scriptNonce}'; ` : '';
  reply.header(
    'content-security-policy',
    `default-src 'none'; style-src 'unsafe-inline'; ${script}frame-ancestors 'none'; base-uri 'none'`,
  );
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.type('text/html; charset=utf-8');
}

/**
 * Errors Entra shows on its own page instead of redirecting (the redirect URI cannot be trusted
 * yet). Status 400 is a choice: the real page's status is unconfirmed.
 */
export function sendErrorPage(reply: FastifyReply, err: EntraOAuthError, ectx: ErrorContext): FastifyReply {
  const trace = newTrace(ectx);
  htmlHeaders(reply);
  reply.header('x-ms-request-id', trace.traceId);
  return reply
    .code(400)
    .send(errorPage({ description: describeError(err, trace), code: err.code, errorUri: errorUri(ectx.origin, err.code) }));
}

export function asOAuthError(err: unknown): EntraOAuthError {
  if (err instanceof EntraOAuthError) return err;
  throw err;
}
