// Runner events into the audit log: what only a runner sees (a credential that needs
// re-authorization, refreshes that fail, early refreshes, purges) recorded with the runner as the
// actor and the affected user as the target. A runner may speak only of its own integrations; each
// event id is recorded once, so a batch delivered twice (a lost answer, two replicas) adds nothing.
import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError, badRequest } from '../../http/errors.ts';
import type { RevocationPurgeReport, RunnerEvent } from '../../control/runner-events.ts';
import type { AuditLog } from '../audit/service.ts';
import { createScmIntegrationStore } from '../scm-integrations/store.ts';
import { createRunnerStore } from './store.ts';
import type { RunnerPrincipal } from '../identity/principal.ts';

/** The audit event id of a runner's event: the same event always lands on the same row. */
function auditId(runnerId: string, eventId: string): string {
  return `aud_r${createHash('sha256').update(`${runnerId}\u0000${eventId}`).digest('base64url').slice(0, 27)}`;
}

export function createRunnerEventRecorder(deps: { db: Kysely<ManagementDB>; audit: Pick<AuditLog, 'record'> }) {
  const { audit } = deps;
  const integrations = createScmIntegrationStore(deps.db);
  const runners = createRunnerStore(deps.db);

  return {
    async record(runner: RunnerPrincipal, events: readonly RunnerEvent[]): Promise<{ accepted: number }> {
      for (const [i, event] of events.entries()) {
        for (const [key, value] of Object.entries(event.details ?? {})) {
          const scalar =
            value === null ||
            typeof value === 'boolean' ||
            (typeof value === 'number' && Number.isFinite(value)) ||
            (typeof value === 'string' && value.length <= 500);
          if (!scalar)
            throw badRequest(
              'invalid_event',
              `events[${i}].details.${key} must be a number, a boolean, null or a string of at most 500 characters`,
              `events.${i}.details.${key}`,
            );
        }
      }
      const integrationIds = [
        ...new Set(events.map((e) => e.integrationId).filter((id): id is string => typeof id === 'string' && id !== '')),
      ];
      if (integrationIds.length > 0) {
        const rows = await integrations.owners(integrationIds);
        // A deleted integration is fine (its purge is reported after it went); another runner's is not.
        const foreign = rows.find((r) => r.runner_id !== runner.runnerId);
        if (foreign) throw new ApiError(403, 'foreign_integration', 'a runner reports events only about its own integrations');
      }
      for (const event of events) {
        await audit.record({
          id: auditId(runner.runnerId, event.id),
          actor: runner,
          action: event.action,
          target: event.userId
            ? { type: 'user', id: event.userId }
            : event.integrationId
              ? { type: 'scm_integration', id: event.integrationId }
              : { type: 'runner', id: runner.runnerId },
          outcome: event.outcome,
          details: {
            ...(event.details ?? {}),
            ...(event.integrationId ? { integrationId: event.integrationId } : {}),
            occurredAt: event.occurredAt,
          },
        });
      }
      return { accepted: events.length };
    },

    /** A revoked runner deleted what it held: recorded once, whichever replica reports. */
    async recordRevocationPurge(runner: RunnerPrincipal, report: RevocationPurgeReport): Promise<void> {
      await audit.record({
        id: auditId(runner.runnerId, 'revocation-purge'),
        actor: runner,
        action: 'runner.purge',
        target: { type: 'runner', id: runner.runnerId },
        outcome: 'success',
        details: {
          credentialsDeleted: report.credentials,
          pendingSignInsDeleted: report.pendingSignIns,
          syncValuesDeleted: report.syncValues,
          clientCertificatesDeleted: report.clientCertificates ?? 0,
          purgedAt: report.purgedAt,
        },
      });
      await runners.markPurged(runner.runnerId, report.purgedAt);
    },
  };
}

export type RunnerEventRecorder = ReturnType<typeof createRunnerEventRecorder>;
