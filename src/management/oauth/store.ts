// The oauth_states table: a user's OAuth sign-in in progress, bound to their session, the
// integration and the issuer, until the browser comes back (or the state expires).
import type { Insertable, Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';

export function createOAuthStateStore(db: Kysely<ManagementDB>) {
  return {
    async insert(row: Insertable<ManagementDB['oauth_states']>): Promise<void> {
      await db.insertInto('oauth_states').values(row).execute();
    },

    find: (stateHash: string) => db.selectFrom('oauth_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst(),

    /** Single use: how many rows this call deleted (0 when another request took the state first). */
    async consume(stateHash: string): Promise<number> {
      return Number((await db.deleteFrom('oauth_states').where('state_hash', '=', stateHash).executeTakeFirst()).numDeletedRows);
    },

    async deleteExpired(now: string): Promise<void> {
      await db.deleteFrom('oauth_states').where('expires_at', '<', now).execute();
    },
  };
}
