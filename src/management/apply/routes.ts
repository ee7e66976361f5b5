import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { ManagementDB } from '../../db/management-schema.ts';
import { badRequest, conflict, errorResponses, notFound } from '../../http/errors.ts';
import { isSealed } from '../../crypto/sealing.ts';
import { SEALED_COMPARISON_REQUEST } from '../../control/sealed-comparison.ts';
import type { SealedComparisonItem } from '../../control/sealed-comparison.ts';
import { asUser } from '../identity/principal.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { RunnerService } from '../runners/service.ts';
import { createScmIntegrationStore } from '../scm-integrations/store.ts';
import { createAppConnectionStore } from '../app-connections/store.ts';
import { createSyncStore } from '../syncs/store.ts';

const Kind = Type.Union([Type.Literal('integration-client-secret'), Type.Literal('app-connection-secret'), Type.Literal('sync-variables')]);
const Errors = errorResponses(400, 401, 403, 404, 409, 502, 503, 504);

export interface SealedComparisonDeps {
  db: Kysely<ManagementDB>;
  runners: Pick<RunnerService, 'get'>;
  control: Pick<ControlChannel, 'call'>;
}

/**
 * `POST /api/v1/runners/{id}/sealed-comparisons`: does a sealed candidate equal what the runner
 * holds? What lets `keyway apply` leave an unchanged secret alone (no write, no audit event)
 * although secrets are write-only. Organization admins only: they may replace every one of these
 * values anyway, and the answer is one boolean per value they supply.
 */
export async function sealedComparisonRoutes(root: FastifyInstance, deps: SealedComparisonDeps): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const integrations = createScmIntegrationStore(deps.db);
  const connections = createAppConnectionStore(deps.db);
  const syncs = createSyncStore(deps.db);

  /** The record exists in the caller's organization and is held by this runner; integrations bring their stored sealed secret. */
  async function checkItem(
    organizationId: string,
    runnerId: string,
    item: { kind: SealedComparisonItem['kind']; id: string },
    index: number,
  ): Promise<Pick<SealedComparisonItem, 'stored'>> {
    const missing = () =>
      notFound(
        `items[${index}]: ${item.kind.startsWith('integration') ? 'integration' : item.kind.startsWith('app-connection') ? 'app connection' : 'sync'} ${item.id.slice(0, 60)} of this runner`,
      );
    if (item.kind === 'integration-client-secret') {
      const row = await integrations.getInOrganization(organizationId, runnerId, item.id);
      if (!row) throw missing();
      return { stored: row.oauth_client_secret_sealed };
    }
    const held =
      item.kind === 'app-connection-secret'
        ? await connections.heldBy(organizationId, runnerId, item.id)
        : await syncs.heldBy(organizationId, runnerId, item.id);
    if (!held) throw missing();
    return {};
  }

  app.post(
    '/api/v1/runners/:runnerId/sealed-comparisons',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['configuration as code'],
        summary:
          "Whether sealed values equal what the runner holds: an integration client secret, an app connection credential, or a sync's whole set of variable values (admin). Lets `keyway apply` skip unchanged secrets; answers one boolean per item and never a value.",
        params: Type.Object({ runnerId: Type.String({ maxLength: 100 }) }),
        body: Type.Object(
          {
            items: Type.Array(
              Type.Object(
                {
                  kind: Kind,
                  id: Type.String({ maxLength: 100 }),
                  sealed: Type.String({
                    maxLength: 2_000_000,
                    description:
                      "The candidate, sealed to the runner key with the record's associated data: see docs/sealing.md in the Keyway repository",
                  }),
                },
                { additionalProperties: false },
              ),
              { maxItems: 200 },
            ),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ results: Type.Array(Type.Object({ kind: Kind, id: Type.String(), same: Type.Boolean() })) }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const user = asUser(request);
      const runner = await deps.runners.get(user.organizationId, request.params.runnerId);
      if (runner.revoked_at) throw conflict('runner_revoked', 'this runner was revoked');
      const items: SealedComparisonItem[] = [];
      for (const [index, item] of request.body.items.entries()) {
        if (!isSealed(item.sealed))
          throw badRequest('invalid_sealed_value', `items[${index}].sealed is not a sealed value (hpke1.…)`, `items.${index}.sealed`);
        if (item.sealed.split('.')[1] !== runner.public_key_fingerprint)
          throw badRequest(
            'sealed_for_another_key',
            `items[${index}].sealed was sealed to another key than this runner's current one; fetch the runner again and reseal`,
            `items.${index}.sealed`,
          );
        items.push({ ...item, ...(await checkItem(user.organizationId, runner.id, item, index)) });
      }
      if (items.length === 0) return { results: [] };
      return deps.control.call(runner.id, SEALED_COMPARISON_REQUEST, { items }, { timeoutMs: 30_000 });
    },
  );
}
