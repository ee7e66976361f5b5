// The shapes the audit routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';
import { AUDIT_ACTOR_TYPES } from './actions.ts';

export const NullableText = Type.Union([Type.String(), Type.Null()]);
export const AuditEvent = Type.Object({
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

export const AuditEventPage = Type.Object({ events: Type.Array(AuditEvent), nextCursor: Type.Union([Type.String(), Type.Null()]) });
