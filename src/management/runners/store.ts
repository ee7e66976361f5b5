import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';

export type RunnerRow = ManagementDB['runners'];

export function createRunnerStore(db: Kysely<ManagementDB>) {
  return {
    insert: (row: RunnerRow) => db.insertInto('runners').values(row).execute(),
    get: (id: string) => db.selectFrom('runners').selectAll().where('id', '=', id).executeTakeFirst(),
    findByTokenHash: (hash: string) => db.selectFrom('runners').selectAll().where('token_hash', '=', hash).executeTakeFirst(),
    findByExchangeHash: (hash: string) => db.selectFrom('runners').selectAll().where('exchange_token_hash', '=', hash).executeTakeFirst(),
    list: (organizationId: string) =>
      db.selectFrom('runners').selectAll().where('organization_id', '=', organizationId).orderBy('created_at').execute(),
    findLocal: () =>
      db.selectFrom('runners').selectAll().where('local', '=', 1).where('revoked_at', 'is', null).orderBy('created_at').executeTakeFirst(),
    /** Single use: clears the exchange token in the same statement that checks it is still there. */
    async completeExchange(
      id: string,
      exchangeHash: string,
      values: { token_hash: string; public_key: string; public_key_fingerprint: string; version: string; last_seen_at: string },
    ) {
      const result = await db
        .updateTable('runners')
        .set({ ...values, exchange_token_hash: null, exchange_expires_at: null })
        .where('id', '=', id)
        .where('exchange_token_hash', '=', exchangeHash)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    setPublicKey: (id: string, publicKey: string, fingerprint: string) =>
      db.updateTable('runners').set({ public_key: publicKey, public_key_fingerprint: fingerprint }).where('id', '=', id).execute(),
    touch: (id: string, at: string, version?: string) =>
      db
        .updateTable('runners')
        .set(version ? { last_seen_at: at, version } : { last_seen_at: at })
        .where('id', '=', id)
        .execute(),
    // The token hash stays until the runner confirms its purge: authentication then knows the
    // token is a revoked runner's (and lets it say only that), instead of an unknown one.
    revoke: (id: string, at: string) =>
      db
        .updateTable('runners')
        .set({ revoked_at: at, exchange_token_hash: null })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst(),
    forgetToken: (id: string) =>
      db.updateTable('runners').set({ token_hash: null }).where('id', '=', id).where('revoked_at', 'is not', null).execute(),
    /** The first confirmed purge is the one kept. */
    markPurged: (id: string, at: string) =>
      db.updateTable('runners').set({ purged_at: at }).where('id', '=', id).where('purged_at', 'is', null).execute(),
  };
}

export type RunnerStore = ReturnType<typeof createRunnerStore>;
