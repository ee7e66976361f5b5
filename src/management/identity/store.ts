import type { Kysely } from 'kysely';
import type { ManagementDB, Role } from '../../db/management-schema.ts';

export interface Membership {
  organizationId: string;
  organizationSlug: string;
  organizationName: string;
  role: Role;
}

/** Every query the identity module makes; the service holds the rules. */
export function createIdentityStore(db: Kysely<ManagementDB>) {
  return {
    db,
    async countUsers(): Promise<number> {
      const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<string | number>().as('n')).executeTakeFirstOrThrow();
      return Number(row.n);
    },
    insertOrganization: (row: ManagementDB['organizations']) => db.insertInto('organizations').values(row).execute(),
    findOrganization: (id: string) => db.selectFrom('organizations').selectAll().where('id', '=', id).executeTakeFirst(),
    findOrganizationBySlug: (slug: string) => db.selectFrom('organizations').selectAll().where('slug', '=', slug).executeTakeFirst(),
    insertUser: (row: ManagementDB['users']) => db.insertInto('users').values(row).execute(),
    findUserByEmail: (email: string) => db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst(),
    findUser: (id: string) => db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst(),
    updatePassword: (userId: string, hash: string) => db.updateTable('users').set({ password_hash: hash }).where('id', '=', userId).execute(),
    insertMembership: (row: ManagementDB['memberships']) => db.insertInto('memberships').values(row).execute(),
    updateRole: (organizationId: string, userId: string, role: Role) =>
      db.updateTable('memberships').set({ role }).where('organization_id', '=', organizationId).where('user_id', '=', userId).execute(),
    async membership(userId: string, organizationId: string): Promise<Membership | undefined> {
      const row = await db
        .selectFrom('memberships')
        .innerJoin('organizations', 'organizations.id', 'memberships.organization_id')
        .select(['organizations.id', 'organizations.slug', 'organizations.name', 'memberships.role'])
        .where('memberships.user_id', '=', userId)
        .where('memberships.organization_id', '=', organizationId)
        .executeTakeFirst();
      return row && { organizationId: row.id, organizationSlug: row.slug, organizationName: row.name, role: row.role };
    },
    async memberships(userId: string): Promise<Membership[]> {
      const rows = await db
        .selectFrom('memberships')
        .innerJoin('organizations', 'organizations.id', 'memberships.organization_id')
        .select(['organizations.id', 'organizations.slug', 'organizations.name', 'memberships.role'])
        .where('memberships.user_id', '=', userId)
        .orderBy('organizations.name')
        .execute();
      return rows.map((r) => ({ organizationId: r.id, organizationSlug: r.slug, organizationName: r.name, role: r.role }));
    },
    organizationMembers: (organizationId: string) =>
      db
        .selectFrom('memberships')
        .innerJoin('users', 'users.id', 'memberships.user_id')
        .select(['users.id', 'users.email', 'users.display_name', 'users.created_at', 'users.disabled_at', 'memberships.role'])
        .where('memberships.organization_id', '=', organizationId)
        .orderBy('users.email')
        .execute(),

    insertSession: (row: ManagementDB['sessions']) => db.insertInto('sessions').values(row).execute(),
    findSessionByHash: (tokenHash: string) => db.selectFrom('sessions').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),
    touchSession: (id: string, at: string) => db.updateTable('sessions').set({ last_seen_at: at }).where('id', '=', id).execute(),
    switchSessionOrganization: (id: string, organizationId: string) =>
      db.updateTable('sessions').set({ organization_id: organizationId }).where('id', '=', id).execute(),
    deleteSession: (id: string) => db.deleteFrom('sessions').where('id', '=', id).execute(),
    deleteExpiredSessions: (now: string) => db.deleteFrom('sessions').where('expires_at', '<', now).execute(),

    insertApiToken: (row: ManagementDB['api_tokens']) => db.insertInto('api_tokens').values(row).execute(),
    findApiTokenByHash: (tokenHash: string) => db.selectFrom('api_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),
    listApiTokens: (userId: string) =>
      db.selectFrom('api_tokens').selectAll().where('user_id', '=', userId).orderBy('created_at', 'desc').execute(),
    revokeApiToken: (id: string, userId: string, at: string) =>
      db.updateTable('api_tokens').set({ revoked_at: at }).where('id', '=', id).where('user_id', '=', userId).where('revoked_at', 'is', null).executeTakeFirst(),
    touchApiToken: (id: string, at: string) => db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute(),

    insertSignInLink: (row: ManagementDB['sign_in_links']) => db.insertInto('sign_in_links').values(row).execute(),
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

    insertSignInFailure: (row: ManagementDB['sign_in_failures']) => db.insertInto('sign_in_failures').values(row).execute(),
    async countSignInFailures(since: string, subject: string, ip: string): Promise<{ subject: number; ip: number; oldest?: string }> {
      const bySubject = await db
        .selectFrom('sign_in_failures')
        .select((eb) => [eb.fn.countAll<string | number>().as('n'), eb.fn.min('created_at').as('oldest')])
        .where('subject', '=', subject)
        .where('created_at', '>=', since)
        .executeTakeFirstOrThrow();
      const byIp = await db
        .selectFrom('sign_in_failures')
        .select((eb) => eb.fn.countAll<string | number>().as('n'))
        .where('ip', '=', ip)
        .where('created_at', '>=', since)
        .executeTakeFirstOrThrow();
      return { subject: Number(bySubject.n), ip: Number(byIp.n), oldest: bySubject.oldest ?? undefined };
    },
    clearSignInFailures: (subject: string) => db.deleteFrom('sign_in_failures').where('subject', '=', subject).execute(),
    pruneSignInFailures: (before: string) => db.deleteFrom('sign_in_failures').where('created_at', '<', before).execute(),
  };
}

export type IdentityStore = ReturnType<typeof createIdentityStore>;
