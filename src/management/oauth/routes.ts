import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import { asUser } from '../identity/principal.ts';
import { CALLBACK_HEADERS, CALLBACK_SCRIPT, callbackPage } from './callback-page.ts';
import type { OAuthService } from './service.ts';
import { AuthenticationCheck, AuthorizationDeleted, AuthorizationList, StoredPat } from './schema.ts';
import { sealedFieldDescription } from '../../http/sealed-field.ts';

const Errors = errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504);
const Str = (max: number) => Type.String({ maxLength: max });

export async function oauthRoutes(root: FastifyInstance, deps: { oauth: OAuthService; audit: Pick<AuditLog, 'record'> }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { oauth } = deps;
  const audit = createRouteAudit(deps.audit);
  const routeSchema = routeSchemas('authorization', Errors);

  app.get(
    '/api/v1/scm/authentication',
    {
      schema: routeSchema(
        'CheckAuthenticationForHost: whether you are authorized for a host, and how you may authorize (only what the admin enabled)',
        {
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
          response: { 200: AuthenticationCheck },
        },
      ),
    },
    // The runner builds `authorization`; the response schema is what reaches the client.
    async (request) => (await oauth.checkAuthentication(asUser(request), request.query)) as never,
  );

  app.get(
    '/api/v1/oauth/authorize/:integrationId',
    {
      schema: routeSchema('Start Connect (OAuth authorization code + PKCE): redirects the browser to Entra ID', {
        params: Type.Object({ integrationId: Str(100) }),
        querystring: Type.Object(
          {
            returnTo: Type.Optional(Str(1000)),
            display: Type.Optional(Type.Union([Type.Literal('popup'), Type.Literal('page')])),
            loginHint: Type.Optional(Str(320)),
          },
          { additionalProperties: false },
        ),
        response: { 302: Type.Null() },
      }),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { integrationId } = request.params;
      const { authorizationUrl } = await audit.run(
        request,
        { action: 'authorization.oauth_start', target: { type: 'scm_integration', id: integrationId } },
        () => oauth.begin(user, integrationId, request.query),
      );
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
      // The callback's outcome is what it answers, not whether it threw: the route decides it.
      await audit.record(request, {
        organizationId: outcome.audit.organizationId,
        actor: principal ?? { kind: 'anonymous', label: 'oauth callback' },
        action: 'authorization.oauth_connect',
        target: { type: 'scm_integration', id: outcome.audit.integrationId },
        outcome: outcome.ok ? 'success' : 'failure',
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
      schema: routeSchema('Provide a Personal Access Token for a host; the runner checks it against Azure DevOps before storing it', {
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
        response: { 201: StoredPat },
      }),
    },
    async (request, reply) => {
      const user = asUser(request);
      const stored = await audit.run(
        request,
        { action: 'authorization.pat_store', target: { type: 'scm_integration', id: request.body.integrationId } },
        () => oauth.submitPat(user, request.body),
        // The organization once the runner accepted the token; a failure records its reason alone, as before.
        (saved) => ({ details: { organization: request.body.organization, pushAccess: saved.pushAccess ?? 'unconfirmed' } }),
      );
      return reply.code(201).send(stored);
    },
  );

  app.get(
    '/api/v1/scm/authorizations',
    {
      schema: routeSchema('Your host authorizations on every runner (never the tokens), with expiry warnings', {
        response: { 200: AuthorizationList },
      }),
    },
    async (request) => oauth.listAuthorizations(asUser(request)) as never,
  );

  app.delete(
    '/api/v1/scm/authorizations/:runnerId/:id',
    {
      schema: routeSchema('Remove one of your host authorizations', {
        params: Type.Object({ runnerId: Str(100), id: Str(100) }),
        response: { 200: AuthorizationDeleted },
      }),
    },
    async (request) => {
      const user = asUser(request);
      const { runnerId, id } = request.params;
      return audit.run(
        request,
        { action: 'authorization.delete', target: { type: 'authorization', id } },
        () => oauth.deleteAuthorization(user, runnerId, id),
        (result) => ({ details: { method: result.method } }),
      );
    },
  );
}
