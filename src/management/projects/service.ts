import type { Kysely } from 'kysely';
import type { ManagementDB, ProjectRole } from '../../db/management-schema.ts';
import { badRequest, conflict, forbidden, notFound } from '../../http/errors.ts';
import { slugify } from '../identity/service.ts';
import { newId } from '../identity/tokens.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import { createProjectStore } from './store.ts';
import type { ProjectStore } from './store.ts';

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
  const store = createProjectStore(deps.db);
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
    const project = await store.get(projectId);
    // Another organization's project, or one the user is not a member of, is indistinguishable from a missing one.
    if (!project || project.organization_id !== user.organizationId) throw notFound('project');
    if (user.role === 'admin') return { project, role: 'admin' };
    const role = await store.memberRole(projectId, user.userId);
    if (!role) throw notFound('project');
    return { project, role };
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
        const rows = await store.listForOrganization(user.organizationId);
        return rows.map((r) => view(r, 'admin'));
      }
      const rows = await store.listForMember(user.organizationId, user.userId);
      return rows.map((r) => view(r, r.member_role));
    },

    async create(user: UserPrincipal, input: { name: string }) {
      const name = input.name.trim();
      const slug = slugify(name);
      if (!name || !slug) throw badRequest('invalid_name', 'project name needs at least one letter or digit', 'name');
      if (await store.slugTaken(user.organizationId, slug))
        throw conflict('project_exists', `a project named like "${name}" exists in this organization; pick another name`, 'name');
      const row: ManagementDB['projects'] = {
        id: newId('prj'),
        organization_id: user.organizationId,
        name,
        slug,
        created_by: user.userId,
        created_at: now().toISOString(),
      };
      await store.insert(row);
      // The creator owns it, so a project always has someone who can manage it.
      await store.insertMember({ project_id: row.id, user_id: user.userId, role: 'owner', created_at: row.created_at });
      return view(row, user.role === 'admin' ? 'admin' : 'owner');
    },

    async members(user: UserPrincipal, projectId: string) {
      await access(user, projectId);
      const rows = await store.members(projectId);
      return rows.map((r) => ({ userId: r.id, email: r.email, displayName: r.display_name, role: r.role, addedAt: r.created_at }));
    },

    /** Adds a member of the organization to the project, or changes their role (owners and admins). */
    async setMember(user: UserPrincipal, projectId: string, input: { userId?: string; email?: string; role: ProjectRole }) {
      const { project } = await this.require(user, projectId, 'owner');
      if (!PROJECT_ROLES.includes(input.role)) throw badRequest('invalid_role', 'role must be owner or member', 'role');
      if ((input.userId === undefined) === (input.email === undefined))
        throw badRequest('invalid_request', 'give exactly one of userId or email', 'userId');
      const target = await store.organizationMember(
        project.organization_id,
        input.userId !== undefined ? { userId: input.userId } : { email: (input.email ?? '').trim().toLowerCase() },
      );
      if (!target)
        throw badRequest(
          'not_an_organization_member',
          'that person is not a member of this organization; an organization admin must add them first',
          input.userId !== undefined ? 'userId' : 'email',
        );
      const at = now().toISOString();
      const existing = await store.transaction(async (tx) => {
        const found = await tx.memberRole(projectId, target.id);
        if (found) {
          if (found === 'owner' && input.role !== 'owner') await keepAnOwner(tx, projectId, target.id);
          await tx.setMemberRole(projectId, target.id, input.role);
        } else {
          await tx.insertMember({ project_id: projectId, user_id: target.id, role: input.role, created_at: at });
        }
        return found;
      });
      return { userId: target.id, email: target.email, role: input.role, created: !existing };
    },

    async removeMember(user: UserPrincipal, projectId: string, userId: string) {
      await this.require(user, projectId, 'owner');
      await store.transaction(async (tx) => {
        const existing = await tx.memberRole(projectId, userId);
        if (!existing) throw notFound('project member');
        if (existing === 'owner') await keepAnOwner(tx, projectId, userId);
        await tx.deleteMember(projectId, userId);
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
async function keepAnOwner(tx: ProjectStore, projectId: string, leavingUserId: string) {
  const owners = await tx.ownersLocked(projectId);
  if (owners.every((userId) => userId === leavingUserId))
    throw conflict('last_owner', 'a project needs at least one owner; make someone else owner first');
}

export type ProjectService = ReturnType<typeof createProjectService>;
