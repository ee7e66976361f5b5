import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Static } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import type { RouteEventResult } from '../audit/route-audit.ts';
import type { AuditAction } from '../audit/actions.ts';
import { asUser } from '../identity/principal.ts';
import type { ScmIntegrationService } from './service.ts';
import { IntegrationList, IntegrationSchema, SaveResponse, TestResultSchema, UpdateResponse } from './schema.ts';
import { sealedFieldDescription } from '../../http/sealed-field.ts';
import { CertificateQuery, ClientCredentialStateSchema, CredentialType, sendCertificate } from '../client-credentials/http.ts';

const Errors = errorResponses(400, 401, 403, 404, 409);
const Str = (max: number, description?: string) => Type.String({ maxLength: max, ...(description ? { description } : {}) });

const OAuthInput = Type.Object(
  {
    clientId: Str(100, 'Application (client) ID'),
    clientSecret: Type.Optional(Str(1000, 'Plaintext; sealed to the runner key at once and never stored or returned')),
    sealedClientSecret: Type.Optional(Str(4000, sealedFieldDescription('The client secret', 'scm-integration:{id}:oauth-client-secret'))),
    issuerUrl: Str(2048, 'https://login.microsoftonline.com/{tenant}/v2.0 or .../{tenant}/oauth2/v2.0'),
    credential: Type.Optional(CredentialType),
    managedIdentityClientId: Type.Optional(
      Type.Union([
        Str(100, "credential managed-identity: a user-assigned identity's client ID; leave out for the system-assigned identity"),
        Type.Null(),
      ]),
    ),
  },
  { additionalProperties: false },
);

const Params = Type.Object({ runnerId: Str(100) });
const ItemParams = Type.Object({ runnerId: Str(100), id: Str(100) });

export async function scmIntegrationRoutes(
  root: FastifyInstance,
  deps: { integrations: ScmIntegrationService; audit: Pick<AuditLog, 'record'> },
): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { integrations } = deps;
  const audit = createRouteAudit(deps.audit);
  const base = '/api/v1/runners/:runnerId/scm-integrations';
  const routeSchema = routeSchemas('scm integrations', Errors);

  /** An admin's action on one of the runner's integrations, audited with the runner it belongs to. */
  function onIntegration<T>(
    request: FastifyRequest & { params: Static<typeof ItemParams> },
    action: AuditAction,
    work: (organizationId: string, runnerId: string, id: string) => Promise<T>,
    describe?: (result: T) => RouteEventResult,
  ): Promise<T> {
    const user = asUser(request);
    const { runnerId, id } = request.params;
    return audit.run(
      request,
      { action, target: { type: 'scm_integration', id }, details: { runnerId } },
      () => work(user.organizationId, runnerId, id),
      describe,
    );
  }

  app.get(
    base,
    {
      schema: routeSchema("A runner's repository access configuration", { params: Params, response: { 200: IntegrationList } }),
    },
    async (request) => ({
      integrations: await integrations.list(asUser(request).organizationId, request.params.runnerId),
    }),
  );

  app.get(
    `${base}/:id`,
    {
      schema: routeSchema('One integration', { params: ItemParams, response: { 200: IntegrationSchema } }),
    },
    async (request) => integrations.get(asUser(request).organizationId, request.params.runnerId, request.params.id),
  );

  app.post(
    base,
    {
      config: { auth: 'admin' },
      schema: routeSchema('Save & Test: create an integration, then ask the runner to verify it (admin). A failed test still saves.', {
        params: Params,
        body: Type.Object(
          {
            id: Type.Optional(Str(60, 'Client-chosen id (int_…), needed when the secret is sealed in the browser')),
            scmId: Str(40),
            host: Str(300),
            virtualDirectory: Type.Optional(Str(100)),
            oauth: Type.Optional(Type.Union([OAuthInput, Type.Null()])),
            pat: Type.Optional(Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false })),
          },
          { additionalProperties: false },
        ),
        response: { 201: SaveResponse },
      }),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { runnerId } = request.params;
      const saved = await audit.run(
        request,
        {
          action: 'scm_integration.create',
          // The client-chosen id, when there is one: a failed create still names what it tried to create.
          ...(request.body.id ? { target: { type: 'scm_integration', id: request.body.id } } : {}),
          details: { runnerId },
        },
        () => integrations.create(user.organizationId, runnerId, request.body),
        ({ integration, test }) => ({
          target: { type: 'scm_integration', id: integration.id },
          details: { host: integration.host, oauth: integration.oauth !== null, pat: integration.pat.enabled, testValid: test.valid },
        }),
      );
      return reply.code(201).send(saved);
    },
  );

  app.patch(
    `${base}/:id`,
    {
      config: { auth: 'admin' },
      schema: routeSchema(
        'Save & Test an update (admin). oauth: null disables OAuth; pat.enabled false disables PATs; both delete the credentials they produced.',
        {
          params: ItemParams,
          body: Type.Object(
            {
              scmId: Type.Optional(Str(40)),
              host: Type.Optional(Str(300)),
              virtualDirectory: Type.Optional(Str(100)),
              oauth: Type.Optional(Type.Union([OAuthInput, Type.Null()])),
              pat: Type.Optional(Type.Object({ enabled: Type.Boolean() }, { additionalProperties: false })),
              force: Type.Optional(
                Type.Boolean({
                  description: "Apply even when the test fails (it would replace a working configuration, or delete users' credentials)",
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 200: UpdateResponse },
        },
      ),
    },
    async (request) => {
      const user = asUser(request);
      const { runnerId, id } = request.params;
      return audit.run(
        request,
        {
          action: 'scm_integration.update',
          target: { type: 'scm_integration', id },
          details: { runnerId, fields: Object.keys(request.body).filter((f) => f !== 'force') },
        },
        () => integrations.update(user.organizationId, runnerId, id, { ...request.body, proposedBy: user.userId }),
        // What happened, as it happened: a change kept as a draft is a failure of the change.
        (saved) => ({
          outcome: saved.applied ? 'success' : 'failure',
          details: { applied: saved.applied, forced: saved.forced, purgedMethods: saved.purgedMethods, testValid: saved.test.valid },
        }),
      );
    },
  );

  app.post(
    `${base}/:id/draft/apply`,
    {
      config: { auth: 'admin' },
      schema: routeSchema('Apply the rejected draft anyway (admin): it replaces the configuration and purges what it would purge', {
        params: ItemParams,
        response: { 200: UpdateResponse },
      }),
    },
    async (request) => {
      return onIntegration(request, 'scm_integration.draft_apply', integrations.applyDraft, (saved) => ({
        details: { applied: true, forced: saved.forced, purgedMethods: saved.purgedMethods, testValid: saved.test.valid },
      }));
    },
  );

  app.delete(
    `${base}/:id/draft`,
    {
      config: { auth: 'admin' },
      schema: routeSchema('Discard the rejected draft (admin); the configuration stays as it is', {
        params: ItemParams,
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      await onIntegration(request, 'scm_integration.draft_discard', integrations.discardDraft);
      return reply.code(204).send(null);
    },
  );

  app.delete(
    `${base}/:id`,
    {
      config: { auth: 'admin' },
      schema: routeSchema('Delete an integration and every credential it produced (admin)', {
        params: ItemParams,
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      await onIntegration(request, 'scm_integration.delete', integrations.remove);
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${base}/:id/test`,
    {
      config: { auth: 'admin' },
      schema: routeSchema('Ask the runner to verify the integration again (admin)', {
        params: ItemParams,
        response: { 200: TestResultSchema },
      }),
    },
    async (request) => {
      const user = asUser(request);
      const { runnerId, id } = request.params;
      return audit.run(
        request,
        { action: 'scm_integration.test', target: { type: 'scm_integration', id } },
        () => integrations.test(user.organizationId, runnerId, id),
        (result) => ({ outcome: result.valid ? 'success' : 'failure' }),
      );
    },
  );

  app.get(
    `${base}/:id/client-credential`,
    {
      schema: routeSchema(
        "What to register in Entra ID for the app's credential without secret: the runner's certificate (with thumbprint), or the federated credential's issuer, subject and audience (asks the runner)",
        { params: ItemParams, response: { 200: ClientCredentialStateSchema } },
      ),
    },
    async (request) => integrations.clientCredential(asUser(request).organizationId, request.params.runnerId, request.params.id),
  );

  app.post(
    `${base}/:id/client-credential/next-certificate`,
    {
      config: { auth: 'admin' },
      schema: routeSchema('Have the runner make the next certificate now (admin): upload it; it is used once Entra ID accepts it', {
        params: ItemParams,
        response: { 200: ClientCredentialStateSchema },
      }),
    },
    async (request) => {
      return onIntegration(request, 'scm_integration.certificate_prepare', integrations.prepareNextCertificate, (state) => ({
        details: { thumbprint: state.certificates?.find((c) => c.status === 'next')?.thumbprintSha1 ?? null },
      }));
    },
  );

  app.get(
    `${base}/:id/client-credential/certificate`,
    {
      schema: routeSchema("Download the app's certificate (public) to upload it under Certificates & secrets → Certificates", {
        params: ItemParams,
        querystring: CertificateQuery,
        response: { 200: Type.Unknown({ description: 'The certificate file' }) },
      }),
    },
    async (request, reply) => {
      const certificate = await integrations.certificate(
        asUser(request).organizationId,
        request.params.runnerId,
        request.params.id,
        request.query.status ?? 'active',
      );
      return sendCertificate(reply, certificate, request.params.id, request.query.format ?? 'cer');
    },
  );
}
