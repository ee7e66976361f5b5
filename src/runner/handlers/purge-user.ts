import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { PurgeUserCredentialsPayload, PurgeUserCredentialsResult } from '../../control/people.ts';
import type { Logger } from '../../logging/logger.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { RunnerEvents } from '../events/outbox.ts';

/**
 * A person left the organization, was removed or disabled: every credential this runner holds
 * for them goes (OAuth token sets, PATs), and so do consents they started and never finished.
 * Their workspaces are deleted by the environment requests the management plane queues beside
 * this one. Idempotent: a second purge deletes nothing and says so.
 */
export function createPurgeUserHandler(deps: {
  db: Kysely<RunnerDB>;
  credentials: Pick<CredentialStore, 'deleteForSubject'>;
  logger: Logger;
  events?: RunnerEvents;
}) {
  return async (payload: PurgeUserCredentialsPayload): Promise<PurgeUserCredentialsResult> => {
    const credentials = await deps.credentials.deleteForSubject({ type: 'user', id: payload.userId });
    const pending = await deps.db.deleteFrom('oauth_pending').where('user_id', '=', payload.userId).executeTakeFirst();
    const result = { credentials, pendingConsents: Number(pending.numDeletedRows) };
    deps.logger.info({ userId: payload.userId, reason: payload.reason, ...result }, "purged a person's credentials");
    // The runner's own record in the organization's audit log (the management plane records the request).
    deps.events?.record({
      action: 'credentials.purged',
      outcome: 'success',
      userId: payload.userId,
      details: { count: credentials, reason: payload.reason },
    });
    return result;
  };
}
