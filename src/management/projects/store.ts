import { PostgresAdapter } from 'kysely';
import type { Kysely, Selectable, Transaction } from 'kysely';
import type { ManagementDB, ProjectRole } from '../../db/management-schema.ts';

export type ProjectRow = Selectable<ManagementDB['projects']>;

type Db = Kysely<ManagementDB> | Transaction<ManagementDB>;

/** Every query the projects module makes (projects and project_members); the service holds the rules. */
export function createProjectStore(db: Kysely<ManagementDB>): ProjectStore {
  return {
    /** Runs `work` in one transaction; the store it is given reads and writes inside it. */
    transaction: (work) => db.transaction().execute((trx) => work(storeOn(trx))),
    ...queries(db),
  };
}

function storeOn(trx: Transaction<ManagementDB>): ProjectStore {
  return {
    transaction: (work) => work(storeOn(trx)),
    ...queries(trx),
  };
}

function queries(db: Db) {
  return {
    // ---- projects ----
    get: (id: string) => db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst(),
    listForOrganization: (organizationId: string) =>
      db.selectFrom('projects').selectAll().where('organization_id', '=', organizationId).orderBy('name').execute(),
    /** The organization's projects the user is a member of, with the user's role in each. */
    listForMember: (organizationId: string, userId: string) =>
      db
        .selectFrom('projects')
        .innerJoin('project_members', 'project_members.project_id', 'projects.id')
        .selectAll('projects')
        .select('project_members.role as member_role')
        .where('projects.organization_id', '=', organizationId)
        .where('project_members.user_id', '=', userId)
        .orderBy('projects.name')
        .execute(),
    async slugTaken(organizationId: string, slug: string): Promise<boolean> {
      const row = await db
        .selectFrom('projects')
        .select('id')
        .where('organization_id', '=', organizationId)
        .where('slug', '=', slug)
        .executeTakeFirst();
      return row !== undefined;
    },
    insert: (row: ProjectRow) => db.insertInto('projects').values(row).execute(),

    // ---- project members ----
    /** The user's role in the project; undefined when they are not a member. */
    async memberRole(projectId: string, userId: string): Promise<ProjectRole | undefined> {
      const row = await db
        .selectFrom('project_members')
        .select('role')
        .where('project_id', '=', projectId)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      return row?.role;
    },
    members: (projectId: string) =>
      db
        .selectFrom('project_members')
        .innerJoin('users', 'users.id', 'project_members.user_id')
        .select(['users.id', 'users.email', 'users.display_name', 'project_members.role', 'project_members.created_at'])
        .where('project_members.project_id', '=', projectId)
        .orderBy('users.email')
        .execute(),
    insertMember: (row: Selectable<ManagementDB['project_members']>) => db.insertInto('project_members').values(row).execute(),
    setMemberRole: (projectId: string, userId: string, role: ProjectRole) =>
      db.updateTable('project_members').set({ role }).where('project_id', '=', projectId).where('user_id', '=', userId).execute(),
    deleteMember: (projectId: string, userId: string) =>
      db.deleteFrom('project_members').where('project_id', '=', projectId).where('user_id', '=', userId).execute(),
    /**
     * The project's owners. Inside a transaction on PostgreSQL their rows are locked (FOR UPDATE)
     * until it ends, so that changes which must keep an owner are serialized per project.
     */
    async ownersLocked(projectId: string): Promise<string[]> {
      let owners = db.selectFrom('project_members').select('user_id').where('project_id', '=', projectId).where('role', '=', 'owner');
      if (db.getExecutor().adapter instanceof PostgresAdapter) owners = owners.forUpdate();
      return (await owners.execute()).map((o) => o.user_id);
    },

    // ---- the organization's people (users and memberships, read only) ----
    /** A member of the organization, by user id or by e-mail address (already normalized). */
    organizationMember: (organizationId: string, by: { userId: string } | { email: string }) => {
      const query = db
        .selectFrom('users')
        .innerJoin('memberships', 'memberships.user_id', 'users.id')
        .select(['users.id', 'users.email'])
        .where('memberships.organization_id', '=', organizationId);
      return ('userId' in by ? query.where('users.id', '=', by.userId) : query.where('users.email', '=', by.email)).executeTakeFirst();
    },
  };
}

export type ProjectStore = ReturnType<typeof queries> & {
  transaction<T>(work: (store: ProjectStore) => Promise<T>): Promise<T>;
};
