import type { ProjectCreation, Role, SsoBindingKind } from '../../db/management-schema.ts';
import { ApiError, badRequest, conflict, forbidden, notFound } from '../../http/errors.ts';
import { PURGE_USER_CREDENTIALS } from '../../control/people.ts';
import type { PurgeUserCredentialsPayload, PurgeUserCredentialsResult } from '../../control/people.ts';
import { ENVIRONMENT_REQUESTS } from '../../control/environments.ts';
import type { AuditLog } from '../audit/service.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { AccountPrincipal, UserPrincipal } from '../identity/principal.ts';
import type { ClientInfo, IdentityService } from '../identity/service.ts';
import { isEmail, normalizeEmail } from '../identity/service.ts';
import { generateToken, hashToken, hasPrefix, newId } from '../identity/tokens.ts';
import { passwordProblem } from '../identity/password.ts';
import { createOrganizationStore } from './store.ts';
import type { OrganizationPolicy, OrganizationStore } from './store.ts';

export const INVITATION_DAYS = 7;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

export type OffboardingReason = 'removed' | 'left' | 'disabled' | 'sso_claims';

export interface OrganizationServiceDeps {
  store: OrganizationStore;
  identity: Pick<IdentityService, 'store' | 'createSession' | 'hashPassword'>;
  control: Pick<ControlChannel, 'enqueue' | 'onQueuedAnswer'>;
  audit: Pick<AuditLog, 'record'>;
  publicUrl: () => string;
  /** Which sign-in providers are configured on this instance (KEYWAY_SSO_*). */
  ssoProviders: () => { entra: boolean; oidc: boolean };
  now?: () => Date;
}

/**
 * Organizations as a boundary: who belongs (by their own act only: an invitation they accept, or
 * single sign-on through a tenant or domain the organization is bound to), who leaves, and what
 * leaving takes with it.
 */
export function createOrganizationService(deps: OrganizationServiceDeps) {
  const { store } = deps;
  const people = deps.identity.store;
  const now = deps.now ?? (() => new Date());
  const iso = () => now().toISOString();

  // A runner confirms a purge by answering the queued request: the confirmation is recorded.
  deps.control.onQueuedAnswer(PURGE_USER_CREDENTIALS, async (runnerId, requestId, answer) => {
    const deleted = answer.ok ? (answer.result as PurgeUserCredentialsResult).credentials : -1;
    await store.confirmPurge(requestId, runnerId, deleted, iso());
  });

  /**
   * Ends a person's membership (or, for `disabled`, their access) in one organization: sessions and
   * API tokens of that organization end at once, project memberships and unfinished consents go,
   * and every active runner of the organization is asked to delete the person's credentials and
   * workspaces (queued: a runner that is offline does it when it next connects, and confirms).
   */
  async function offboard(
    userId: string,
    organizationId: string,
    reason: OffboardingReason,
  ): Promise<{ runners: number; environments: number }> {
    const at = iso();
    if (reason !== 'disabled') {
      await people.transaction(async (tx) => {
        if (!(await tx.lockOrganization(organizationId))) throw notFound('organization');
        const membership = await tx.membership(userId, organizationId);
        if (!membership) throw notFound('member');
        if (membership.role === 'admin' && (await tx.countAdmins(organizationId)) <= 1) throw lastAdmin(membership.organizationName);
        await tx.deleteMembership(organizationId, userId);
      });
    }
    await people.deleteSessions(userId, reason === 'disabled' ? {} : { organizationId });
    await people.revokeApiTokens(userId, at, reason === 'disabled' ? undefined : organizationId);
    if (reason !== 'disabled') {
      await store.deleteProjectMemberships(organizationId, userId);
      const user = await people.findUser(userId);
      if (user?.last_organization_id === organizationId) await people.setLastOrganization(userId, null);
    }
    await store.deletePendingConsents(organizationId, userId);
    const environments = await store.environmentsOf(organizationId, userId);
    for (const env of environments) {
      await deps.control.enqueue(env.runner_id, ENVIRONMENT_REQUESTS.delete, { environmentId: env.id, userId });
      await store.deleteEnvironment(env.id);
    }
    const runners = await store.activeRunners(organizationId);
    for (const runner of runners) {
      const payload: PurgeUserCredentialsPayload = { userId, reason };
      const requestId = await deps.control.enqueue(runner.id, PURGE_USER_CREDENTIALS, payload);
      await store.insertPurge({
        id: newId('prg'),
        organization_id: organizationId,
        runner_id: runner.id,
        user_id: userId,
        reason,
        request_id: requestId,
        requested_at: at,
        confirmed_at: null,
        deleted: null,
      });
    }
    return { runners: runners.length, environments: environments.length };
  }

  async function policy(organizationId: string): Promise<OrganizationPolicy> {
    const found = await store.policy(organizationId);
    if (!found) throw notFound('organization');
    return found;
  }

  function lastAdmin(organizationName: string): ApiError {
    return conflict('last_admin', `${organizationName} would have no admin left; make someone else an admin first`);
  }

  async function requireMember(organizationId: string, userId: string) {
    const membership = await people.membership(userId, organizationId);
    if (!membership) throw notFound('member');
    return membership;
  }

  function invitationUrl(token: string): string {
    // The token travels in the fragment: browsers never send it to servers, proxies or Referer.
    return `${deps.publicUrl()}/invitations/accept#token=${token}`;
  }

  async function openInvitation(token: string) {
    const generic = new ApiError(404, 'invalid_invitation', 'this invitation is not valid; ask the admin who invited you for a new one');
    if (!hasPrefix(token, 'invitation')) throw generic;
    const invitation = await store.findInvitationByHash(hashToken(token));
    if (!invitation || invitation.revoked_at) throw generic;
    if (invitation.accepted_at)
      throw new ApiError(410, 'invitation_used', 'this invitation was accepted already; each invitation works once');
    if (invitation.expires_at < iso())
      throw new ApiError(
        410,
        'invitation_expired',
        `this invitation expired (invitations last ${INVITATION_DAYS} days); ask for a new one`,
      );
    const organization = await people.findOrganization(invitation.organization_id);
    if (!organization) throw generic;
    return { invitation, organization };
  }

  async function join(invitationId: string, organizationId: string, userId: string, role: Role) {
    await people.transaction(async (tx) => {
      if (!(await tx.membership(userId, organizationId))) {
        await tx.insertMembership({ organization_id: organizationId, user_id: userId, role, created_at: iso(), source: 'invitation' });
      }
      // Conditional: of two acceptances racing, one wins; the other rolls back its membership.
      if (!(await createOrganizationStore(tx.db).acceptInvitation(invitationId, userId, iso()))) {
        throw new ApiError(410, 'invitation_used', 'this invitation was accepted already; each invitation works once');
      }
    });
  }

  return {
    offboard,
    /** Joins a person through an open invitation (for single sign-on, which proved the person itself). */
    async joinByInvitation(invitationId: string, userId: string) {
      const invitation = await store.findInvitation(invitationId);
      if (!invitation) throw new ApiError(404, 'invalid_invitation', 'this invitation is not valid');
      await join(invitation.id, invitation.organization_id, userId, invitation.role);
    },

    async setRole(actor: UserPrincipal, userId: string, role: Role) {
      await people.transaction(async (tx) => {
        await tx.lockOrganization(actor.organizationId);
        const membership = await tx.membership(userId, actor.organizationId);
        if (!membership) throw notFound('member');
        if (membership.role === 'admin' && role !== 'admin' && (await tx.countAdmins(actor.organizationId)) <= 1)
          throw lastAdmin(membership.organizationName);
        await tx.updateRole(actor.organizationId, userId, role);
      });
    },

    removeMember: (actor: UserPrincipal, userId: string) => offboard(userId, actor.organizationId, 'removed'),

    async leave(person: UserPrincipal | AccountPrincipal, organizationId: string) {
      if (person.via !== 'session') throw forbidden('leave an organization from a browser session; API tokens cannot');
      await requireMember(organizationId, person.userId);
      return offboard(person.userId, organizationId, 'left');
    },

    /** An operator disables (or re-enables) an account everywhere: it can no longer sign in. */
    async setDisabled(operator: UserPrincipal | AccountPrincipal, userId: string, disabled: boolean) {
      const user = await people.findUser(userId);
      if (!user) throw notFound('user');
      if (userId === operator.userId) throw badRequest('cannot_disable_self', 'you cannot disable your own account; ask another operator');
      const memberships = await people.memberships(userId);
      if (!disabled) {
        await people.setDisabled(userId, null);
        return { organizations: memberships.length, runners: 0 };
      }
      for (const m of memberships) {
        if (m.role === 'admin' && (await people.countAdmins(m.organizationId)) <= 1) throw lastAdmin(m.organizationName);
      }
      await people.setDisabled(userId, iso());
      await people.expireSignInLinks(userId, iso());
      let runners = 0;
      for (const m of memberships) runners += (await offboard(userId, m.organizationId, 'disabled')).runners;
      // Sessions and tokens of no organization (none chosen yet) end too.
      await people.deleteSessions(userId);
      await people.revokeApiTokens(userId, iso());
      return { organizations: memberships.length, runners };
    },

    purges: (userId: string) => store.purges(userId),
    listOrganizations: () => store.listOrganizations(),

    // ---- settings ----

    policy,

    async updatePolicy(actor: UserPrincipal, change: Partial<OrganizationPolicy>) {
      const current = await policy(actor.organizationId);
      const next: OrganizationPolicy = { ...current, ...change };
      if (next.ssoRoleClaim === null && (next.ssoAdminValues.length > 0 || next.ssoMemberValues.length > 0)) {
        throw badRequest('invalid_role_mapping', 'set ssoRoleClaim to "groups" or "roles" to map values to roles', 'ssoRoleClaim');
      }
      for (const value of [...next.ssoAdminValues, ...next.ssoMemberValues]) {
        if (!value.trim() || value.length > 200)
          throw badRequest('invalid_role_mapping', 'each group or role value must be 1–200 characters', 'ssoAdminValues');
      }
      let endedSessions = 0;
      if (current.passwordSignIn && !next.passwordSignIn) {
        const providers = deps.ssoProviders();
        const bindings = await store.bindings(actor.organizationId);
        if ((!providers.entra && !providers.oidc) || bindings.length === 0) {
          throw conflict(
            'sso_not_ready',
            'single sign-on is not set up for this organization (a configured provider and a bound tenant or domain); password sign-in stays on',
            'passwordSignIn',
          );
        }
        if (actor.authMethod !== 'sso' && !actor.operator) {
          throw conflict(
            'sso_not_proven',
            'sign in with single sign-on yourself first, so you know it works, then switch password sign-in off',
            'passwordSignIn',
          );
        }
        endedSessions = await people.deletePasswordSessionsIn(actor.organizationId);
      }
      await store.updatePolicy(actor.organizationId, next);
      return { policy: next, endedSessions };
    },

    mayCreateProjects(principal: UserPrincipal, projectCreation: ProjectCreation): boolean {
      return principal.role === 'admin' || projectCreation === 'members';
    },

    // ---- SSO bindings ----

    bindings: (organizationId: string) => store.bindings(organizationId),

    /**
     * Binds a tenant or domain to the organization: from then on, people who sign in through it
     * join just in time. Binding is a claim over other people's identities, so it needs proof: an
     * instance operator, or an admin whose own session came through that Entra tenant (for a
     * domain: through a provider that verified an email address of that domain).
     */
    async addBinding(
      actor: UserPrincipal,
      input: { kind: SsoBindingKind; value: string },
      proof: { tenantId?: string; verifiedEmail?: string },
    ) {
      const value = input.value.trim().toLowerCase();
      if (input.kind === 'entra-tenant' && !GUID.test(value))
        throw badRequest(
          'invalid_binding',
          'an Entra tenant is bound by its Directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47',
          'value',
        );
      if (input.kind === 'email-domain' && !DOMAIN.test(value))
        throw badRequest('invalid_binding', 'an email domain looks like example.com', 'value');
      const proven =
        actor.operator || (input.kind === 'entra-tenant' ? proof.tenantId === value : proof.verifiedEmail?.endsWith(`@${value}`) === true);
      if (!proven) {
        throw forbidden(
          input.kind === 'entra-tenant'
            ? 'sign in with Microsoft through this tenant first (that proves you belong to it), or ask an instance operator to bind it'
            : 'sign in through single sign-on with a verified email address of this domain first, or ask an instance operator to bind it',
        );
      }
      const existing = await store.findBinding(input.kind, value);
      if (existing) {
        throw conflict(
          'binding_exists',
          existing.organization_id === actor.organizationId
            ? 'this organization is bound to it already'
            : 'another organization on this instance is bound to it; a tenant or domain belongs to one organization',
          'value',
        );
      }
      const id = newId('ssob');
      await store.insertBinding({
        id,
        organization_id: actor.organizationId,
        kind: input.kind,
        value,
        created_by: actor.userId,
        created_at: iso(),
      });
      return { id, kind: input.kind, value };
    },

    async removeBinding(actor: UserPrincipal, id: string) {
      if (!(await store.deleteBinding(actor.organizationId, id))) throw notFound('binding');
    },

    // ---- invitations ----

    /**
     * Invites an email address. The answer is the same whether an account with that address exists
     * anywhere on the instance or not; only the organization's own members are reported (the admin
     * can list them anyway).
     */
    async invite(actor: UserPrincipal, input: { email: string; role: Role }) {
      const email = normalizeEmail(input.email);
      if (!isEmail(email)) throw badRequest('invalid_email', 'email must look like name@example.com', 'email');
      const members = await people.organizationMembers(actor.organizationId);
      if (members.some((m) => m.email === email))
        throw conflict('member_exists', `${email} is already a member of this organization`, 'email');
      const token = generateToken('invitation');
      const id = newId('inv');
      const expiresAt = new Date(now().getTime() + INVITATION_DAYS * 86_400_000).toISOString();
      await store.insertInvitation({
        id,
        organization_id: actor.organizationId,
        email,
        role: input.role,
        token_hash: hashToken(token),
        invited_by: actor.userId,
        created_at: iso(),
        expires_at: expiresAt,
        accepted_at: null,
        accepted_by: null,
        revoked_at: null,
      });
      return { id, email, role: input.role, expiresAt, url: invitationUrl(token) };
    },

    async invitations(organizationId: string) {
      const rows = await store.invitations(organizationId);
      const at = iso();
      return rows.map((r) => ({
        id: r.id,
        email: r.email,
        role: r.role,
        invitedBy: r.invited_by,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        acceptedAt: r.accepted_at,
        status: r.revoked_at
          ? ('revoked' as const)
          : r.accepted_at
            ? ('accepted' as const)
            : r.expires_at < at
              ? ('expired' as const)
              : ('pending' as const),
      }));
    },

    async revokeInvitation(actor: UserPrincipal, id: string) {
      if (!(await store.revokeInvitation(actor.organizationId, id, iso()))) throw notFound('open invitation');
    },

    /** What an invitation is for, to whoever holds its link. Says nothing about accounts. */
    async previewInvitation(token: string) {
      const { invitation, organization } = await openInvitation(token);
      return {
        organization: { name: organization.name, slug: organization.slug },
        email: invitation.email,
        role: invitation.role,
        expiresAt: invitation.expires_at,
      };
    },

    /** Accepts as the signed-in person, who must be the invited address: nobody joins another's account. */
    async acceptInvitation(person: UserPrincipal | AccountPrincipal, token: string) {
      if (person.via !== 'session') throw forbidden('accept an invitation from a browser session');
      const { invitation, organization } = await openInvitation(token);
      if (normalizeEmail(person.email) !== invitation.email) {
        throw new ApiError(
          403,
          'wrong_account',
          `this invitation is for ${invitation.email}, but you are signed in as ${person.email}; sign out and sign in as ${invitation.email}`,
        );
      }
      await join(invitation.id, organization.id, person.userId, invitation.role);
      return { invitationId: invitation.id, organizationId: organization.id, role: invitation.role };
    },

    /**
     * Accepts by creating the account the invitation is addressed to: holding the link is the proof
     * of the address. Refused when an account with that address exists (then sign in and accept).
     */
    async registerWithInvitation(input: { token: string; displayName: string; password: string }, client: ClientInfo) {
      const { invitation, organization } = await openInvitation(input.token);
      const problem = passwordProblem(input.password, [invitation.email, input.displayName]);
      if (problem) throw badRequest('weak_password', `password is too weak: ${problem}`, 'password');
      if (await people.findUserByEmail(invitation.email)) {
        throw conflict('account_exists', `an account for ${invitation.email} exists; sign in to it and accept the invitation`);
      }
      const userId = newId('usr');
      const hash = await deps.identity.hashPassword(input.password);
      await people.insertUser({
        id: userId,
        email: invitation.email,
        display_name: input.displayName.trim() || invitation.email,
        password_hash: hash,
        created_at: iso(),
        disabled_at: null,
        operator: 0,
        last_organization_id: null,
        password_changed_at: iso(),
      });
      await join(invitation.id, organization.id, userId, invitation.role);
      const session = await deps.identity.createSession(userId, client, { method: 'invitation', organizationId: organization.id });
      return { userId, organizationId: organization.id, invitationId: invitation.id, session };
    },
  };
}

export type OrganizationService = ReturnType<typeof createOrganizationService>;
