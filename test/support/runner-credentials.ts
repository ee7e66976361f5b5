import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../src/db/runner-schema.ts';

/**
 * Moves a stored OAuth credential's access-token expiry a second into the past, in the runner's own
 * table, so that the next use of the credential has to refresh it (the refresh token is untouched).
 */
export async function expireStoredAccessToken(db: Kysely<RunnerDB>, credentialId: string): Promise<void> {
  const row = await db.selectFrom('credentials').select('metadata').where('id', '=', credentialId).executeTakeFirstOrThrow();
  const meta = JSON.parse(row.metadata) as Record<string, unknown>;
  await db
    .updateTable('credentials')
    .set({ metadata: JSON.stringify({ ...meta, accessTokenExpiresAt: new Date(Date.now() - 1000).toISOString() }) })
    .where('id', '=', credentialId)
    .execute();
}
