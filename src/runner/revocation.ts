// A revoked runner deletes everything it holds before it stops: every credential (users' and app
// connections'), sign-ins in progress and the secret values of syncs. Replicas sharing the store
// purge once: the purge is one transaction that first claims a marker row, so the second replica
// finds the marker and deletes nothing more. The counts are reported to the management plane with
// the revoked token (the one thing it still allows); a report that fails is sent again at the next
// start.
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../db/runner-schema.ts';
import type { Logger } from '../logging/logger.ts';
import type { RevocationPurgeReport } from '../control/runner-events.ts';

const MARKER = 'revocation-purge';

interface Marker extends RevocationPurgeReport {
  reported: boolean;
}

export async function purgeAfterRevocation(options: {
  db: Kysely<RunnerDB>;
  report: (report: RevocationPurgeReport) => Promise<void>;
  logger: Logger;
  now?: () => Date;
}): Promise<{ purged: boolean; report: RevocationPurgeReport }> {
  const { db, logger } = options;
  const at = (options.now ?? (() => new Date()))().toISOString();
  const outcome = await db.transaction().execute(async (trx) => {
    const claimed = await trx
      .insertInto('runner_state')
      .values({
        key: MARKER,
        value: JSON.stringify({ credentials: 0, pendingSignIns: 0, syncValues: 0, purgedAt: at, reported: false }),
        updated_at: at,
      })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    if (Number(claimed.numInsertedOrUpdatedRows ?? 0) !== 1) {
      const row = await trx.selectFrom('runner_state').select('value').where('key', '=', MARKER).executeTakeFirstOrThrow();
      return { purged: false, marker: JSON.parse(row.value) as Marker };
    }
    const credentials = Number((await trx.deleteFrom('credentials').executeTakeFirst()).numDeletedRows);
    const pendingSignIns = Number((await trx.deleteFrom('oauth_pending').executeTakeFirst()).numDeletedRows);
    const syncValues = Number((await trx.deleteFrom('sync_variables').executeTakeFirst()).numDeletedRows);
    const clientCertificates = Number((await trx.deleteFrom('client_certificates').executeTakeFirst()).numDeletedRows);
    const marker: Marker = { credentials, pendingSignIns, syncValues, clientCertificates, purgedAt: at, reported: false };
    await trx
      .updateTable('runner_state')
      .set({ value: JSON.stringify(marker), updated_at: at })
      .where('key', '=', MARKER)
      .execute();
    return { purged: true, marker };
  });
  const { reported, ...report } = outcome.marker;
  if (outcome.purged) logger.warn({ ...report }, 'this runner was revoked: every credential it held was deleted');
  if (!reported) {
    try {
      await options.report(report);
      await db
        .updateTable('runner_state')
        .set({ value: JSON.stringify({ ...report, reported: true }), updated_at: at })
        .where('key', '=', MARKER)
        .execute();
    } catch (err) {
      // The management plane may have recorded it already (another replica), or be unreachable.
      logger.warn(
        { err: { message: (err as Error).message } },
        'could not confirm the purge to the management plane; will try again at the next start',
      );
    }
  }
  return { purged: outcome.purged, report };
}

/** Whether a purge after revocation already ran on this store (a revoked runner never serves again). */
export async function revocationPurged(db: Kysely<RunnerDB>): Promise<boolean> {
  return Boolean(await db.selectFrom('runner_state').select('key').where('key', '=', MARKER).executeTakeFirst());
}
