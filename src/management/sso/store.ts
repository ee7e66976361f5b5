import type { Insertable, Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';

/** Sign-ins in progress and the identity-provider accounts linked to Keyway accounts. */
export function createSsoStore(db: Kysely<ManagementDB>) {
  return {
    insertState: (row: Insertable<ManagementDB['sso_states']>) => db.insertInto('sso_states').values(row).execute(),
    /** Reads and deletes the state in one go: a state is good for one callback, whatever happens next. */
    async takeState(stateHash: string) {
      const row = await db.selectFrom('sso_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
      if (!row) return undefined;
      const deleted = await db.deleteFrom('sso_states').where('state_hash', '=', stateHash).executeTakeFirst();
      return Number(deleted.numDeletedRows) === 1 ? row : undefined;
    },
    pruneStates: (now: string) => db.deleteFrom('sso_states').where('expires_at', '<', now).execute(),

    findIdentity: (provider: string, issuer: string, subject: string) =>
      db
        .selectFrom('sso_identities')
        .selectAll()
        .where('provider', '=', provider)
        .where('issuer', '=', issuer)
        .where('subject', '=', subject)
        .executeTakeFirst(),
    findIdentityById: (id: string) => db.selectFrom('sso_identities').selectAll().where('id', '=', id).executeTakeFirst(),
    async tenantHasIdentities(tenantId: string): Promise<boolean> {
      return (
        (await db.selectFrom('sso_identities').select('id').where('tenant_id', '=', tenantId).limit(1).executeTakeFirst()) !== undefined
      );
    },
    identitiesOf: (userId: string) =>
      db.selectFrom('sso_identities').selectAll().where('user_id', '=', userId).orderBy('created_at').execute(),
    insertIdentity: (row: Insertable<ManagementDB['sso_identities']>) => db.insertInto('sso_identities').values(row).execute(),
    touchIdentity: (id: string, at: string, email: string | null) =>
      db.updateTable('sso_identities').set({ last_sign_in_at: at, email }).where('id', '=', id).execute(),
    async deleteIdentity(userId: string, id: string): Promise<boolean> {
      const result = await db.deleteFrom('sso_identities').where('user_id', '=', userId).where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
    setSessionIdentity: (sessionId: string, identityId: string, at: string) =>
      db
        .updateTable('sessions')
        .set({ sso_identity_id: identityId, auth_method: 'sso', authenticated_at: at })
        .where('id', '=', sessionId)
        .execute(),
  };
}

export type SsoStore = ReturnType<typeof createSsoStore>;
