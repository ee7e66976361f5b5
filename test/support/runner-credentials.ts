import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../src/db/runner-schema.ts';
import { loadConfig } from '../../src/config/config.ts';
import { createCredentialStore } from '../../src/runner/credentials/store.ts';
import type { CredentialStore } from '../../src/runner/credentials/store.ts';
import { createFieldCrypto } from '../../src/runner/keys/field-crypto.ts';
import { openRunnerStore } from '../../src/runner/store.ts';

/**
 * The credential store of the runner that `env` configures (a data directory, maybe databases), as a
 * second process beside a running `keyway start` would open it; closed after `use`.
 */
export async function withRunnerCredentials<T>(env: Record<string, string>, use: (credentials: CredentialStore) => Promise<T>): Promise<T> {
  const store = await openRunnerStore(loadConfig(env));
  try {
    return await use(createCredentialStore(store.database.db, createFieldCrypto(store.keys)));
  } finally {
    await store.database.close();
  }
}

/** A PAT credential holding `secret`, for a backup to carry and a restore to give back readable. */
export function insertCanaryCredential(credentials: CredentialStore, secret: string): Promise<string> {
  return credentials
    .insert({ subject: { type: 'user', id: 'usr_backup' }, host: 'dev.azure.com', method: 'pat', secret, metadata: {} })
    .then((c) => c.id);
}

/**
 * Moves a stored OAuth credential's access-token expiry `agoMs` into the past, in the runner's own
 * table, so that the next use of the credential has to refresh it (the refresh token is untouched).
 */
export async function expireStoredAccessToken(db: Kysely<RunnerDB>, credentialId: string, agoMs = 1000): Promise<void> {
  const row = await db.selectFrom('credentials').select('metadata').where('id', '=', credentialId).executeTakeFirstOrThrow();
  const meta = JSON.parse(row.metadata) as Record<string, unknown>;
  await db
    .updateTable('credentials')
    .set({ metadata: JSON.stringify({ ...meta, accessTokenExpiresAt: new Date(Date.now() - agoMs).toISOString() }) })
    .where('id', '=', credentialId)
    .execute();
}
