import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import type { AuditLog } from '../audit/service.ts';
import { clientInfo } from '../identity/authenticate.ts';
import { asUser } from '../identity/principal.ts';
import { MAX_VARIABLES } from './service.ts';
import type { SyncService } from './service.ts';
import { sealedFieldDescription } from '../../http/sealed-field.ts';

const Errors = errorResponses(400, 401, 403, 404, 409, 422, 502, 503, 504);
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);
const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const ItemParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), id: Type.String({ maxLength: 100 }) });

const Declared = Type.Object({ name: Type.String(), isSecret: Type.Boolean() });
const VariableInput = Type.Object(
  {
    name: Type.String({ maxLength: 128 }),
    isSecret: Type.Optional(Type.Boolean({ default: false })),
    value: Type.Optional(Type.String({ maxLength: 65536, description: 'Plaintext; sealed for the runner at once, never stored here, logged or returned. Omit when sending sealedValues.' })),
  },
  { additionalProperties: false },
);
const SealedValues = Type.Optional(Type.String({ maxLength: 2_000_000, description: sealedFieldDescription('The values as one JSON object name → value', 'sync:{id}:variables') }));

export const RunSchema = Type.Object({
  id: Type.String(),
  syncId: Type.String(),
  trigger: Type.String({ description: 'manual, change or schedule' }),
  status: Type.String({ description: 'queued, running, succeeded or failed' }),
  createdAt: Type.String(),
  startedAt: Nullable(Type.String()),
  finishedAt: Nullable(Type.String()),
  durationMs: Nullable(Type.Integer()),
  counts: Nullable(Type.Object({ created: Type.Integer(), updated: Type.Integer(), deleted: Type.Integer(), unchanged: Type.Integer() })),
  writes: Nullable(Type.Integer({ description: 'Write requests to Azure DevOps (0 when nothing changed, else 1)' })),
  requests: Nullable(Type.Integer()),
  retries: Nullable(Type.Integer()),
  groupId: Nullable(Type.Integer()),
  error: Nullable(Type.String({ description: 'Why the run failed, in words' })),
});

const SyncSchema = Type.Object({
  id: Type.String(),
  projectId: Type.String(),
  connectionId: Type.String(),
  name: Type.String(),
  organization: Type.String(),
  project: Type.String(),
  groupName: Type.String(),
  description: Nullable(Type.String()),
  variables: Type.Array(Declared, { description: 'Names and secret flags; values are write-only' }),
  variableCount: Type.Integer(),
  enabled: Type.Boolean(),
  scheduleMinutes: Nullable(Type.Integer()),
  nextRunAt: Nullable(Type.String()),
  running: Type.Boolean(),
  lastRun: Nullable(RunSchema),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});

const Target = {
  organization: Type.Optional(Type.String({ maxLength: 100, description: "Azure DevOps organization; default the connection's" })),
  project: Type.String({ minLength: 1, maxLength: 200, description: 'Azure DevOps project name or id' }),
  groupName: Type.String({ minLength: 1, maxLength: 200 }),
  description: Type.Optional(Nullable(Type.String({ maxLength: 1000 }))),
  scheduleMinutes: Type.Optional(Nullable(Type.Integer({ description: 'Run every N minutes (5–10080); null for no schedule' }))),
  enabled: Type.Optional(Type.Boolean()),
};

export function registerSyncRoutes(root: FastifyInstance, deps: { syncs: SyncService; audit: Pick<AuditLog, 'record'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { syncs, audit } = deps;
  const base = '/api/v1/projects/:projectId/syncs';
  const tags = ['variable group syncs'];

  app.get(base, { schema: { tags, summary: "A project's variable group syncs", params: ProjectParams, response: { 200: Type.Object({ syncs: Type.Array(SyncSchema) }), ...Errors } } }, async (request) => ({
    syncs: await syncs.list(asUser(request), request.params.projectId),
  }));

  app.get(`${base}/:id`, { schema: { tags, summary: 'One sync', params: ItemParams, response: { 200: SyncSchema, ...Errors } } }, async (request) => syncs.get(asUser(request), request.params.projectId, request.params.id));

  app.post(
    base,
    {
      schema: {
        tags,
        summary: 'Create a sync (project members). With variables, the set is stored on the runner and a first run starts.',
        params: ProjectParams,
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 64 }), connectionId: Type.String({ maxLength: 100 }), ...Target, variables: Type.Optional(Type.Array(VariableInput, { maxItems: MAX_VARIABLES })), sealedValues: SealedValues },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ sync: SyncSchema, runId: Type.Optional(Type.String()) }), ...Errors },
      },
    },
    async (request, reply) => {
      const user = asUser(request);
      const created = await syncs.create(user, request.params.projectId, request.body);
      await audit.record({
        actor: user,
        action: 'sync.create',
        target: { type: 'sync', id: created.sync.id },
        outcome: 'success',
        client: clientInfo(request),
        details: { projectId: request.params.projectId, connectionId: created.sync.connectionId, organization: created.sync.organization, adoProject: created.sync.project, groupName: created.sync.groupName, variableCount: created.sync.variableCount },
      });
      return reply.code(201).send(created);
    },
  );

  app.patch(
    `${base}/:id`,
    {
      schema: {
        tags,
        summary: 'Change the target, schedule or connection of a sync (project members)',
        params: ItemParams,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), connectionId: Type.Optional(Type.String({ maxLength: 100 })), ...Target, project: Type.Optional(Target.project), groupName: Type.Optional(Target.groupName) }, { additionalProperties: false }),
        response: { 200: SyncSchema, ...Errors },
      },
    },
    async (request) => {
      const user = asUser(request);
      const updated = await syncs.update(user, request.params.projectId, request.params.id, request.body);
      await audit.record({ actor: user, action: 'sync.update', target: { type: 'sync', id: request.params.id }, outcome: 'success', client: clientInfo(request), details: { projectId: request.params.projectId, fields: Object.keys(request.body) } });
      return updated;
    },
  );

  app.delete(
    `${base}/:id`,
    { schema: { tags, summary: 'Delete a sync; the runner forgets its values. The Azure DevOps group is left as it is.', params: ItemParams, response: { 204: Type.Null(), ...Errors } } },
    async (request, reply) => {
      const user = asUser(request);
      await syncs.remove(user, request.params.projectId, request.params.id);
      await audit.record({ actor: user, action: 'sync.delete', target: { type: 'sync', id: request.params.id }, outcome: 'success', client: clientInfo(request), details: { projectId: request.params.projectId } });
      return reply.code(204).send(null);
    },
  );

  const VariablesResponse = Type.Object({ variables: Type.Array(Declared), runId: Type.Optional(Type.String({ description: 'The run started by the change' })) });

  app.put(
    `${base}/:id/variables`,
    {
      schema: {
        tags,
        summary: 'Replace the whole variable set (project members); a run follows',
        params: ItemParams,
        body: Type.Object({ variables: Type.Array(VariableInput, { maxItems: MAX_VARIABLES }), sealedValues: SealedValues }, { additionalProperties: false }),
        response: { 200: VariablesResponse, ...Errors },
      },
    },
    async (request) => {
      const user = asUser(request);
      const result = await syncs.setVariables(user, request.params.projectId, request.params.id, { mode: 'replace', variables: request.body.variables, sealedValues: request.body.sealedValues });
      await audit.record({ actor: user, action: 'sync.variables.replace', target: { type: 'sync', id: request.params.id }, outcome: 'success', client: clientInfo(request), details: { projectId: request.params.projectId, variableCount: result.variables.length } });
      return result;
    },
  );

  app.patch(
    `${base}/:id/variables`,
    {
      schema: {
        tags,
        summary: 'Add or change some variables and remove others, keeping the rest (project members); a run follows',
        params: ItemParams,
        body: Type.Object(
          { set: Type.Optional(Type.Array(VariableInput, { maxItems: MAX_VARIABLES })), remove: Type.Optional(Type.Array(Type.String({ maxLength: 128 }), { maxItems: MAX_VARIABLES })), sealedValues: SealedValues },
          { additionalProperties: false },
        ),
        response: { 200: VariablesResponse, ...Errors },
      },
    },
    async (request) => {
      const user = asUser(request);
      const body = request.body;
      const result = await syncs.setVariables(user, request.params.projectId, request.params.id, { mode: 'merge', variables: body.set ?? [], ...(body.remove ? { remove: body.remove } : {}), sealedValues: body.sealedValues });
      await audit.record({
        actor: user,
        action: 'sync.variables.change',
        target: { type: 'sync', id: request.params.id },
        outcome: 'success',
        client: clientInfo(request),
        details: { projectId: request.params.projectId, changed: (body.set ?? []).map((v) => v.name).slice(0, 50), removed: (body.remove ?? []).slice(0, 50) },
      });
      return result;
    },
  );

  app.post(
    `${base}/:id/run`,
    {
      schema: {
        tags,
        summary: 'Run the sync now (project members). Waits up to waitSeconds for the result (202 when it is still queued or running).',
        params: ItemParams,
        querystring: Type.Object({ waitSeconds: Type.Integer({ minimum: 0, maximum: 120, default: 60 }) }, { additionalProperties: false }),
        response: { 200: RunSchema, 202: RunSchema, ...Errors },
      },
    },
    async (request, reply) => {
      const user = asUser(request);
      const run = await syncs.run(user, request.params.projectId, request.params.id, request.query.waitSeconds * 1000);
      await audit.record({ actor: user, action: 'sync.run', target: { type: 'sync', id: request.params.id }, outcome: run.status === 'failed' ? 'failure' : 'success', client: clientInfo(request), details: { projectId: request.params.projectId, runId: run.id, status: run.status } });
      return reply.code(run.status === 'succeeded' || run.status === 'failed' ? 200 : 202).send(run);
    },
  );

  app.get(
    `${base}/:id/runs`,
    {
      schema: {
        tags,
        summary: "A sync's recent runs, newest first",
        params: ItemParams,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 20 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ runs: Type.Array(RunSchema) }), ...Errors },
      },
    },
    async (request) => ({ runs: await syncs.runs(asUser(request), request.params.projectId, request.params.id, request.query.limit) }),
  );
}
