import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { asUser } from '../identity/principal.ts';
import {
  ConnectionList,
  ConnectionSchema,
  CreateConnectionBody,
  OAuthConfigurationSchema,
  SaveConnectionResponse,
  UpdateConnectionBody,
  UpdateConnectionResponse,
  ValidationSchema,
} from './schema.ts';
import { OAUTH_CALLBACK_PATH } from './service.ts';
import type { AppConnectionService } from './service.ts';
import type { AppConnectionConsent } from './oauth-consent.ts';
import { CALLBACK_HEADERS, callbackPage } from '../oauth/callback-page.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import { parseMemberTargets } from '../syncs/targets.ts';
import { CertificateQuery, ClientCredentialStateSchema, sendCertificate } from '../client-credentials/http.ts';

const Errors = errorResponses(400, 401, 403, 404, 409, 422, 501, 502, 503, 504);
const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const ItemParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), id: Type.String({ maxLength: 100 }) });

export async function appConnectionRoutes(
  root: FastifyInstance,
  deps: { connections: AppConnectionService; consent: AppConnectionConsent; audit: Pick<AuditLog, 'record'> },
): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { connections, consent } = deps;
  const audit = createRouteAudit(deps.audit);
  const base = '/api/v1/projects/:projectId/app-connections';
  const routeSchema = routeSchemas('app connections', Errors);

  app.get(
    '/api/v1/app-connections/oauth/configuration',
    {
      schema: routeSchema(
        'Whether oauth app connections are configured on this Keyway, and the redirect URI to register in Entra ID. With runnerId, that runner also asks Entra ID whether the app registration accepts the redirect URI.',
        {
          querystring: Type.Object(
            { runnerId: Type.Optional(Type.String({ maxLength: 100 })), tenantId: Type.Optional(Type.String({ maxLength: 100 })) },
            { additionalProperties: false },
          ),
          response: { 200: OAuthConfigurationSchema },
        },
      ),
    },
    async (request) => {
      const config = connections.oauthConfiguration();
      if (!request.query.runnerId || !config.clientId) return config;
      await connections.runnerOf(asUser(request), request.query.runnerId);
      const probe = await connections.probeOAuth(request.query.runnerId, request.query.tenantId?.trim() || 'organizations');
      return probe.valid
        ? config
        : {
            ...config,
            configured: false,
            problems: [...config.problems, probe.message ?? 'the app registration does not accept the redirect URI'],
          };
    },
  );

  app.get(
    base,
    {
      schema: routeSchema("A project's app connections (its members and organization admins)", {
        params: ProjectParams,
        response: { 200: ConnectionList },
      }),
    },
    async (request) => ({
      connections: await connections.list(asUser(request), request.params.projectId),
    }),
  );

  app.get(
    `${base}/:id`,
    {
      schema: routeSchema('One app connection (never its credential)', { params: ItemParams, response: { 200: ConnectionSchema } }),
    },
    async (request) => connections.get(asUser(request), request.params.projectId, request.params.id),
  );

  app.post(
    base,
    {
      schema: routeSchema(
        'Create an app connection (project owners and organization admins). The runner validates the credential first and keeps it only when it works: a wrong PAT, missing scopes, a wrong client secret or a service principal that is not in the organization answer 400 with the reason.',
        { params: ProjectParams, body: CreateConnectionBody, response: { 201: SaveConnectionResponse } },
      ),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { projectId } = request.params;
      const saved = await audit.run(
        request,
        {
          action: 'app_connection.create',
          target: { type: 'app_connection', id: request.body.id },
          details: { projectId, method: request.body.method },
        },
        () => connections.create(user, projectId, request.body),
        ({ connection }) => ({
          target: { type: 'app_connection', id: connection.id },
          details: { organization: connection.organization, runnerId: connection.runnerId },
        }),
      );
      return reply.code(201).send(saved);
    },
  );

  app.patch(
    `${base}/:id`,
    {
      schema: routeSchema(
        'Rename, or re-enter the credential and settings (project owners and organization admins); a new credential is validated first and replaces the old one only when it works',
        { params: ItemParams, body: UpdateConnectionBody, response: { 200: UpdateConnectionResponse } },
      ),
    },
    async (request) => {
      const user = asUser(request);
      // Member targets decide who may point syncs where: the change is recorded with both sides.
      const targetsBefore =
        request.body.memberTargets !== undefined
          ? await connections.getRow(request.params.projectId, request.params.id).then(
              (r) => parseMemberTargets(r.member_targets),
              () => undefined,
            )
          : undefined;
      return audit.run(
        request,
        {
          action: 'app_connection.update',
          target: { type: 'app_connection', id: request.params.id },
          // Field names only; the values of credential fields never reach the audit log.
          details: { projectId: request.params.projectId, fields: Object.keys(request.body) },
        },
        () => connections.update(user, request.params.projectId, request.params.id, request.body),
        ({ connection }) =>
          request.body.memberTargets !== undefined
            ? { details: { memberTargets: { before: targetsBefore ?? null, after: connection.memberTargets } } }
            : {},
      );
    },
  );

  app.delete(
    `${base}/:id`,
    {
      schema: routeSchema('Delete an app connection; the runner forgets its credential (project owners and organization admins)', {
        params: ItemParams,
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      await audit.run(request, { action: 'app_connection.delete', target: { type: 'app_connection', id }, details: { projectId } }, () =>
        connections.remove(user, projectId, id),
      );
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${base}/:id/test`,
    {
      schema: routeSchema("Ask the runner to check the connection's credential again (project members)", {
        params: ItemParams,
        response: { 200: ValidationSchema },
      }),
    },
    async (request) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      return audit.run(
        request,
        { action: 'app_connection.test', target: { type: 'app_connection', id }, details: { projectId } },
        () => connections.test(user, projectId, id),
        (result) => ({ outcome: result.valid ? 'success' : 'failure', details: { code: result.code ?? null } }),
      );
    },
  );

  app.get(
    `${base}/:id/client-credential`,
    {
      schema: routeSchema(
        "A connection without secret: the runner's certificate to upload (with thumbprint), the federated credential's issuer, subject and audience, or the managed identity the machine answers for (asks the runner; project members)",
        { params: ItemParams, response: { 200: ClientCredentialStateSchema } },
      ),
    },
    async (request) => connections.clientCredential(asUser(request), request.params.projectId, request.params.id),
  );

  app.post(
    `${base}/:id/client-credential/next-certificate`,
    {
      schema: routeSchema(
        'Have the runner make the next certificate now (project owners): upload it; it is used once Entra ID accepts it',
        { params: ItemParams, response: { 200: ClientCredentialStateSchema } },
      ),
    },
    async (request) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      return audit.run(
        request,
        { action: 'app_connection.certificate_prepare', target: { type: 'app_connection', id }, details: { projectId } },
        () => connections.prepareNextCertificate(user, projectId, id),
        (state) => ({ details: { thumbprint: state.certificates?.find((c) => c.status === 'next')?.thumbprintSha1 ?? null } }),
      );
    },
  );

  app.get(
    `${base}/:id/client-credential/certificate`,
    {
      schema: routeSchema("Download the connection's certificate (public) to upload to the app registration (project members)", {
        params: ItemParams,
        querystring: CertificateQuery,
        response: { 200: Type.Unknown({ description: 'The certificate file' }) },
      }),
    },
    async (request, reply) => {
      const certificate = await connections.certificate(
        asUser(request),
        request.params.projectId,
        request.params.id,
        request.query.status ?? 'active',
      );
      return sendCertificate(reply, certificate, request.params.id, request.query.format ?? 'cer');
    },
  );

  app.get(
    `${base}/:id/oauth/authorize`,
    {
      schema: routeSchema(
        'Connect (or reconnect) an oauth app connection: redirects the browser to Entra ID to sign in and consent (project owners; browser sessions only)',
        {
          params: ItemParams,
          querystring: Type.Object(
            { returnTo: Type.Optional(Type.String({ maxLength: 1000, description: 'A path on this Keyway to come back to' })) },
            { additionalProperties: false },
          ),
          response: { 302: Type.Null() },
        },
      ),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      const url = await audit.run(
        request,
        { action: 'app_connection.oauth_start', target: { type: 'app_connection', id }, details: { projectId } },
        () => consent.begin(user, projectId, id, request.query),
      );
      return reply.header('referrer-policy', 'no-referrer').redirect(url, 302);
    },
  );

  // Where Entra ID sends the browser back for every oauth app connection (the redirect URI admins
  // register). Public: the browser arrives from Entra; the state's binding to the session is checked inside.
  app.get(
    OAUTH_CALLBACK_PATH,
    {
      config: { auth: 'public' },
      schema: {
        tags: ['app connections'],
        summary: "oauth app connections' redirect URI (register it in the Entra app registration as a Web redirect URI)",
        querystring: Type.Record(Type.String(), Type.String()),
        produces: ['text/html'],
        response: { 200: Type.String(), 400: Type.String() },
      },
    },
    async (request, reply) => {
      const principal = request.principal?.kind === 'user' ? (request.principal as UserPrincipal) : undefined;
      const outcome = await consent.complete(principal, `${request.protocol}://${request.host}`, request.query as Record<string, string>);
      await audit.record(request, {
        organizationId: outcome.audit.organizationId,
        actor: principal ?? { kind: 'anonymous', label: 'oauth callback' },
        action: 'app_connection.oauth_connect',
        target: { type: 'app_connection', id: outcome.audit.connectionId ?? 'unknown' },
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
}
