import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorResponse, forbidden } from '../../http/errors.ts';
import type { AuditLog } from './service.ts';

const AuditEvent = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  actor: Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]), label: Type.Union([Type.String(), Type.Null()]) }),
  action: Type.String(),
  target: Type.Union([Type.Object({ type: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }), Type.Null()]),
  outcome: Type.String(),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  details: Type.Record(Type.String(), Type.Unknown()),
});

export function registerAuditRoutes(root: FastifyInstance, deps: { audit: Pick<AuditLog, 'list'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/v1/audit-events',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['audit'],
        summary: "The organization's audit log, newest first (admin)",
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
            cursor: Type.Optional(Type.String({ maxLength: 200 })),
            action: Type.Optional(Type.String({ maxLength: 100 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ events: Type.Array(AuditEvent), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
          401: ErrorResponse,
          403: ErrorResponse,
        },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (principal?.kind !== 'user') throw forbidden('a user is required');
      return deps.audit.list(principal.organizationId, { limit: request.query.limit, before: request.query.cursor, action: request.query.action });
    },
  );
}
