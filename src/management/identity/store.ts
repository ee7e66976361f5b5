import type { Insertable, Kysely, Transaction } from 'kysely';
import type { ManagementDB, MembershipSource, Role } from '../../db/management-schema.ts';

export interface Membership {
  organizationId: string;
  organizationSlug: string;
  organizationName: string;
  role: Role;
  source: MembershipSource;
  /** Whether the organization accepts password (and sign-in link) sessions. */
  passwordSignIn: boolean;
}

type Db = Kysely<ManagementDB> | Transaction<ManagementDB>;

const membershipColumns = [
  'organizations.id',
  'organizations.slug',
  'organizations.name',
  'organizations.password_sign_in',
  'memberships.role',
  'memberships.source',
] as const;

function toMembership(r: {
  id: string;
  slug: string;
  name: string;
  password_sign_in: number;
  role: Role;
  source: MembershipSource;
}): Membership {
  return {
    organizationId: r.id,
    organizationSlug: r.slug,
    organizationName: r.name,
    role: r.role,
    source: r.source,
    passwordSignIn: r.password_sign_in === 1,
  };
}

/** Every query the identity module makes; the service holds the rules. */
export function createIdentityStore(db: Kysely<ManagementDB>): IdentityStore {
  return {
    db,
    /** Runs `work` in one transaction; the store it is given writes inside it. */
    transaction: (work) => db.transaction().execute((trx) => work(storeOn(trx))),
    ...queries(db),
  };
}

function storeOn(trx: Transaction<ManagementDB>): IdentityStore {
  return {
    db: trx,
    transaction: (work) => work(storeOn(trx)),
    ...queries(trx),
  };
}

function queries(db: Db) {
  return {
    async countUsers(): Promise<number> {
      const row = await db
        .selectFrom('users')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },

    // ---- organizations ----
    insertOrganization: (row: Insertable<ManagementDB['organizations']>) => db.insertInto('organizations').values(row).execute(),
    findOrganization: (id: string) => db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst(),
    findOrganizationBySlug: (slug: string) => db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirst(),
    /**
     * Takes the organization's row lock for the rest of the transaction (a no-op write: a row lock
     * on PostgreSQL, the write lock on SQLite), so membership changes that must keep an admin are
     * serialized per organization.
     */
    async lockOrganization(id: string): Promise<boolean> {
      const result = await db.updateTable('organizations').set({ id }).where('id', '=', id).executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    // ---- users ----
    insertUser: (row: Insertable<ManagementDB['users']>) => db.insertInto('users').values(row).execute(),
    findUserByEmail: (email: string) => db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst(),
    findUser: (id: string) => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst(),
    updatePassword: (userId: string, hash: string | null, at: string) =>
      db.updateTable('users').set({ password_hash: hash, password_changed_at: at }).where('id', '=', userId).execute(),
    setLastOrganization: (userId: string, organizationId: string | null) =>
      db.updateTable('users').set({ last_organization_id: organizationId }).where('id', '=', userId).execute(),
    setDisabled: (userId: string, at: string | null) => db.updateTable('users').set({ disabled_at: at }).where('id', '=', userId).execute(),
    setOperator: (userId: string, operator: boolean) =>
      db
        .updateTable('users')
        .set({ operator: operator ? 1 : 0 })
        .where('id', '=', userId)
        .execute(),
    listUsers: () => db.selectFrom('users').selectAll().orderBy('email').execute(),
    firstOperator: () =>
      db
        .selectFrom('users')
        .selectAll()
        .where('operator', '=', 1)
        .where('disabled_at', 'is', null)
        .orderBy('created_at')
        .limit(1)
        .executeTakeFirst(),

    // ---- memberships ----
    insertMembership: (row: Insertable<ManagementDB['memberships']>) => db.insertInto('memberships').values(row).execute(),
    updateRole: (organizationId: string, userId: string, role: Role) =>
      db.updateTable('memberships').set({ role }).where('organization_id', '=', organizationId).where('user_id', '=', userId).execute(),
    async deleteMembership(organizationId: string, userId: string): Promise<boolean> {
      const result = await db
        .deleteFrom('memberships')
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
    async countAdmins(organizationId: string): Promise<number> {
      const row = await db
        .selectFrom('memberships')
        .innerJoin('users', 'users.id', 'memberships.user_id')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('memberships.organization_id', '=', organizationId)
        .where('memberships.role', '=', 'admin')
        .where('users.disabled_at', 'is', null)
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    async membership(userId: string, organizationId: string): Promise<Membership | undefined> {
      const row = await db
        .selectFrom('memberships')
        .innerJoin('organizations', 'organizations.id', 'memberships.organization_id')
        .select(membershipColumns)
        .where('memberships.user_id', '=', userId)
        .where('memberships.organization_id', '=', organizationId)
        .executeTakeFirst();
      return row && toMembership(row);
    },
    /** A user's organizations. Ordered by name for display only: nothing picks "the first". */
    async memberships(userId: string): Promise<Membership[]> {
      const rows = await db
        .selectFrom('memberships')
        .innerJoin('organizations', 'organizations.id', 'memberships.organization_id')
        .select(membershipColumns)
        .where('memberships.user_id', '=', userId)
        .orderBy('organizations.name')
        .orderBy('organizations.id')
        .execute();
      return rows.map(toMembership);
    },
    organizationMembers: (organizationId: string) =>
      db
        .selectFrom('memberships')
        .innerJoin('users', 'users.id', 'memberships.user_id')
        .select([
          'users.id',
          'users.email',
          'users.display_name',
          'users.created_at',
          'users.disabled_at',
          'memberships.role',
          'memberships.source',
          'memberships.created_at as joined_at',
        ])
        .where('memberships.organization_id', '=', organizationId)
        .orderBy('users.email')
        .execute(),

    // ---- sessions ----
    insertSession: (row: Insertable<ManagementDB['sessions']>) => db.insertInto('sessions').values(row).execute(),
    findSessionByHash: (tokenHash: string) => db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),
    findSession: (id: string) => db.selectFrom('sessions').selectAll().where('id', '=', id).executeTakeFirst(),
    listSessions: (userId: string, now: string) =>
      db
        .selectFrom('sessions')
        .selectAll()
        .where('user_id', '=', userId)
        .where('expires_at', '>', now)
        .orderBy('last_seen_at', 'desc')
        .execute(),
    touchSession: (id: string, at: string) => db.updateTable('sessions').set({ last_seen_at: at }).where('id', '=', id).execute(),
    setSessionOrganization: (id: string, organizationId: string) =>
      db.updateTable('sessions').set({ organization_id: organizationId }).where('id', '=', id).execute(),
    markAuthenticated: (id: string, at: string) => db.updateTable('sessions').set({ authenticated_at: at }).where('id', '=', id).execute(),
    async deleteSession(id: string, userId?: string): Promise<boolean> {
      let query = db.deleteFrom('sessions').where('id', '=', id);
      if (userId) query = query.where('user_id', '=', userId);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
    /** Ends a user's sessions: all of them, those in one organization, or all but one. */
    async deleteSessions(userId: string, filter: { organizationId?: string; exceptId?: string } = {}): Promise<number> {
      let query = db.deleteFrom('sessions').where('user_id', '=', userId);
      if (filter.organizationId) query = query.where('organization_id', '=', filter.organizationId);
      if (filter.exceptId) query = query.where('id', '!=', filter.exceptId);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async deletePasswordSessionsIn(organizationId: string): Promise<number> {
      const result = await db
        .deleteFrom('sessions')
        .where('organization_id', '=', organizationId)
        .where('auth_method', 'in', ['password', 'invitation'])
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    deleteExpiredSessions: (now: string) => db.deleteFrom('sessions').where('expires_at', '<', now).execute(),

    // ---- API tokens ----
    insertApiToken: (row: Insertable<ManagementDB['api_tokens']>) => db.insertInto('api_tokens').values(row).execute(),
    findApiTokenByHash: (tokenHash: string) =>
      db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),
    listApiTokens: (userId: string) =>
      db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').execute(),
    revokeApiToken: (id: string, userId: string, at: string) =>
      db
        .updateTable('api_tokens')
        .set({ revoked_at: at })
        .where('id', '=', id)
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .executeTakeFirst(),
    async revokeApiTokens(userId: string, at: string, organizationId?: string): Promise<number> {
      let query = db.updateTable('api_tokens').set({ revoked_at: at }).where('user_id', '=', userId).where('revoked_at', 'is', null);
      if (organizationId) query = query.where('organization_id', '=', organizationId);
      const result = await query.executeTakeFirst();
      return Number(result.numUpdatedRows);
    },
    touchApiToken: (id: string, at: string) => db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute(),

    // ---- sign-in links ----
    insertSignInLink: (row: Insertable<ManagementDB['sign_in_links']>) => db.insertInto('sign_in_links').values(row).execute(),
    /** Marks the link used only if it was unused, so two concurrent redemptions cannot both win. */
    async consumeSignInLink(tokenHash: string, now: string) {
      const link = await db.selectFrom('sign_in_links').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
      if (!link) return { outcome: 'unknown' as const };
      if (link.used_at) return { outcome: 'used' as const, link };
      if (link.expires_at < now) return { outcome: 'expired' as const, link };
      const result = await db
        .updateTable('sign_in_links')
        .set({ used_at: now })
        .where('id', '=', link.id)
        .where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1 ? { outcome: 'ok' as const, link } : { outcome: 'used' as const, link };
    },
    expireSignInLinks: (userId: string, at: string) =>
      db.updateTable('sign_in_links').set({ used_at: at }).where('user_id', '=', userId).where('used_at', 'is', null).execute(),

    // ---- sign-in throttling ----
    /**
     * Reserves one attempt under `key`: true when the attempt may go ahead. The reservation is one
     * conditional UPDATE (PostgreSQL re-checks its WHERE against the row a concurrent writer just
     * committed; SQLite serializes writers), so N parallel attempts never get more than `max`.
     */
    async reserveAttempt(key: string, max: number, now: string, windowStartsAfter: string): Promise<{ ok: boolean; windowStart?: string }> {
      await db
        .insertInto('sign_in_throttle')
        .values({ key, window_start: now, count: 0 })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      const reset = await db
        .updateTable('sign_in_throttle')
        .set({ count: 1, window_start: now })
        .where('key', '=', key)
        .where('window_start', '<', windowStartsAfter)
        .executeTakeFirst();
      if (Number(reset.numUpdatedRows) === 1) return { ok: true };
      const taken = await db
        .updateTable('sign_in_throttle')
        .set((eb) => ({ count: eb('count', '+', 1) }))
        .where('key', '=', key)
        .where('count', '<', max)
        .executeTakeFirst();
      if (Number(taken.numUpdatedRows) === 1) return { ok: true };
      const row = await db.selectFrom('sign_in_throttle').select('window_start').where('key', '=', key).executeTakeFirst();
      return { ok: false, windowStart: row?.window_start };
    },
    /** Gives a reservation back (the attempt succeeded: it was the owner, not a guess). */
    releaseAttempt: (key: string) =>
      db
        .updateTable('sign_in_throttle')
        .set((eb) => ({ count: eb('count', '-', 1) }))
        .where('key', '=', key)
        .where('count', '>', 0)
        .execute(),
    clearAttempts: (key: string) => db.deleteFrom('sign_in_throttle').where('key', '=', key).execute(),
    pruneAttempts: (before: string) => db.deleteFrom('sign_in_throttle').where('window_start', '<', before).execute(),
    async isKnownAddress(userId: string, ip: string): Promise<boolean> {
      return (
        (await db
          .selectFrom('sign_in_known_addresses')
          .select('ip')
          .where('user_id', '=', userId)
          .where('ip', '=', ip)
          .executeTakeFirst()) !== undefined
      );
    },
    rememberAddress: (userId: string, ip: string, at: string) =>
      db
        .insertInto('sign_in_known_addresses')
        .values({ user_id: userId, ip, last_seen_at: at })
        .onConflict((oc) => oc.columns(['user_id', 'ip']).doUpdateSet({ last_seen_at: at }))
        .execute(),

    // ---- instance settings ----
    async setting(key: string): Promise<string | undefined> {
      return (await db.selectFrom('instance_settings').select('value').where('key', '=', key).executeTakeFirst())?.value;
    },
    setSetting: (key: string, value: string, at: string) =>
      db
        .insertInto('instance_settings')
        .values({ key, value, updated_at: at })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
        .execute(),
  };
}

export type IdentityStore = ReturnType<typeof queries> & {
  db: Db;
  transaction<T>(work: (store: IdentityStore) => Promise<T>): Promise<T>;
};
