import type { FastifyRequest } from 'fastify';

/** Where a request came from, for the audit log: the client address (as trustProxy allows) and its user agent. */
export function clientInfo(request: FastifyRequest) {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined };
}
