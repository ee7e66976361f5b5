// The shapes the oauth routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';

export const Authorization = Type.Object({
  id: Type.String(),
  runnerId: Type.Optional(Type.String()),
  integrationId: Type.Union([Type.String(), Type.Null()]),
  host: Type.String(),
  method: Type.String(),
  scopes: Type.Array(Type.String()),
  identity: Type.Union([Type.String(), Type.Null()]),
  organization: Type.Union([Type.String(), Type.Null()]),
  status: Type.String(),
  reauthorizationReason: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  warnings: Type.Array(Type.String(), { description: 'expires-soon (7 days), expired, needs-reauthorization' }),
  state: Type.Optional(
    Type.Union([Type.Literal('working'), Type.Literal('failing'), Type.Literal('needs-reauthorization')], {
      description:
        'The last real outcome: working; failing (since failingSince, because failureReason: a refresh that failed, a token Azure DevOps refused); or the user must connect again',
    }),
  ),
  failingSince: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  failureReason: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  scopesKnown: Type.Optional(
    Type.Boolean({ description: 'false when Azure DevOps did not report the scopes (PATs): `scopes` is then empty, not a guess' }),
  ),
  pushAccess: Type.Optional(
    Type.Union([Type.Literal('confirmed'), Type.Literal('refused'), Type.Literal('unconfirmed')], {
      description:
        'PATs: whether Azure DevOps let the token open a push (the receive-pack advertisement), refused it, or could not be asked',
    }),
  ),
  pushAccessNote: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});

/** How a user may authorize for a host: the integration that serves it, and the methods the admin enabled. */
export const HostAuthentication = {
  integrationId: Type.String(),
  runnerId: Type.String(),
  host: Type.String(),
  supportsOauth2: Type.Optional(Type.Object({ authUrl: Type.String(), docsUrl: Type.String() })),
  supportsPat: Type.Optional(
    Type.Object({
      createUrl: Type.Union([Type.String(), Type.Null()], {
        description: 'Deep link to the PAT page; null until the organization is known',
      }),
      docsUrl: Type.String(),
      example: Type.Union([Type.String(), Type.Null()]),
      requiredScopes: Type.Array(Type.Object({ scope: Type.String(), label: Type.String() })),
      suggestedName: Type.String(),
      suggestedExpiryDays: Type.Integer(),
    }),
  ),
};

export const AuthenticationCheck = Type.Object({
  authenticated: Type.Boolean(),
  authorization: Type.Union([Authorization, Type.Null()]),
  scmId: Type.String(),
  scmName: Type.String(),
  ...HostAuthentication,
});
export const StoredPat = Type.Object({
  authorizationId: Type.String(),
  identity: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  pushAccess: Type.Optional(
    Type.Union([Type.Literal('confirmed'), Type.Literal('refused'), Type.Literal('unconfirmed')], {
      description: 'Whether the token may push (see the authorization listing); refused: it can still clone and fetch',
    }),
  ),
  pushAccessNote: Type.Optional(Type.Union([Type.String(), Type.Null()])),
});
export const AuthorizationList = Type.Object({
  authorizations: Type.Array(Authorization),
  unavailableRunners: Type.Array(Type.Object({ runnerId: Type.String(), reason: Type.String() })),
});
export const AuthorizationDeleted = Type.Object({ deleted: Type.Boolean(), revokedUpstream: Type.Boolean(), method: Type.String() });
