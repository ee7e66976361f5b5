import pino from 'pino';
import type { Logger, DestinationStream, LoggerOptions } from 'pino';
import type { LogLevel } from '../config/config.ts';
import { redactUrl } from './redact-url.ts';

export type { Logger };

/**
 * Field names that hold secrets anywhere in a logged object. pino's redaction works on paths,
 * so each name is listed at the top level and one and two levels down (covering `err`, `req`,
 * `body`, and objects passed as the first argument).
 */
const SECRET_FIELDS = [
  'password',
  'newPassword',
  'secret',
  'clientSecret',
  'client_secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'idToken',
  'id_token',
  'apiToken',
  'runnerToken',
  'exchangeToken',
  'pat',
  'personalAccessToken',
  'code_verifier',
  'codeVerifier',
  'sealed',
  'sealedSecret',
  'sealedToken',
  'privateKey',
  'authorization',
  'cookie',
  'set-cookie',
  'x-csrf-token',
  'value',
];
// `code` and `state` (OAuth) are not listed: they would also hide error codes. They only ever
// travel in query strings, which the req serializer strips, and in bodies, which are never logged.

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  ...SECRET_FIELDS.flatMap((f) => [`${quote(f)}`, `*.${quote(f)}`, `*.*.${quote(f)}`]),
];

function quote(field: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(field) ? field : `["${field}"]`;
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    serializers: {
      // Fastify logs req.url by default; query strings carry OAuth codes and states, so only the
      // path and the names of query parameters are kept.
      req: (req: { method?: string; url?: string; id?: string; ip?: string }) => ({
        id: req.id,
        method: req.method,
        url: req.url ? redactUrl(req.url) : undefined,
        ip: req.ip,
      }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      err: pino.stdSerializers.err,
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
