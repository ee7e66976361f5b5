import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorResponse, forbidden } from '../../http/errors.ts';
import { AUDIT_ACTION_GROUPS, AUDIT_ACTOR_TYPES, AUDIT_TARGET_TYPES } from './actions.ts';
import type { AuditLog } from './service.ts';

const NullableText = Type.Union([Type.String(), Type.Null()]);

const AuditEvent = Type.Object({
  id: Type.String(),
  createdAt: Type.String(),
  actor: Type.Object({
    type: Type.String({ description: `One of: ${AUDIT_ACTOR_TYPES.join(', ')}` }),
    id: Type.Union([Type.String(), Type.Null()], { description: 'The user or runner id; null for anonymous and system actors' }),
    label: Type.Union([Type.String(), Type.Null()], {
      description: "What was recorded at the time: a user's email, a runner's name, or who an anonymous caller claimed to be",
    }),
    name: Type.Union([Type.String(), Type.Null()], {
      description: "The actor's name now (a user's display name, a runner's name); null when unknown or gone",
    }),
  }),
  action: Type.String({ description: 'group.verb, for example runner.create' }),
  target: Type.Union([
    Type.Object({
      type: Type.String(),
      id: Type.Union([Type.String(), Type.Null()]),
      name: Type.Union([Type.String(), Type.Null()], {
        description: "The target's name now (a scm integration's host, an api token's name); null when it has none or no longer exists",
      }),
    }),
    Type.Null(),
  ]),
  outcome: Type.String(),
  ip: NullableText,
  userAgent: NullableText,
  details: Type.Record(Type.String(), Type.Unknown()),
});

const Id = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 100, description }));
const Instant = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 40, description }));

export function registerAuditRoutes(root: FastifyInstance, deps: { audit: Pick<AuditLog, 'list'> }): void {
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
          200: Type.Object({ events: Type.Array(AuditEvent), nextCursor: Type.Union([Type.String(), Type.Null()]) }),
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
