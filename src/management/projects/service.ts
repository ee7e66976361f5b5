import { PostgresAdapter } from 'kysely';
import type { Kysely, Transaction } from 'kysely';
import type { ManagementDB, ProjectRole } from '../../db/management-schema.ts';
import { badRequest, conflict, forbidden, notFound } from '../../http/errors.ts';
import { slugify } from '../identity/service.ts';
import { newId } from '../identity/tokens.ts';
import type { UserPrincipal } from '../identity/principal.ts';

/** What a user may do in a project: org admins act as owners of every project of their organization. */
export type ProjectAccessRole = 'admin' | ProjectRole;

export interface ProjectAccess {
  project: ManagementDB['projects'];
  role: ProjectAccessRole;
}

export const PROJECT_ROLES: readonly ProjectRole[] = ['owner', 'member'];

/**
 * Projects group the automation of one team inside an organization: app connections and syncs
 * belong to a project, and only its members (and the organization's admins) see them. Owners manage
 * the project's members and connections; members use them.
 */
export function createProjectService(deps: { db: Kysely<ManagementDB>; now?: () => Date }) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());

  const view = (row: ManagementDB['projects'], role: ProjectAccessRole) => ({
    id: row.id,
    organizationId: row.organization_id,
    name: row.name,
    slug: row.slug,
    role,
    createdAt: row.created_at,
  });

  async function access(user: UserPrincipal, projectId: string): Promise<ProjectAccess> {
    const project = await db.selectFrom('projects').selectAll().where('id', '=', projectId).executeTakeFirst();
    // Another organization's project, or one the user is not a member of, is indistinguishable from a missing one.
    if (!project || project.organization_id !== user.organizationId) throw notFound('project');
    if (user.role === 'admin') return { project, role: 'admin' };
    const member = await db
      .selectFrom('project_members')
      .select('role')
      .where('project_id', '=', projectId)
      .where('user_id', '=', user.userId)
      .executeTakeFirst();
    if (!member) throw notFound('project');
    return { project, role: member.role };
  }

  return {
    view,
    access,

    /** The project as the user may see it; `need: 'owner'` also admits org admins. */
    async require(user: UserPrincipal, projectId: string, need: 'member' | 'owner' = 'member'): Promise<ProjectAccess> {
      const found = await access(user, projectId);
      if (need === 'owner' && found.role === 'member')
        throw forbidden("only the project's owners (and organization admins) may do this; ask an owner of the project");
      return found;
    },

    async list(user: UserPrincipal) {
      if (user.role === 'admin') {
        const rows = await db
          .selectFrom('projects')
          .selectAll()
          .where('organization_id', '=', user.organizationId)
          .orderBy('name')
          .execute();
        return rows.map((r) => view(r, 'admin'));
      }
      const rows = await db
        .selectFrom('projects')
        .innerJoin('project_members', 'project_members.project_id', 'projects.id')
        .selectAll('projects')
        .select('project_members.role as member_role')
        .where('projects.organization_id', '=', user.organizationId)
        .where('project_members.user_id', '=', user.userId)
        .orderBy('projects.name')
        .execute();
      return rows.map((r) => view(r, r.member_role));
    },

    async create(user: UserPrincipal, input: { name: string }) {
      const name = input.name.trim();
      const slug = slugify(name);
      if (!name || !slug) throw badRequest('invalid_name', 'project name needs at least one letter or digit', 'name');
      const taken = await db
        .selectFrom('projects')
        .select('id')
        .where('organization_id', '=', user.organizationId)
        .where('slug', '=', slug)
        .executeTakeFirst();
      if (taken) throw conflict('project_exists', `a project named like "${name}" exists in this organization; pick another name`, 'name');
      const row: ManagementDB['projects'] = {
        id: newId('prj'),
        organization_id: user.organizationId,
        name,
        slug,
        created_by: user.userId,
        created_at: now().toISOString(),
      };
      await db.insertInto('projects').values(row).execute();
      // The creator owns it, so a project always has someone who can manage it.
      await db
        .insertInto('project_members')
        .values({ project_id: row.id, user_id: user.userId, role: 'owner', created_at: row.created_at })
        .execute();
      return view(row, user.role === 'admin' ? 'admin' : 'owner');
    },

    async members(user: UserPrincipal, projectId: string) {
      await access(user, projectId);
      const rows = await db
        .selectFrom('project_members')
        .innerJoin('users', 'users.id', 'project_members.user_id')
        .select(['users.id', 'users.email', 'users.display_name', 'project_members.role', 'project_members.created_at'])
        .where('project_members.project_id', '=', projectId)
        .orderBy('users.email')
        .execute();
      return rows.map((r) => ({ userId: r.id, email: r.email, displayName: r.display_name, role: r.role, addedAt: r.created_at }));
    },

    /** Adds a member of the organization to the project, or changes their role (owners and admins). */
    async setMember(user: UserPrincipal, projectId: string, input: { userId?: string; email?: string; role: ProjectRole }) {
      const { project } = await this.require(user, projectId, 'owner');
      if (!PROJECT_ROLES.includes(input.role)) throw badRequest('invalid_role', 'role must be owner or member', 'role');
      if ((input.userId === undefined) === (input.email === undefined))
        throw badRequest('invalid_request', 'give exactly one of userId or email', 'userId');
      let query = db
        .selectFrom('users')
        .innerJoin('memberships', 'memberships.user_id', 'users.id')
        .select(['users.id', 'users.email'])
        .where('memberships.organization_id', '=', project.organization_id);
      query =
        input.userId !== undefined
          ? query.where('users.id', '=', input.userId)
          : query.where('users.email', '=', (input.email ?? '').trim().toLowerCase());
      const target = await query.executeTakeFirst();
      if (!target)
        throw badRequest(
          'not_an_organization_member',
          'that person is not a member of this organization; an organization admin must add them first',
          input.userId !== undefined ? 'userId' : 'email',
        );
      const at = now().toISOString();
      const existing = await db.transaction().execute(async (trx) => {
        const found = await trx
          .selectFrom('project_members')
          .select('role')
          .where('project_id', '=', projectId)
          .where('user_id', '=', target.id)
          .executeTakeFirst();
        if (found) {
          if (found.role === 'owner' && input.role !== 'owner') await keepAnOwner(trx, projectId, target.id);
          await trx
            .updateTable('project_members')
            .set({ role: input.role })
            .where('project_id', '=', projectId)
            .where('user_id', '=', target.id)
            .execute();
        } else {
          await trx
            .insertInto('project_members')
            .values({ project_id: projectId, user_id: target.id, role: input.role, created_at: at })
            .execute();
        }
        return found;
      });
      return { userId: target.id, email: target.email, role: input.role, created: !existing };
    },

    async removeMember(user: UserPrincipal, projectId: string, userId: string) {
      await this.require(user, projectId, 'owner');
      await db.transaction().execute(async (trx) => {
        const existing = await trx
          .selectFrom('project_members')
          .select('role')
          .where('project_id', '=', projectId)
          .where('user_id', '=', userId)
          .executeTakeFirst();
        if (!existing) throw notFound('project member');
        if (existing.role === 'owner') await keepAnOwner(trx, projectId, userId);
        await trx.deleteFrom('project_members').where('project_id', '=', projectId).where('user_id', '=', userId).execute();
      });
    },
  };
}

/**
 * Refuses to let the last owner of a project go (removed or made a member). Called inside the
 * transaction that makes the change: on PostgreSQL the project's owner rows are locked, so two
 * owners demoting each other at once cannot both pass (the second waits and then sees one owner);
 * SQLite runs one transaction at a time.
 */
async function keepAnOwner(trx: Transaction<ManagementDB>, projectId: string, leavingUserId: string) {
  let owners = trx.selectFrom('project_members').select('user_id').where('project_id', '=', projectId).where('role', '=', 'owner');
  if (trx.getExecutor().adapter instanceof PostgresAdapter) owners = owners.forUpdate();
  const rows = await owners.execute();
  if (rows.every((o) => o.user_id === leavingUserId))
    throw conflict('last_owner', 'a project needs at least one owner; make someone else owner first');
}

export type ProjectService = ReturnType<typeof createProjectService>;
