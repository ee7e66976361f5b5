import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { asRunner, asUser } from '../identity/principal.ts';
import type { EnvironmentProgressReport } from '../../control/environments.ts';
import type { EnvironmentService } from './service.ts';
import { Checkout, EnvironmentDeleting, EnvironmentList, EnvironmentSchema, Failure, Progress } from './schema.ts';
import { CloneOptionsSchema } from './clone-options.ts';

const Errors = errorResponses(400, 401, 403, 404, 409, 422, 429, 502, 503, 504);
// Null first: with ajv's type coercion a null would otherwise become "" when a string is tried first.
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]);
const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export async function environmentRoutes(
  root: FastifyInstance,
  deps: { environments: EnvironmentService; audit: Pick<AuditLog, 'record'> },
): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { environments } = deps;
  const audit = createRouteAudit(deps.audit);
  const routeSchema = routeSchemas('environments', Errors);

  app.post(
    '/api/v1/environments',
    {
      schema: routeSchema(
        "Create an environment: the runner clones the repository at the URL's ref (branch, tag, commit or pull request) into a workspace whose git asks the runner for your current token. 429 when a limit is reached (environment_limit, clone_limit, runner_environment_limit, runner_clone_limit): the message says which and how to free it",
        {
          body: Type.Object(
            {
              contextUrl: Type.String({
                minLength: 1,
                maxLength: 2048,
                description:
                  'Any Azure DevOps repository, branch, tag, commit or pull request URL. Keyway keeps the canonical URL it resolved (the repository at its ref): credentials, unknown query parameters, fragments and file paths are dropped; a URL with credentials before the host is refused',
              }),
              runnerId: Type.String({ minLength: 1, maxLength: 100 }),
              pullRequestCheckout: Type.Optional(
                Type.Union([Type.Literal('merge'), Type.Literal('source')], {
                  description: "Pull requests: the service's merge commit (default) or the source branch",
                }),
              ),
              clone: Type.Optional(
                Type.Object(CloneOptionsSchema.properties, {
                  additionalProperties: false,
                  description:
                    "How much of the repository to fetch; each option left out takes the integration's default (GET …/scm-integrations/{id}/environment-defaults). A full or blobless environment takes its objects from the runner's repository cache once your access is checked; a shallow one is fetched from Azure DevOps",
                }),
              ),
            },
            { additionalProperties: false },
          ),
          response: { 201: EnvironmentSchema },
        },
      ),
    },
    async (request, reply) => {
      const user = asUser(request);
      const created = await audit.run(
        request,
        { action: 'environment.create', details: { runnerId: request.body.runnerId } },
        () => environments.create(user, request.body),
        (env) => ({
          target: { type: 'environment', id: env.id },
          details: { runnerId: env.runnerId, repository: env.repository.webUrl, clone: env.clone },
        }),
      );
      return reply.code(201).send(created as never);
    },
  );

  app.get(
    '/api/v1/environments',
    {
      schema: routeSchema('Your environments, newest first', { response: { 200: EnvironmentList } }),
    },
    async (request) => ({ environments: (await environments.list(asUser(request))) as never }),
  );

  app.get(
    '/api/v1/environments/:id',
    {
      schema: routeSchema("One of your environments, with the clone's progress", {
        params: IdParams,
        response: { 200: EnvironmentSchema },
      }),
    },
    async (request) => (await environments.get(asUser(request), request.params.id)) as never,
  );

  app.delete(
    '/api/v1/environments/:id',
    {
      schema: routeSchema(
        'Delete an environment: its workspace is removed and its credential helper stops working (202 when the runner is unreachable: queued until it reconnects)',
        { params: IdParams, response: { 204: Type.Null(), 202: EnvironmentDeleting } },
      ),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { id } = request.params;
      const outcome = await audit.run(
        request,
        { action: 'environment.delete', target: { type: 'environment', id } },
        () => environments.delete(user, id),
        (result) => ({ details: { outcome: result } }),
      );
      if (outcome === 'queued')
        return reply
          .code(202)
          .send({ status: 'deleting', message: 'the runner cannot be reached: the deletion is queued and happens when it reconnects' });
      return reply.code(204).send(null);
    },
  );

  // ---- the runner's side ----

  app.post(
    '/api/v1/runner/environments/:id/progress',
    {
      config: { auth: 'runner' },
      logLevel: 'warn',
      schema: {
        tags: ['runner protocol'],
        summary:
          "A runner reports an environment's clone progress, outcome, deletion, disk use or removal when idle (its own environments only)",
        params: IdParams,
        body: Type.Object(
          {
            status: Type.Union([
              Type.Literal('cloning'),
              Type.Literal('ready'),
              Type.Literal('failed'),
              Type.Literal('deleted'),
              Type.Literal('usage'),
              Type.Literal('removed'),
            ]),
            progress: Type.Optional(Progress),
            error: Type.Optional(Failure),
            checkout: Type.Optional(Checkout),
            usage: Type.Optional(
              Type.Object(
                { diskBytes: Type.Integer({ minimum: 0 }), lastUsedAt: Nullable(Type.String({ maxLength: 40 })) },
                { additionalProperties: false },
              ),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      await environments.report(asRunner(request), request.params.id, request.body as EnvironmentProgressReport);
      return reply.code(204).send(null);
    },
  );
}
