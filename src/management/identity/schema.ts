// The shapes the identity routes take and answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';
import { Nullable } from '../../control/schema.ts';

export const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('member')]);
export const AuthMethodSchema = Type.Union([
  Type.Literal('password'),
  Type.Literal('link'),
  Type.Literal('sso'),
  Type.Literal('invitation'),
]);

export const SignedIn = Type.Object({
  csrfToken: Type.String(),
  organizationChoiceRequired: Type.Boolean({
    description: 'True when the session is in no organization yet: choose one with PUT /api/v1/me/organization',
  }),
});

export const OrganizationRef = Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String() });
export const Me = Type.Object({
  user: Type.Object({
    id: Type.String(),
    email: Type.String(),
    displayName: Type.String(),
    operator: Type.Boolean(),
    hasPassword: Type.Boolean(),
  }),
  organization: Nullable(OrganizationRef),
  role: Nullable(RoleSchema),
  organizations: Type.Array(
    Type.Object({
      id: Type.String(),
      slug: Type.String(),
      name: Type.String(),
      role: RoleSchema,
      available: Type.Boolean({ description: 'False when this session cannot enter it (the organization requires single sign-on)' }),
    }),
  ),
  csrfToken: Nullable(Type.String({ description: 'Send as X-CSRF-Token with every cookie-authenticated write' })),
  authenticatedBy: Type.Union([Type.Literal('session'), Type.Literal('api-token')]),
  authMethod: Nullable(AuthMethodSchema),
  authenticatedAt: Nullable(Type.String()),
});

export const ApiTokenSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  organizationId: Type.String(),
  createdAt: Type.String(),
  expiresAt: Nullable(Type.String()),
  lastUsedAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
});

export const SessionSummary = Type.Object({
  id: Type.String(),
  current: Type.Boolean(),
  organizationId: Nullable(Type.String()),
  createdAt: Type.String(),
  lastSeenAt: Type.String(),
  expiresAt: Type.String(),
  ip: Nullable(Type.String()),
  userAgent: Nullable(Type.String()),
  authMethod: AuthMethodSchema,
});

export const PasswordChanged = Type.Object({ endedSessions: Type.Integer(), revokedTokens: Type.Integer() });
export const SessionList = Type.Object({ sessions: Type.Array(SessionSummary) });
export const SignedOutEverywhere = Type.Object({ endedSessions: Type.Integer() });
export const ApiTokenList = Type.Object({ tokens: Type.Array(ApiTokenSummary) });
export const CreatedApiToken = Type.Object({
  id: Type.String(),
  name: Type.String(),
  token: Type.String({ description: 'Shown once; store it now' }),
  expiresAt: Nullable(Type.String()),
});
