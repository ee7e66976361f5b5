import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';

/**
 * The one error shape of every Keyway HTTP API:
 *   {"error": {"code": "...", "message": "...", "field": "..."}}
 * `code` is stable and machine-readable; `message` says what to fix; `field` names the input at fault.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * A refusal the user fixes by authorizing (never authorized, or must connect again): the answer
 * carries where to do that — CheckAuthenticationForHost for the integration, which offers OAuth
 * and/or a PAT.
 */
export class AuthorizationRequiredError extends ApiError {
  constructor(
    statusCode: number,
    code: string,
    message: string,
    readonly authorizationUrl: string,
  ) {
    super(statusCode, code, message);
    this.name = 'AuthorizationRequiredError';
  }
}

/** The stable code of a thrown error (an ApiError's, or a driver's), for the record of a failure; 'error' when it has none. */
export const errorCode = (err: unknown): string => (err as { code?: string }).code ?? 'error';

export const badRequest = (code: string, message: string, field?: string) => new ApiError(400, code, message, field);
export const unauthorized = (message = 'sign in first: send a session cookie or an API token (Authorization: Bearer kw_...)') =>
  new ApiError(401, 'unauthenticated', message);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const conflict = (code: string, message: string, field?: string) => new ApiError(409, code, message, field);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new ApiError(429, 'rate_limited', message, undefined, { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
export const serviceUnavailable = (code: string, message: string) => new ApiError(503, code, message);

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      field: Type.Optional(Type.String()),
      authorizationUrl: Type.Optional(
        Type.String({ description: 'Present when authorizing fixes it: where to see how (CheckAuthenticationForHost)' }),
      ),
    }),
  },
  { $id: 'ErrorResponse', description: 'The error shape of every Keyway API' },
);

/**
 * The `response` entries for the error statuses a route module can answer, each with the one error
 * shape: `{ 200: Thing, ...errorResponses(400, 401, 404) }`. The keys stay literal so Fastify's
 * TypeBox type provider still types the replies.
 */
export function errorResponses<const S extends readonly number[]>(...statuses: S): { [K in S[number]]: typeof ErrorResponse } {
  return Object.fromEntries(statuses.map((status) => [status, ErrorResponse])) as { [K in S[number]]: typeof ErrorResponse };
}

interface ErrorBody {
  error: { code: string; message: string; field?: string; authorizationUrl?: string };
}

function body(code: string, message: string, field?: string, authorizationUrl?: string): ErrorBody {
  return { error: { code, message, ...(field ? { field } : {}), ...(authorizationUrl ? { authorizationUrl } : {}) } };
}

/**
 * Where a NUL character hides in parsed input (params, query, body), if anywhere. PostgreSQL text
 * cannot hold NUL and answers with an error that would surface as a 500; no Keyway input needs
 * one. Iterative, so a deeply nested body cannot exhaust the stack.
 */
export function findNul(value: unknown): string | undefined {
  const stack: { v: unknown; path: string }[] = [{ v: value, path: '' }];
  let visited = 0;
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (++visited > 200_000) return undefined;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return path || 'value';
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        if (k.includes('\u0000')) return path || 'value';
        stack.push({ v: child, path: path ? `${path}.${k}` : k });
      }
    }
  }
  return undefined;
}

/** Fastify's refusals of a request body, in Keyway's words. */
const BODY_REFUSALS: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'body_too_large', message: 'request body is too large; send at most 1 MiB' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'unsupported_media_type', message: 'send the body as application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'invalid_request', message: 'the JSON body is empty; send a JSON object' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'invalid_request', message: 'Content-Length does not match the body' },
};

export function installErrorHandling(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    for (const [where, value] of [
      ['params', request.params],
      ['querystring', request.query],
      ['body', request.body],
    ] as const) {
      const field = findNul(value);
      if (field !== undefined)
        throw badRequest(
          'invalid_character',
          `${where}${field === 'value' ? '' : `.${field}`} contains a NUL character; remove it`,
          field === 'value' ? undefined : field,
        );
    }
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(body('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`));
  });

  app.setErrorHandler((err: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) {
      void reply
        .headers(err.headers)
        .code(err.statusCode)
        .send(body(err.code, err.message, err.field, err instanceof AuthorizationRequiredError ? err.authorizationUrl : undefined));
      return;
    }
    if (err.validation) {
      const first = err.validation[0];
      const field = validationField(first);
      const where = err.validationContext ?? 'body';
      const message = first ? describeValidation(where, field, first.message ?? 'is invalid', first.params) : 'request is invalid';
      void reply.code(400).send(body('invalid_request', message, field));
      return;
    }
    const refusal = Object.hasOwn(BODY_REFUSALS, err.code) ? BODY_REFUSALS[err.code] : undefined;
    if (refusal) {
      void reply.code(refusal.status).send(body(refusal.code, refusal.message));
      return;
    }
    if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      // The parser's message quotes part of the body, which may hold a secret: do not echo it.
      void reply.code(400).send(body('invalid_json', 'the body is not valid JSON'));
      return;
    }
    if (err.statusCode === 429) {
      void reply.code(429).send(body('rate_limited', 'too many requests; slow down and retry later'));
      return;
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      void reply
        .code(err.statusCode)
        .send(body('invalid_request', 'the request could not be processed; check its method, headers and body'));
      return;
    }
    if (isDatabaseConnectionLoss(err)) {
      // The pool replaces the connection; the same request is very likely to work at once.
      request.log.warn(
        { err: { code: (err as { code?: string }).code, message: err.message } },
        'database connection lost during a request',
      );
      void reply
        .code(503)
        .header('retry-after', '1')
        .send(body('database_unavailable', 'the database connection was lost while answering; retry the request'));
      return;
    }
    request.log.error({ err }, 'unhandled error');
    void reply.code(500).send(body('internal', `internal error; quote request id ${request.id} when reporting it`));
  });
}

// PostgreSQL: admin_shutdown, crash_shutdown, cannot_connect_now, connection_exception classes; and
// node-postgres's own words for a socket that went away.
const CONNECTION_LOSS_CODES = new Set(['57P01', '57P02', '57P03', '08000', '08003', '08006', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE']);

function isDatabaseConnectionLoss(err: Error): boolean {
  const code = (err as { code?: unknown }).code;
  return (
    (typeof code === 'string' && CONNECTION_LOSS_CODES.has(code)) ||
    /^Connection terminated|Client has encountered a connection error/.test(err.message ?? '')
  );
}

type ValidationItem = NonNullable<FastifyError['validation']>[number];

function validationField(item: ValidationItem | undefined): string | undefined {
  if (!item) return undefined;
  const missing = (item.params as { missingProperty?: string } | undefined)?.missingProperty;
  const additional = (item.params as { additionalProperty?: string } | undefined)?.additionalProperty;
  const path = item.instancePath.replace(/^\//, '').replace(/\//g, '.');
  const leaf = missing ?? additional;
  if (leaf) return path ? `${path}.${leaf}` : leaf;
  return path || undefined;
}

function describeValidation(where: string, field: string | undefined, message: string, params: unknown): string {
  const p = params as { additionalProperty?: string; allowedValues?: unknown[]; missingProperty?: string };
  if (p?.additionalProperty) return `${where} has an unknown field "${p.additionalProperty}"; remove it`;
  if (p?.missingProperty) return `${where} is missing the required field "${field}"`;
  if (p?.allowedValues) return `${where}.${field} must be one of: ${p.allowedValues.map(String).join(', ')}`;
  return field ? `${where}.${field} ${message}` : `${where} ${message}`;
}
