import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiError, errorCode, errorResponses, forbidden } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import { CONTROL_PATHS, POLL_WAIT_SECONDS } from '../../control/protocol.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { asRunner, asUser } from '../identity/principal.ts';
import type { ControlChannel } from './control.ts';
import type { RunnerService } from './service.ts';
import type { RunnerEventRecorder } from './events.ts';
import { CreatedRunner, RunnerList, RunnerSchema } from './schema.ts';
import {
  MAX_EVENTS_PER_BATCH,
  RUNNER_EVENT_ACTIONS,
  RUNNER_EVENTS_PATH,
  RUNNER_REVOCATION_PURGE_PATH,
} from '../../control/runner-events.ts';
import type { RunnerEvent } from '../../control/runner-events.ts';

const Errors = errorResponses(400, 401, 403, 404, 409);

const ControlRequestSchema = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  payload: Type.Unknown(),
  deadlineAt: Type.String(),
  traceContext: Type.Optional(
    Type.Record(Type.String(), Type.String(), { description: 'W3C trace context of the caller (traceparent, tracestate)' }),
  ),
});

export interface RunnerRouteDeps {
  runners: RunnerService;
  control: ControlChannel;
  audit: Pick<AuditLog, 'record' | 'recordAggregated'>;
  publicUrl: () => string;
  /** Called when a runner publishes a new key: sealed secrets for the old key become useless. */
  onRunnerKeyChanged?: (runnerId: string) => Promise<number>;
  /** App credentials of the runner that are no secret sealed to its key (certificates, federated, managed identity): they keep working. */
  countKeptCredentials?: (runnerId: string) => Promise<number>;
  /** An integration as its own runner may see it; another runner's is not found. */
  runnerIntegration?: (runnerId: string, integrationId: string) => Promise<unknown>;
  /** A runner was revoked: its integrations and their sealed secrets go; returns what was deleted. */
  onRunnerRevoked?: (runnerId: string) => Promise<{ integrations: number; sealedSecrets: number }>;
  /** Runner events (and a revoked runner's purge) into the audit log. */
  events?: RunnerEventRecorder;
}

const Id = (pattern: string) => Type.String({ maxLength: 100, pattern });
const RunnerEventSchema = Type.Object(
  {
    id: Id('^rev_[A-Za-z0-9_-]{8,64}$'),
    action: Type.Union(RUNNER_EVENT_ACTIONS.map((a) => Type.Literal(a))),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
    userId: Type.Optional(Type.Union([Id('^[A-Za-z0-9_-]{1,100}$'), Type.Null()])),
    integrationId: Type.Optional(Type.Union([Id('^[A-Za-z0-9_-]{1,100}$'), Type.Null()])),
    occurredAt: Type.String({ maxLength: 40, format: 'date-time' }),
    // Scalars only, checked in events.ts: a union here would let the validator coerce 3 into "3".
    details: Type.Optional(
      Type.Record(Type.String({ maxLength: 60, pattern: '^[A-Za-z][A-Za-z0-9_]{0,59}$' }), Type.Unknown(), { maxProperties: 20 }),
    ),
  },
  { additionalProperties: false },
);

export async function runnerRoutes(root: FastifyInstance, deps: RunnerRouteDeps): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { runners, control } = deps;
  const audit = createRouteAudit(deps.audit);
  const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
  const routeSchema = routeSchemas('runners', Errors);
  const protocolSchema = routeSchemas('runner protocol', Errors);

  app.get(
    '/api/v1/runners',
    {
      schema: routeSchema("The organization's runners with status", { response: { 200: RunnerList } }),
    },
    async (request) => ({
      runners: await runners.list(asUser(request).organizationId),
    }),
  );

  app.get(
    '/api/v1/runners/:id',
    { schema: routeSchema('One runner', { params: IdParams, response: { 200: RunnerSchema } }) },
    async (request) => {
      const user = asUser(request);
      return runners.view(await runners.get(user.organizationId, request.params.id));
    },
  );

  app.post(
    '/api/v1/runners',
    {
      config: { auth: 'admin' },
      schema: routeSchema('Create a runner; returns its one-time exchange token and the command to start it (admin)', {
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false }),
        response: { 201: CreatedRunner },
      }),
    },
    async (request, reply) => {
      const user = asUser(request);
      const created = await audit.run(
        request,
        { action: 'runner.create' },
        () => runners.create({ organizationId: user.organizationId, name: request.body.name, createdBy: user.userId }),
        ({ runner }) => ({ target: { type: 'runner', id: runner.id }, details: { name: runner.name } }),
      );
      return reply.code(201).send({
        runner: created.runner,
        exchangeToken: created.exchangeToken,
        exchangeExpiresAt: created.exchangeExpiresAt,
        command: `keyway runner --server ${deps.publicUrl()} --exchange-token ${created.exchangeToken}`,
      });
    },
  );

  app.delete(
    '/api/v1/runners/:id',
    {
      config: { auth: 'admin' },
      schema: routeSchema('Revoke a runner: its token stops working at once (admin)', { params: IdParams, response: { 204: Type.Null() } }),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { id } = request.params;
      await audit.run(
        request,
        { action: 'runner.revoke', target: { type: 'runner', id } },
        async () => {
          await runners.revoke(user.organizationId, id);
          // Nothing may reach the runner any more, and nothing it was given stays here: its
          // integrations and their sealed secrets go now; the runner deletes the credentials it holds
          // when it learns of the revocation (at its next poll, or its next start) and confirms.
          const droppedRequests = await control.dropQueued(id);
          const deleted = (await deps.onRunnerRevoked?.(id)) ?? { integrations: 0, sealedSecrets: 0 };
          control.wake(id);
          return { droppedRequests, deleted };
        },
        ({ droppedRequests, deleted }) => ({
          details: {
            integrationsDeleted: deleted.integrations,
            sealedSecretsDeleted: deleted.sealedSecrets,
            queuedRequestsDropped: droppedRequests,
            runnerPurge: 'pending',
          },
        }),
      );
      return reply.code(204).send(null);
    },
  );

  // ---- the runner's side ----

  app.post(
    CONTROL_PATHS.exchange,
    {
      config: { auth: 'public' },
      schema: protocolSchema('Exchange a one-time exchange token and a public key for a runner token', {
        body: Type.Object(
          {
            exchangeToken: Type.String({ maxLength: 200 }),
            publicKey: Type.String({ maxLength: 100 }),
            version: Type.String({ maxLength: 40 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ runnerId: Type.String(), runnerToken: Type.String(), organizationId: Type.String(), name: Type.String() }),
        },
      }),
    },
    async (request) => {
      try {
        const result = await runners.exchange(request.body);
        // Not audit.run: the actor is the runner the exchange creates, known only from its result, and a
        // failed exchange is an anonymous guess, counted per address and minute below instead.
        await audit.record(request, {
          organizationId: result.organizationId,
          actor: { kind: 'runner', runnerId: result.runnerId, organizationId: result.organizationId, name: result.name },
          action: 'runner.register',
          target: { type: 'runner', id: result.runnerId },
          outcome: 'success',
        });
        return result;
      } catch (err) {
        // One row per address and minute, however many guesses arrive.
        await deps.audit.recordAggregated({ action: 'runner.register', ip: request.ip, label: 'runner exchange', reason: errorCode(err) });
        throw err;
      }
    },
  );

  app.get(
    CONTROL_PATHS.self,
    {
      config: { auth: 'runner' },
      schema: protocolSchema('The calling runner', { response: { 200: RunnerSchema } }),
    },
    async (request) => {
      const runner = asRunner(request);
      // A runner asks this when it starts: that is a sign of life before its first long-poll.
      await runners.touch(runner.runnerId);
      return runners.view(await runners.get(runner.organizationId, runner.runnerId));
    },
  );

  app.put(
    '/api/v1/runner/public-key',
    {
      config: { auth: 'runner' },
      schema: protocolSchema("Publish the runner's new public key; secrets sealed to the old key must be entered again", {
        body: Type.Object({ publicKey: Type.String({ maxLength: 100 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            clearedSecrets: Type.Integer(),
            keptCredentials: Type.Optional(
              Type.Integer({
                description:
                  'App credentials without secret (certificates, federated tokens, managed identities): not sealed to the runner key, so they keep working',
              }),
            ),
            message: Type.String(),
          }),
        },
      }),
    },
    async (request) => {
      const runner = asRunner(request);
      const { cleared, kept } = await audit.run(
        request,
        { action: 'runner.key_rotate', target: { type: 'runner', id: runner.runnerId } },
        async () => {
          await runners.setPublicKey(runner.runnerId, request.body.publicKey);
          return {
            cleared: (await deps.onRunnerKeyChanged?.(runner.runnerId)) ?? 0,
            kept: (await deps.countKeptCredentials?.(runner.runnerId)) ?? 0,
          };
        },
        ({ cleared, kept }) => ({ details: { clearedSecrets: cleared, keptCredentials: kept } }),
      );
      const said = [
        cleared ? `${cleared} client secret(s) sealed to the old key were cleared; an admin must enter them again` : '',
        kept
          ? `${kept} credential(s) without secret (the runner's certificates, federated tokens, managed identities) are not sealed to the key and keep working`
          : '',
      ].filter(Boolean);
      return {
        clearedSecrets: cleared,
        keptCredentials: kept,
        message: said.length ? `the runner key changed: ${said.join('; ')}` : 'the runner key changed',
      };
    },
  );

  app.get(
    '/api/v1/runner/integrations/:id',
    {
      config: { auth: 'runner' },
      schema: protocolSchema('An integration of the calling runner, as the runner needs it (secrets only sealed)', {
        params: IdParams,
        response: { 200: Type.Unknown() },
      }),
    },
    async (request) => {
      const runner = asRunner(request);
      if (!deps.runnerIntegration) throw forbidden('not available');
      return deps.runnerIntegration(runner.runnerId, request.params.id);
    },
  );

  app.get(
    CONTROL_PATHS.poll,
    {
      config: { auth: 'runner' },
      logLevel: 'warn',
      schema: protocolSchema('Long-poll for control requests', {
        querystring: Type.Object(
          {
            wait: Type.Integer({ minimum: 0, maximum: 55, default: POLL_WAIT_SECONDS }),
            replica: Type.Optional(
              Type.String({
                pattern: '^rep_[A-Za-z0-9_-]{8,40}$',
                description: 'The polling replica of the runner: it also gets requests meant for it alone',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ requests: Type.Array(ControlRequestSchema) }) },
      }),
    },
    async (request, reply) => {
      const runner = asRunner(request);
      const version = request.headers['x-keyway-runner-version'];
      await runners.touch(runner.runnerId, typeof version === 'string' ? version.slice(0, 40) : undefined);
      const aborted = new AbortController();
      // The runner hanging up shows as the socket closing (a GET's request stream never ends on its own).
      const hangUp = () => aborted.abort();
      request.raw.socket?.once('close', hangUp);
      reply.raw.once('close', hangUp);
      let requests = await control.poll(runner.runnerId, request.query.wait * 1000, aborted.signal, request.query.replica, () =>
        runners.isRevoked(runner.runnerId),
      );
      request.raw.socket?.off('close', hangUp);
      if (requests.length > 0 && (aborted.signal.aborted || request.raw.socket?.destroyed)) {
        // Claimed just as the runner went away: hand them back rather than answer a closed socket.
        await control.release(
          runner.runnerId,
          requests.map((r) => r.id),
        );
        requests = [];
      }
      if (requests.length === 0 && (await runners.isRevoked(runner.runnerId))) {
        throw new ApiError(
          401,
          'runner_revoked',
          `runner "${runner.name}" was revoked: it must delete every credential it holds and stop; register a new runner to continue`,
        );
      }
      // A poll that ran its course proves liveness for its whole duration; an abandoned one does not.
      if (!aborted.signal.aborted) {
        await runners.touch(runner.runnerId);
        if (request.query.replica) await control.seen(runner.runnerId, request.query.replica);
      }
      return { requests };
    },
  );

  app.post(
    '/api/v1/runner/control/:requestId',
    {
      config: { auth: 'runner' },
      logLevel: 'warn',
      schema: protocolSchema('Answer a control request', {
        params: Type.Object({ requestId: Type.String({ maxLength: 100 }) }),
        body: Type.Union([
          Type.Object({ ok: Type.Literal(true), result: Type.Unknown() }, { additionalProperties: false }),
          Type.Object(
            {
              ok: Type.Literal(false),
              error: Type.Object({
                code: Type.String({ maxLength: 100 }),
                message: Type.String({ maxLength: 2000 }),
                field: Type.Optional(Type.String({ maxLength: 100 })),
              }),
            },
            { additionalProperties: false },
          ),
        ]),
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      const runner = asRunner(request);
      const accepted = await control.answer(
        runner.runnerId,
        request.params.requestId,
        request.body as Parameters<ControlChannel['answer']>[2],
      );
      if (!accepted)
        return reply.code(409).send({
          error: {
            code: 'not_pending',
            message: 'no dispatched request with this id for this runner (answered already, expired, or not yours)',
          },
        });
      return reply.code(204).send(null);
    },
  );

  app.post(
    RUNNER_EVENTS_PATH,
    {
      config: { auth: 'runner' },
      logLevel: 'warn',
      schema: protocolSchema(
        'Runner events for the audit log (a credential needing re-authorization, refresh failures, early refreshes, purges); each event id is recorded once',
        {
          body: Type.Object(
            { events: Type.Array(RunnerEventSchema, { minItems: 1, maxItems: MAX_EVENTS_PER_BATCH }) },
            { additionalProperties: false },
          ),
          response: { 200: Type.Object({ accepted: Type.Integer() }) },
        },
      ),
    },
    async (request) => {
      if (!deps.events) throw forbidden('not available');
      return deps.events.record(asRunner(request), request.body.events as RunnerEvent[]);
    },
  );

  app.post(
    RUNNER_REVOCATION_PURGE_PATH,
    {
      config: { auth: 'revoked-runner' },
      schema: protocolSchema(
        'A revoked runner confirms, with its revoked token, that it deleted every credential it held; the token then stops working entirely',
        {
          body: Type.Object(
            {
              credentials: Type.Integer({ minimum: 0 }),
              pendingSignIns: Type.Integer({ minimum: 0 }),
              syncValues: Type.Integer({ minimum: 0 }),
              clientCertificates: Type.Optional(
                Type.Integer({
                  minimum: 0,
                  description: 'Certificates (and their private keys) the runner made for its Entra client authentication',
                }),
              ),
              purgedAt: Type.String({ maxLength: 40, format: 'date-time' }),
            },
            { additionalProperties: false },
          ),
          response: { 204: Type.Null() },
        },
      ),
    },
    async (request, reply) => {
      const runner = asRunner(request);
      if (!deps.events) throw forbidden('not available');
      await deps.events.recordRevocationPurge(runner, request.body);
      await runners.forgetToken(runner.runnerId);
      return reply.code(204).send(null);
    },
  );
}
