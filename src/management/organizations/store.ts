import type { Insertable, Kysely, Selectable } from 'kysely';
import type { ManagementDB, ProjectCreation, SsoBindingKind } from '../../db/management-schema.ts';

export interface OrganizationPolicy {
  passwordSignIn: boolean;
  projectCreation: ProjectCreation;
  ssoRoleClaim: 'groups' | 'roles' | null;
  ssoAdminValues: string[];
  ssoMemberValues: string[];
}

/** Organizations' settings, SSO bindings, invitations and the traces of offboarding. */
export function createOrganizationStore(db: Kysely<ManagementDB>) {
  return {
    db,
    async policy(organizationId: string): Promise<OrganizationPolicy | undefined> {
      const row = await db.selectFrom('organizations').selectAll().where('id', '=', organizationId).executeTakeFirst();
      return row && toPolicy(row);
    },
    updatePolicy: (organizationId: string, policy: OrganizationPolicy) =>
      db
        .updateTable('organizations')
        .set({
          password_sign_in: policy.passwordSignIn ? 1 : 0,
          project_creation: policy.projectCreation,
          sso_role_claim: policy.ssoRoleClaim,
          sso_admin_values: JSON.stringify(policy.ssoAdminValues),
          sso_member_values: JSON.stringify(policy.ssoMemberValues),
        })
        .where('id', '=', organizationId)
        .execute(),
    listOrganizations: () => db.selectFrom('organizations').selectAll().orderBy('name').execute(),

    // ---- SSO bindings ----
    bindings: (organizationId: string) =>
      db.selectFrom('organization_sso_bindings').selectAll().where('organization_id', '=', organizationId).orderBy('created_at').execute(),
    findBinding: (kind: SsoBindingKind, value: string) =>
      db.selectFrom('organization_sso_bindings').selectAll().where('kind', '=', kind).where('value', '=', value).executeTakeFirst(),
    allBindings: (kind: SsoBindingKind) => db.selectFrom('organization_sso_bindings').selectAll().where('kind', '=', kind).execute(),
    insertBinding: (row: Insertable<ManagementDB['organization_sso_bindings']>) =>
      db.insertInto('organization_sso_bindings').values(row).execute(),
    async deleteBinding(organizationId: string, id: string): Promise<boolean> {
      const result = await db
        .deleteFrom('organization_sso_bindings')
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },

    // ---- invitations ----
    insertInvitation: (row: Insertable<ManagementDB['invitations']>) => db.insertInto('invitations').values(row).execute(),
    invitations: (organizationId: string) =>
      db
        .selectFrom('invitations')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .orderBy('created_at', 'desc')
        .limit(500)
        .execute(),
    findInvitationByHash: (tokenHash: string) =>
      db.selectFrom('invitations').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst(),
    findInvitation: (id: string) => db.selectFrom('invitations').selectAll().where('id', '=', id).executeTakeFirst(),
    async revokeInvitation(organizationId: string, id: string, at: string): Promise<boolean> {
      const result = await db
        .updateTable('invitations')
        .set({ revoked_at: at })
        .where('organization_id', '=', organizationId)
        .where('id', '=', id)
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },
    /** Marks the invitation accepted only if it still was open: of two acceptances, one wins. */
    async acceptInvitation(id: string, userId: string, at: string): Promise<boolean> {
      const result = await db
        .updateTable('invitations')
        .set({ accepted_at: at, accepted_by: userId })
        .where('id', '=', id)
        .where('accepted_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', at)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    // ---- offboarding ----
    activeRunners: (organizationId: string) =>
      db
        .selectFrom('runners')
        .select(['id', 'name'])
        .where('organization_id', '=', organizationId)
        .where('revoked_at', 'is', null)
        .execute(),
    environmentsOf: (organizationId: string, userId: string) =>
      db
        .selectFrom('environments')
        .select(['id', 'runner_id'])
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .execute(),
    deleteEnvironment: (id: string) => db.deleteFrom('environments').where('id', '=', id).execute(),
    async deleteProjectMemberships(organizationId: string, userId: string): Promise<number> {
      const result = await db
        .deleteFrom('project_members')
        .where('user_id', '=', userId)
        .where('project_id', 'in', db.selectFrom('projects').select('id').where('organization_id', '=', organizationId))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    async deletePendingConsents(organizationId: string, userId: string): Promise<void> {
      await db.deleteFrom('oauth_states').where('organization_id', '=', organizationId).where('user_id', '=', userId).execute();
      await db
        .deleteFrom('app_connection_oauth_states')
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .execute();
    },
    insertPurge: (row: Insertable<ManagementDB['credential_purges']>) => db.insertInto('credential_purges').values(row).execute(),
    confirmPurge: (requestId: string, runnerId: string, deleted: number, at: string) =>
      db
        .updateTable('credential_purges')
        .set({ confirmed_at: at, deleted })
        .where('request_id', '=', requestId)
        .where('runner_id', '=', runnerId)
        .execute(),
    purges: (userId: string) =>
      db.selectFrom('credential_purges').selectAll().where('user_id', '=', userId).orderBy('requested_at', 'desc').execute(),
  };
}

export type OrganizationStore = ReturnType<typeof createOrganizationStore>;

function toPolicy(row: Selectable<ManagementDB['organizations']>): OrganizationPolicy {
  return {
    passwordSignIn: row.password_sign_in === 1,
    projectCreation: row.project_creation,
    ssoRoleClaim: row.sso_role_claim,
    ssoAdminValues: JSON.parse(row.sso_admin_values) as string[],
    ssoMemberValues: JSON.parse(row.sso_member_values) as string[],
  };
}
