import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorResponse, forbidden } from '../../http/errors.ts';
import { AUDIT_ACTION_GROUPS, AUDIT_ACTOR_TYPES, AUDIT_TARGET_TYPES } from './actions.ts';
import type { AuditLog } from './service.ts';
import { AuditEventPage } from './schema.ts';

const Id = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 100, description }));
const Instant = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 40, description }));

export async function auditRoutes(root: FastifyInstance, deps: { audit: Pick<AuditLog, 'list'> }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  app.get(
    '/api/v1/audit-events',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['audit'],
        summary: "The organization's audit log, newest first, with the names of actors and targets (admin)",
        description:
          'Every filter is optional and they combine (all must match). `nextCursor` continues the same query: send it back as `cursor` with the same filters.',
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'The nextCursor of the previous page' })),
            action: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'An exact action, for example member.add' })),
            group: Type.Optional(
              Type.Enum([...AUDIT_ACTION_GROUPS], { description: 'Actions of one group: the part of the action before its first dot' }),
            ),
            actorType: Type.Optional(Type.Enum([...AUDIT_ACTOR_TYPES], { description: 'The kind of actor' })),
            actorId: Id('A user id or runner id'),
            targetType: Type.Optional(Type.Enum([...AUDIT_TARGET_TYPES], { description: 'The kind of thing acted on' })),
            targetId: Id('The id of the thing acted on'),
            from: Instant(
              'Events at or after this ISO-8601 date or date-time (a date is midnight UTC; a time needs an offset, Z or ±hh:mm)',
            ),
            to: Instant('Events before this ISO-8601 date or date-time (exclusive)'),
          },
          { additionalProperties: false },
        ),
        response: {
          200: AuditEventPage,
          400: ErrorResponse,
          401: ErrorResponse,
          403: ErrorResponse,
        },
      },
    },
    async (request) => {
      const principal = request.principal;
      if (principal?.kind !== 'user') throw forbidden('a user is required');
      const { cursor, ...filters } = request.query;
      return deps.audit.list(principal.organizationId, { ...filters, before: cursor });
    },
  );
}
