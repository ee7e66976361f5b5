// How much of a repository an environment fetches (issue 20): blobless (`--filter=blob:none`: file
// contents arrive when git needs them) and shallow (`--depth N`). An integration carries defaults
// for its environments, set by admins; a request may override each of them (null: explicitly none).
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { errorResponses, notFound } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { EnvironmentCloneOptions } from '../../control/environments.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { asUser } from '../identity/principal.ts';
import { createScmIntegrationStore } from '../scm-integrations/store.ts';

/** Both always present in what Keyway stores and answers: null means everything / all history. */
export interface ResolvedCloneOptions {
  filter: 'blob:none' | null;
  depth: number | null;
}

export const FULL_CLONE: ResolvedCloneOptions = { filter: null, depth: null };

/** The request's choice where it made one, the integration's default elsewhere. */
export function resolveCloneOptions(request: EnvironmentCloneOptions | undefined, defaults: ResolvedCloneOptions): ResolvedCloneOptions {
  return {
    filter: request?.filter !== undefined ? request.filter : defaults.filter,
    depth: request?.depth !== undefined ? request.depth : defaults.depth,
  };
}

/** What the runner is sent: only the options that change anything. */
export function clonePayload(options: ResolvedCloneOptions): EnvironmentCloneOptions | undefined {
  if (!options.filter && !options.depth) return undefined;
  return { ...(options.filter ? { filter: options.filter } : {}), ...(options.depth ? { depth: options.depth } : {}) };
}

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([Type.Null(), t]);

/** The request/response shape of clone options (documented once, used by environments and integrations). */
export const CloneOptionsSchema = Type.Object(
  {
    filter: Type.Optional(
      Nullable(
        Type.Literal('blob:none', {
          description:
            'blob:none: a blobless partial clone (file contents are fetched when git needs them, with the same credential); null: every object',
        }),
      ),
    ),
    depth: Type.Optional(
      Nullable(
        Type.Integer({ minimum: 1, maximum: 1_000_000, description: 'a shallow clone of this many commits; null (or 0): all history' }),
      ),
    ),
  },
  { additionalProperties: false },
);

export const ResolvedCloneOptionsSchema = Type.Object({ filter: Nullable(Type.Literal('blob:none')), depth: Nullable(Type.Integer()) });

export function createCloneDefaultsStore(db: Kysely<ManagementDB>, now: () => Date = () => new Date()) {
  return {
    async get(integrationId: string): Promise<ResolvedCloneOptions> {
      const row = await db
        .selectFrom('integration_clone_defaults')
        .select(['filter', 'depth'])
        .where('integration_id', '=', integrationId)
        .executeTakeFirst();
      return row ? { filter: row.filter === 'blob:none' ? 'blob:none' : null, depth: row.depth } : { ...FULL_CLONE };
    },

    async set(organizationId: string, integrationId: string, options: ResolvedCloneOptions, updatedBy: string): Promise<void> {
      const values = { filter: options.filter, depth: options.depth, updated_at: now().toISOString(), updated_by: updatedBy };
      await db
        .insertInto('integration_clone_defaults')
        .values({ integration_id: integrationId, organization_id: organizationId, ...values })
        .onConflict((oc) => oc.column('integration_id').doUpdateSet(values))
        .execute();
    },
  };
}

export async function cloneDefaultsRoutes(
  root: FastifyInstance,
  deps: { db: Kysely<ManagementDB>; audit: Pick<AuditLog, 'record'> },
): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const store = createCloneDefaultsStore(deps.db);
  const integrations = createScmIntegrationStore(deps.db);
  const audit = createRouteAudit(deps.audit);
  const path = '/api/v1/runners/:runnerId/scm-integrations/:id/environment-defaults';
  const Params = Type.Object({ runnerId: Type.String({ maxLength: 100 }), id: Type.String({ maxLength: 100 }) });
  const Errors = errorResponses(400, 401, 403, 404);
  const routeSchema = routeSchemas('scm integrations', Errors);

  /** The integration, in the caller's organization and on that runner; anything else is not found. */
  async function integration(organizationId: string, runnerId: string, id: string): Promise<void> {
    if (!(await integrations.getInOrganization(organizationId, runnerId, id))) throw notFound('integration');
  }

  app.get(
    path,
    {
      schema: routeSchema("How much of a repository this integration's environments fetch unless a request says otherwise", {
        params: Params,
        response: { 200: ResolvedCloneOptionsSchema },
      }),
    },
    async (request) => {
      const user = asUser(request);
      await integration(user.organizationId, request.params.runnerId, request.params.id);
      return store.get(request.params.id);
    },
  );

  app.put(
    path,
    {
      config: { auth: 'admin' },
      schema: routeSchema(
        "Set how much of a repository this integration's environments fetch (admin): blobless, shallow, or everything (null). A request may still ask for other options",
        {
          params: Params,
          body: Type.Object(
            { filter: CloneOptionsSchema.properties.filter, depth: CloneOptionsSchema.properties.depth },
            { additionalProperties: false },
          ),
          response: { 200: ResolvedCloneOptionsSchema },
        },
      ),
    },
    async (request) => {
      const user = asUser(request);
      const { runnerId, id } = request.params;
      const change = await audit.run(
        request,
        { action: 'scm_integration.environment_defaults', target: { type: 'scm_integration', id }, details: { runnerId } },
        async () => {
          await integration(user.organizationId, runnerId, id);
          const before = await store.get(id);
          const after = resolveCloneOptions(request.body, before);
          await store.set(user.organizationId, id, after, user.userId);
          return { before, after };
        },
        ({ before, after }) => ({ details: { before, after } }),
      );
      return change.after;
    },
  );
}
