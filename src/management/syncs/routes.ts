import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorCode, errorResponses } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { asUser } from '../identity/principal.ts';
import { MAX_VARIABLES } from './service.ts';
import type { SyncService } from './service.ts';
import { CreatedSync, RunList, RunSchema, SyncList, SyncSchema, VariablesResponse } from './schema.ts';
import { sealedFieldDescription } from '../../http/sealed-field.ts';
import { Nullable } from '../../control/schema.ts';

const Errors = errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504);
const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const ItemParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), id: Type.String({ maxLength: 100 }) });

const VariableInput = Type.Object(
  {
    name: Type.String({ maxLength: 128 }),
    isSecret: Type.Optional(Type.Boolean({ default: false })),
    value: Type.Optional(
      Type.String({
        maxLength: 65536,
        description: 'Plaintext; sealed for the runner at once, never stored here, logged or returned. Omit when sending sealedValues.',
      }),
    ),
  },
  { additionalProperties: false },
);
const SealedValues = Type.Optional(
  Type.String({
    maxLength: 2_000_000,
    description: sealedFieldDescription('The values as one JSON object name → value', 'sync:{id}:variables'),
  }),
);

const Target = {
  organization: Type.Optional(Type.String({ maxLength: 100, description: "Azure DevOps organization; default the connection's" })),
  project: Type.String({ minLength: 1, maxLength: 200, description: 'Azure DevOps project name or id' }),
  groupName: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
  scheduleMinutes: Type.Optional(Nullable(Type.Integer({ description: 'Run every N minutes (5–10080); null for no schedule' }))),
  enabled: Type.Optional(Type.Boolean()),
  adoptExisting: Type.Optional(
    Type.Boolean({
      description:
        'Project owners only: write into a variable group of that name that already exists and that this sync did not create. Without it such a group is refused (Keyway creates its own groups). Applies to the current target: retargeting clears it unless sent again.',
    }),
  ),
  takeOver: Type.Optional(
    Type.Array(Type.String({ maxLength: 128 }), {
      maxItems: MAX_VARIABLES,
      description:
        'Project owners only: variables already in the group, not written by Keyway, that the sync may overwrite (never delete). Any other such variable the set names stops the run. Retargeting clears it unless sent again.',
    }),
  ),
};

export async function syncRoutes(root: FastifyInstance, deps: { syncs: SyncService; audit: Pick<AuditLog, 'record'> }): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { syncs } = deps;
  const audit = createRouteAudit(deps.audit);
  const base = '/api/v1/projects/:projectId/syncs';
  const routeSchema = routeSchemas('variable group syncs', Errors);

  app.get(
    base,
    {
      schema: routeSchema("A project's variable group syncs", { params: ProjectParams, response: { 200: SyncList } }),
    },
    async (request) => ({
      syncs: await syncs.list(asUser(request), request.params.projectId),
    }),
  );

  app.get(`${base}/:id`, { schema: routeSchema('One sync', { params: ItemParams, response: { 200: SyncSchema } }) }, async (request) =>
    syncs.get(asUser(request), request.params.projectId, request.params.id),
  );

  app.post(
    base,
    {
      schema: routeSchema(
        "Create a sync (project owners; members only inside the connection's memberTargets). With variables, the set is stored on the runner and a first run starts. A group of that name that the sync did not create is refused at run time unless an owner sets adoptExisting.",
        {
          params: ProjectParams,
          body: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 64 }),
              connectionId: Type.String({ maxLength: 100 }),
              ...Target,
              variables: Type.Optional(Type.Array(VariableInput, { maxItems: MAX_VARIABLES })),
              sealedValues: SealedValues,
            },
            { additionalProperties: false },
          ),
          response: { 201: CreatedSync },
        },
      ),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { projectId } = request.params;
      const body = request.body;
      // The target asked for (names and flags, never a value): a refused create says where it would have written.
      const attempted = {
        connectionId: body.connectionId,
        organization: body.organization ?? null,
        project: body.project,
        groupName: body.groupName,
        adoptExisting: body.adoptExisting === true,
        takeOver: body.takeOver ?? [],
      };
      const created = await audit.run(
        request,
        { action: 'sync.create', details: { projectId, before: null, after: attempted } },
        () => syncs.create(user, projectId, body),
        ({ sync }) => ({
          target: { type: 'sync', id: sync.id },
          details: {
            after: {
              connectionId: sync.connectionId,
              organization: sync.organization,
              project: sync.project,
              groupName: sync.groupName,
              adoptExisting: sync.adoptExisting,
              takeOver: sync.takeOver,
            },
            variableCount: sync.variableCount,
          },
        }),
      );
      return reply.code(201).send(created);
    },
  );

  app.patch(
    `${base}/:id`,
    {
      schema: routeSchema(
        "Change the target, schedule or connection of a sync (project members; a new target or connection: owners, or members inside the connection's memberTargets; adoptExisting and takeOver: owners)",
        {
          params: ItemParams,
          body: Type.Object(
            {
              name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
              connectionId: Type.Optional(Type.String({ maxLength: 100 })),
              ...Target,
              project: Type.Optional(Target.project),
              groupName: Type.Optional(Target.groupName),
            },
            { additionalProperties: false },
          ),
          response: { 200: SyncSchema },
        },
      ),
    },
    async (request) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      // Not audit.run: a failure is recorded only for a sync that exists, with its target as it is
      // after the refusal (read then), so this route writes both of its records itself.
      let updated;
      try {
        updated = await syncs.update(user, projectId, id, request.body);
      } catch (err) {
        // A refused retarget is worth a record: who tried to point the sync where.
        const before = await syncs.visibleTarget(user, projectId, id).catch(() => undefined);
        const b = request.body;
        const requested = {
          connectionId: b.connectionId,
          organization: b.organization,
          project: b.project,
          groupName: b.groupName,
          adoptExisting: b.adoptExisting,
          takeOver: b.takeOver,
        };
        if (before)
          await audit.record(request, {
            action: 'sync.update',
            target: { type: 'sync', id },
            outcome: 'failure',
            details: { projectId, reason: errorCode(err), fields: Object.keys(b), before, requested },
          });
        throw err;
      }
      await audit.record(request, {
        action: 'sync.update',
        target: { type: 'sync', id },
        outcome: 'success',
        details: { projectId, fields: Object.keys(request.body), before: updated.before, after: updated.after },
      });
      return updated.sync;
    },
  );

  app.delete(
    `${base}/:id`,
    {
      schema: routeSchema('Delete a sync; the runner forgets its values. The Azure DevOps group is left as it is.', {
        params: ItemParams,
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      await audit.run(
        request,
        { action: 'sync.delete', target: { type: 'sync', id }, details: { projectId } },
        () => syncs.remove(user, projectId, id),
        (before) => ({ details: { before, after: null } }),
      );
      return reply.code(204).send(null);
    },
  );

  app.put(
    `${base}/:id/variables`,
    {
      schema: routeSchema('Replace the whole variable set (project members); a run follows', {
        params: ItemParams,
        body: Type.Object(
          { variables: Type.Array(VariableInput, { maxItems: MAX_VARIABLES }), sealedValues: SealedValues },
          { additionalProperties: false },
        ),
        response: { 200: VariablesResponse },
      }),
    },
    async (request) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      return audit.run(
        request,
        { action: 'sync.variables.replace', target: { type: 'sync', id }, details: { projectId } },
        () =>
          syncs.setVariables(user, projectId, id, {
            mode: 'replace',
            variables: request.body.variables,
            sealedValues: request.body.sealedValues,
          }),
        (result) => ({ details: { variableCount: result.variables.length } }),
      );
    },
  );

  app.patch(
    `${base}/:id/variables`,
    {
      schema: routeSchema('Add or change some variables and remove others, keeping the rest (project members); a run follows', {
        params: ItemParams,
        body: Type.Object(
          {
            set: Type.Optional(Type.Array(VariableInput, { maxItems: MAX_VARIABLES })),
            remove: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: MAX_VARIABLES })),
            sealedValues: SealedValues,
          },
          { additionalProperties: false },
        ),
        response: { 200: VariablesResponse },
      }),
    },
    async (request) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      const body = request.body;
      return audit.run(
        request,
        {
          action: 'sync.variables.change',
          target: { type: 'sync', id },
          // Variable names only, never their values.
          details: { projectId, changed: (body.set ?? []).map((v) => v.name).slice(0, 50), removed: (body.remove ?? []).slice(0, 50) },
        },
        () =>
          syncs.setVariables(user, projectId, id, {
            mode: 'merge',
            variables: body.set ?? [],
            ...(body.remove ? { remove: body.remove } : {}),
            sealedValues: body.sealedValues,
          }),
      );
    },
  );

  app.post(
    `${base}/:id/run`,
    {
      schema: routeSchema(
        'Run the sync now (project members). Waits up to waitSeconds for the result (202 when it is still queued or running).',
        {
          params: ItemParams,
          querystring: Type.Object(
            { waitSeconds: Type.Integer({ minimum: 0, maximum: 120, default: 60 }) },
            { additionalProperties: false },
          ),
          response: { 200: RunSchema, 202: RunSchema },
        },
      ),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { projectId, id } = request.params;
      const run = await audit.run(
        request,
        { action: 'sync.run', target: { type: 'sync', id }, details: { projectId } },
        () => syncs.run(user, projectId, id, request.query.waitSeconds * 1000),
        ({ id: runId, status }) => ({ outcome: status === 'failed' ? 'failure' : 'success', details: { runId, status } }),
      );
      return reply.code(run.status === 'succeeded' || run.status === 'failed' ? 200 : 202).send(run);
    },
  );

  app.get(
    `${base}/:id/runs`,
    {
      schema: routeSchema("A sync's recent runs, newest first", {
        params: ItemParams,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }) }, { additionalProperties: false }),
        response: { 200: RunList },
      }),
    },
    async (request) => ({ runs: await syncs.runs(asUser(request), request.params.projectId, request.params.id, request.query.limit) }),
  );
}
