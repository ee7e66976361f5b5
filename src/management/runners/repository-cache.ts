// What each runner process reports of its repository cache (issue 20), and what the runner's page
// shows: bytes on disk against the limit, and how many repositories it holds. Totals only: which
// repositories a runner caches is not reported, so a member without access to a repository cannot
// learn from here that someone works on it.
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { errorResponses, notFound } from '../../http/errors.ts';
import { asRunner, asUser } from '../identity/principal.ts';
import { REPOSITORY_CACHE_REPORT_PATH } from '../../control/environments.ts';
import type { RepositoryCacheReport } from '../../control/environments.ts';
import { RepositoryCacheUsage } from './schema.ts';
import { createRunnerStore } from './store.ts';

export interface RepositoryCacheView {
  /** Bytes on disk, all replicas together, as last reported. */
  bytes: number;
  limitBytes: number;
  repositories: number;
  /** Runner processes that reported. */
  replicas: number;
  /** The latest report; null: never reported (an older runner, or no environment yet). */
  updatedAt: string | null;
}

export function createRepositoryCacheStore(db: Kysely<ManagementDB>, now: () => Date = () => new Date()) {
  return {
    async record(runnerId: string, report: RepositoryCacheReport): Promise<void> {
      const values = {
        used_bytes: report.bytes,
        limit_bytes: report.limitBytes,
        repositories: report.repositories,
        updated_at: now().toISOString(),
      };
      await db
        .insertInto('runner_repository_caches')
        .values({ runner_id: runnerId, instance: report.instance, ...values })
        .onConflict((oc) => oc.columns(['runner_id', 'instance']).doUpdateSet(values))
        .execute();
    },

    async view(runnerId: string): Promise<RepositoryCacheView> {
      const rows = await db.selectFrom('runner_repository_caches').selectAll().where('runner_id', '=', runnerId).execute();
      return {
        bytes: rows.reduce((sum, r) => sum + Number(r.used_bytes), 0),
        limitBytes: rows.reduce((sum, r) => sum + Number(r.limit_bytes), 0),
        repositories: rows.reduce((sum, r) => sum + r.repositories, 0),
        replicas: rows.length,
        updatedAt:
          rows
            .map((r) => r.updated_at)
            .sort()
            .at(-1) ?? null,
      };
    },
  };
}

export async function repositoryCacheRoutes(root: FastifyInstance, deps: { db: Kysely<ManagementDB> }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const store = createRepositoryCacheStore(deps.db);
  const runners = createRunnerStore(deps.db);
  const Errors = errorResponses(400, 401, 403, 404);

  app.get(
    '/api/v1/runners/:id/repository-cache',
    {
      schema: {
        tags: ['runners'],
        summary:
          "The runner's repository cache: disk use against its limit and how many repositories it holds (totals only), as the runner last reported",
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        response: { 200: RepositoryCacheUsage, ...Errors },
      },
    },
    async (request) => {
      const user = asUser(request);
      const runner = await runners.get(request.params.id);
      if (!runner || runner.organization_id !== user.organizationId) throw notFound('runner');
      return store.view(runner.id);
    },
  );

  app.put(
    REPOSITORY_CACHE_REPORT_PATH,
    {
      config: { auth: 'runner' },
      logLevel: 'warn',
      schema: {
        tags: ['runner protocol'],
        summary: "A runner process reports its repository cache's disk use (totals only)",
        body: Type.Object(
          {
            instance: Type.String({ minLength: 1, maxLength: 500 }),
            bytes: Type.Integer({ minimum: 0 }),
            limitBytes: Type.Integer({ minimum: 0 }),
            repositories: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
          },
          { additionalProperties: false },
        ),
        response: { 204: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      await store.record(asRunner(request).runnerId, request.body);
      return reply.code(204).send(null);
    },
  );
}
