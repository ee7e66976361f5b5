import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorCode, errorResponses } from '../../http/errors.ts';
import type { AuditLog } from '../audit/service.ts';
import { clientInfo } from '../identity/authenticate.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import { asUser } from '../identity/principal.ts';
import { CALLBACK_HEADERS, CALLBACK_SCRIPT, callbackPage } from './callback-page.ts';
import type { OAuthService } from './service.ts';
import { sealedFieldDescription } from '../../http/sealed-field.ts';

const Errors = errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504);
const Str = (max: number) => Type.String({ maxLength: max });

const Authorization = Type.Object({
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

export function registerOAuthRoutes(root: FastifyInstance, deps: { oauth: OAuthService; audit: Pick<AuditLog, 'record'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { oauth, audit } = deps;

  app.get(
    '/api/v1/scm/authentication',
    {
      schema: {
        tags: ['authorization'],
        summary:
          'CheckAuthenticationForHost: whether you are authorized for a host, and how you may authorize (only what the admin enabled)',
        querystring: Type.Object(
          {
            integrationId: Type.Optional(Str(100)),
            host: Type.Optional(Str(300)),
            runnerId: Type.Optional(Str(100)),
            organization: Type.Optional(Str(200)),
            returnTo: Type.Optional(Str(1000)),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({
            authenticated: Type.Boolean(),
            authorization: Type.Union([Authorization, Type.Null()]),
            scmId: Type.String(),
            scmName: Type.String(),
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
          }),
          ...Errors,
        },
      },
    },
    // The runner builds `authorization`; the response schema is what reaches the client.
    async (request) => (await oauth.checkAuthentication(asUser(request), request.query)) as never,
  );

  app.get(
    '/api/v1/oauth/authorize/:integrationId',
    {
      schema: {
        tags: ['authorization'],
        summary: 'Start Connect (OAuth authorization code + PKCE): redirects the browser to Entra ID',
        params: Type.Object({ integrationId: Str(100) }),
        querystring: Type.Object(
          {
            returnTo: Type.Optional(Str(1000)),
            display: Type.Optional(Type.Union([Type.Literal('popup'), Type.Literal('page')])),
            loginHint: Type.Optional(Str(320)),
          },
          { additionalProperties: false },
        ),
        response: { 302: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      const user = asUser(request);
      const { authorizationUrl } = await oauth.begin(user, request.params.integrationId, request.query);
      await audit.record({
        actor: user,
        action: 'authorization.oauth_start',
        target: { type: 'scm_integration', id: request.params.integrationId },
        outcome: 'success',
        client: clientInfo(request),
      });
      return reply.header('referrer-policy', 'no-referrer').redirect(authorizationUrl, 302);
    },
  );

  app.get(
    '/api/v1/oauth/callback/:integrationId',
    {
      // Public: the browser arrives from Entra; the state's binding to the session is checked inside.
      config: { auth: 'public' },
      schema: {
        tags: ['authorization'],
        summary: "An integration's OAuth redirect URI (register it in Entra ID)",
        params: Type.Object({ integrationId: Str(100) }),
        querystring: Type.Record(Type.String(), Type.String()),
        produces: ['text/html'],
        response: { 200: Type.String(), 400: Type.String() },
      },
    },
    async (request, reply) => {
      const principal = request.principal?.kind === 'user' ? (request.principal as UserPrincipal) : undefined;
      const outcome = await oauth.complete(principal, request.params.integrationId, request.query as Record<string, string>);
      await audit.record({
        organizationId: outcome.audit.organizationId,
        actor: principal ?? { kind: 'anonymous', label: 'oauth callback' },
        action: 'authorization.oauth_connect',
        target: { type: 'scm_integration', id: outcome.audit.integrationId },
        outcome: outcome.ok ? 'success' : 'failure',
        client: clientInfo(request),
        details: { result: outcome.code },
      });
      return reply
        .code(outcome.ok ? 200 : 400)
        .headers(CALLBACK_HEADERS)
        .type('text/html; charset=utf-8')
        .send(callbackPage(outcome));
    },
  );

  app.get('/oauth/callback.js', { schema: { hide: true }, config: { auth: 'public' } }, async (_request, reply) =>
    reply
      .headers(CALLBACK_HEADERS)
      .header('cache-control', 'public, max-age=300')
      .type('text/javascript; charset=utf-8')
      .send(CALLBACK_SCRIPT),
  );

  app.post(
    '/api/v1/scm/pat',
    {
      schema: {
        tags: ['authorization'],
        summary: 'Provide a Personal Access Token for a host; the runner checks it against Azure DevOps before storing it',
        body: Type.Object(
          {
            integrationId: Str(100),
            organization: Type.String({
              minLength: 1,
              maxLength: 200,
              description: 'Organization (Services) or collection (Server) the token is for',
            }),
            token: Type.Optional(Type.String({ maxLength: 1000, description: 'Plaintext; sealed to the runner key at once' })),
            sealedToken: Type.Optional(
              Type.String({
                maxLength: 4000,
                description: sealedFieldDescription('The PAT', 'scm-integration:{integrationId}:user:{userId}:pat'),
              }),
            ),
            expiresAt: Type.Optional(Str(40)),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            authorizationId: Type.String(),
            identity: Type.Union([Type.String(), Type.Null()]),
            expiresAt: Type.Union([Type.String(), Type.Null()]),
            pushAccess: Type.Optional(
              Type.Union([Type.Literal('confirmed'), Type.Literal('refused'), Type.Literal('unconfirmed')], {
                description: 'Whether the token may push (see the authorization listing); refused: it can still clone and fetch',
              }),
            ),
            pushAccessNote: Type.Optional(Type.Union([Type.String(), Type.Null()])),
          }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const user = asUser(request);
      try {
        const stored = await oauth.submitPat(user, request.body);
        await audit.record({
          actor: user,
          action: 'authorization.pat_store',
          target: { type: 'scm_integration', id: request.body.integrationId },
          outcome: 'success',
          client: clientInfo(request),
          details: { organization: request.body.organization, pushAccess: stored.pushAccess ?? 'unconfirmed' },
        });
        return reply.code(201).send(stored);
      } catch (err) {
        await audit.record({
          actor: user,
          action: 'authorization.pat_store',
          target: { type: 'scm_integration', id: request.body.integrationId },
          outcome: 'failure',
          client: clientInfo(request),
          details: { reason: errorCode(err) },
        });
        throw err;
      }
    },
  );

  app.get(
    '/api/v1/scm/authorizations',
    {
      schema: {
        tags: ['authorization'],
        summary: 'Your host authorizations on every runner (never the tokens), with expiry warnings',
        response: {
          200: Type.Object({
            authorizations: Type.Array(Authorization),
            unavailableRunners: Type.Array(Type.Object({ runnerId: Type.String(), reason: Type.String() })),
          }),
          ...Errors,
        },
      },
    },
    async (request) => oauth.listAuthorizations(asUser(request)) as never,
  );

  app.delete(
    '/api/v1/scm/authorizations/:runnerId/:id',
    {
      schema: {
        tags: ['authorization'],
        summary: 'Remove one of your host authorizations',
        params: Type.Object({ runnerId: Str(100), id: Str(100) }),
        response: { 200: Type.Object({ deleted: Type.Boolean(), revokedUpstream: Type.Boolean(), method: Type.String() }), ...Errors },
      },
    },
    async (request) => {
      const user = asUser(request);
      const result = await oauth.deleteAuthorization(user, request.params.runnerId, request.params.id);
      await audit.record({
        actor: user,
        action: 'authorization.delete',
        target: { type: 'authorization', id: request.params.id },
        outcome: 'success',
        client: clientInfo(request),
        details: { method: result.method },
      });
      return result;
    },
  );
}
