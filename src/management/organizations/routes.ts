import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { clientInfo } from '../identity/client-info.ts';
import { setSessionCookie } from '../identity/cookies.ts';
import { asPerson, asUser } from '../identity/principal.ts';
import { RoleSchema } from '../identity/schema.ts';
import type { IdentityService } from '../identity/service.ts';
import type { SsoStore } from '../sso/store.ts';
import { INVITATION_DAYS } from './service.ts';
import type { OrganizationService } from './service.ts';
import {
  CreatedBinding,
  CreatedInvitation,
  CreatedOrganization,
  InvitationAccepted,
  InvitationList,
  InvitationPreview,
  MemberList,
  MemberRemoved,
  OrganizationLeft,
  OrganizationList,
  OrganizationSso,
  Policy,
  PolicySaved,
  Registered,
  UserDisabled,
  UserList,
} from './schema.ts';

export interface OrganizationRouteDeps {
  organizations: OrganizationService;
  identity: IdentityService;
  ssoStore: Pick<SsoStore, 'findIdentityById'>;
  audit: Pick<AuditLog, 'record'>;
  secureCookies: boolean;
  ssoCallbackUrl: () => string;
  ssoConfigured: () => { entra: boolean; oidc: boolean };
}

const Errors = errorResponses(400, 401, 403, 404, 409, 410, 429);
const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });
const UserParams = Type.Object({ userId: Type.String({ maxLength: 100 }) });

export async function organizationRoutes(root: FastifyInstance, deps: OrganizationRouteDeps): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { organizations, identity } = deps;
  const audit = createRouteAudit(deps.audit);
  const routeSchema = routeSchemas('organizations', Errors);

  // ---- organizations ----

  app.post(
    '/api/v1/organizations',
    {
      config: { auth: 'account' },
      schema: routeSchema('Create an organization; you become its admin (instance operators, unless KEYWAY_ORGANIZATION_CREATION=users)', {
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 201: CreatedOrganization },
      }),
    },
    async (request, reply) => {
      const person = asPerson(request);
      if (!identity.mayCreateOrganizations(person.operator ? { operator: 1 } : { operator: 0 }))
        await audit.deny(request, 'only instance operators may create organizations on this Keyway');
      // Success is recorded in the new organization; a failure in none (there is none yet).
      const created = await audit.run(
        request,
        { action: 'organization.create', organizationId: null },
        () => identity.createOrganization(request.body.name, person.userId),
        (org) => ({ organizationId: org.id, target: { type: 'organization', id: org.id }, details: { name: org.name } }),
      );
      return reply.code(201).send(created);
    },
  );

  app.get(
    '/api/v1/organizations',
    {
      config: { auth: 'operator' },
      schema: routeSchema('Every organization on this instance (instance operators)', { response: { 200: OrganizationList } }),
    },
    async () => ({
      organizations: (await organizations.listOrganizations()).map((o) => ({
        id: o.id,
        slug: o.slug,
        name: o.name,
        createdAt: o.created_at,
      })),
    }),
  );

  app.get(
    '/api/v1/organization/settings',
    {
      config: { auth: 'admin' },
      schema: routeSchema("The current organization's sign-in and project policy (admin)", { response: { 200: Policy } }),
    },
    async (request) => organizations.policy(asUser(request).organizationId),
  );

  app.put(
    '/api/v1/organization/settings',
    {
      config: { auth: 'admin' },
      schema: routeSchema(
        'Change the sign-in and project policy (admin). Switching password sign-in off needs single sign-on set up and proven by your own session, and ends password sessions in the organization.',
        { body: Type.Partial(Policy, { additionalProperties: false }), response: { 200: PolicySaved } },
      ),
    },
    async (request) => {
      const actor = asUser(request);
      const before = await organizations.policy(actor.organizationId);
      return audit.run(
        request,
        { action: 'organization.settings_change', target: { type: 'organization', id: actor.organizationId }, details: { before } },
        () => organizations.updatePolicy(actor, request.body),
        (result) => ({ details: { after: result.policy, endedSessions: result.endedSessions } }),
      );
    },
  );

  app.get(
    '/api/v1/organization/sso',
    {
      config: { auth: 'admin' },
      schema: routeSchema(
        'Single sign-on for the current organization: bound tenants and domains, the providers this instance offers and the redirect URI to register (admin)',
        { response: { 200: OrganizationSso } },
      ),
    },
    async (request) => {
      const actor = asUser(request);
      const proof = await sessionProof(actor.ssoIdentityId);
      const bindings = await organizations.bindings(actor.organizationId);
      return {
        bindings: bindings.map((b) => ({ id: b.id, kind: b.kind, value: b.value, createdAt: b.created_at })),
        providers: deps.ssoConfigured(),
        redirectUri: deps.ssoCallbackUrl(),
        yourTenantId: proof.tenantId ?? null,
        yourVerifiedEmail: proof.verifiedEmail ?? null,
      };
    },
  );

  async function sessionProof(ssoIdentityId: string | undefined): Promise<{ tenantId?: string; verifiedEmail?: string }> {
    if (!ssoIdentityId) return {};
    const row = await deps.ssoStore.findIdentityById(ssoIdentityId);
    if (!row) return {};
    return row.provider === 'entra' ? { tenantId: row.tenant_id ?? undefined } : { verifiedEmail: row.email ?? undefined };
  }

  app.post(
    '/api/v1/organization/sso/bindings',
    {
      config: { auth: 'admin' },
      schema: routeSchema(
        'Bind an Entra tenant or an email domain: people who sign in through it join just in time (admin; proven by your own single sign-on through it, or by an instance operator)',
        {
          body: Type.Object(
            {
              kind: Type.Union([Type.Literal('entra-tenant'), Type.Literal('email-domain')]),
              value: Type.String({ minLength: 1, maxLength: 253 }),
            },
            { additionalProperties: false },
          ),
          response: { 201: CreatedBinding },
        },
      ),
    },
    async (request, reply) => {
      const actor = asUser(request);
      const created = await audit.run(
        request,
        { action: 'organization.sso_bind', details: { kind: request.body.kind, value: request.body.value.slice(0, 253) } },
        async () => organizations.addBinding(actor, request.body, await sessionProof(actor.ssoIdentityId)),
        (binding) => ({ target: { type: 'sso_binding', id: binding.id }, details: { kind: binding.kind, value: binding.value } }),
      );
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/api/v1/organization/sso/bindings/:id',
    {
      config: { auth: 'admin' },
      schema: routeSchema('Remove a binding; members stay, nobody new joins through it (admin)', {
        params: IdParams,
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      const actor = asUser(request);
      await audit.run(request, { action: 'organization.sso_unbind', target: { type: 'sso_binding', id: request.params.id } }, () =>
        organizations.removeBinding(actor, request.params.id),
      );
      return reply.code(204).send(null);
    },
  );

  // ---- members ----

  app.get(
    '/api/v1/members',
    {
      schema: routeSchema('Members of the current organization', { response: { 200: MemberList } }),
    },
    async (request) => {
      const rows = await identity.members(asUser(request).organizationId);
      return {
        members: rows.map((r) => ({
          id: r.id,
          email: r.email,
          displayName: r.display_name,
          role: r.role,
          createdAt: r.created_at,
          joinedAt: r.joined_at,
          source: r.source,
          disabled: r.disabled_at !== null,
        })),
      };
    },
  );

  app.put(
    '/api/v1/members/:userId/role',
    {
      config: { auth: 'admin' },
      schema: routeSchema("Change a member's role (admin); the last admin cannot be demoted", {
        params: UserParams,
        body: Type.Object({ role: RoleSchema }, { additionalProperties: false }),
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      const actor = asUser(request);
      await audit.run(
        request,
        { action: 'member.role_change', target: { type: 'user', id: request.params.userId }, details: { role: request.body.role } },
        () => organizations.setRole(actor, request.params.userId, request.body.role),
      );
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/api/v1/members/:userId',
    {
      config: { auth: 'admin' },
      schema: routeSchema(
        'Remove a member (admin): their sessions and API tokens in this organization end at once and every runner of the organization deletes their credentials; the last admin cannot be removed',
        { params: UserParams, response: { 200: MemberRemoved } },
      ),
    },
    async (request) => {
      const actor = asUser(request);
      return audit.run(
        request,
        { action: 'member.remove', target: { type: 'user', id: request.params.userId } },
        () => organizations.removeMember(actor, request.params.userId),
        (result) => ({ details: result }),
      );
    },
  );

  app.delete(
    '/api/v1/me/organizations/:organizationId',
    {
      config: { auth: 'account' },
      schema: routeSchema(
        'Leave an organization (browser sessions): your sessions and tokens there end and its runners delete your credentials; its last admin cannot leave',
        { params: Type.Object({ organizationId: Type.String({ maxLength: 100 }) }), response: { 200: OrganizationLeft } },
      ),
    },
    async (request) => {
      const person = asPerson(request);
      const result = await organizations.leave(person, request.params.organizationId);
      // Recorded in the organization left, which the request names: through the route helper a failed
      // attempt would land in that organization's log too, one the person may not belong to.
      await audit.record(request, {
        organizationId: request.params.organizationId,
        action: 'member.leave',
        target: { type: 'user', id: person.userId },
        outcome: 'success',
        details: result,
      });
      return result;
    },
  );

  // ---- accounts (instance operators) ----

  app.get(
    '/api/v1/users',
    {
      config: { auth: 'operator' },
      schema: routeSchema('Every account on this instance (instance operators)', { response: { 200: UserList } }),
    },
    async () => ({
      users: (await identity.store.listUsers()).map((u) => ({
        id: u.id,
        email: u.email,
        displayName: u.display_name,
        operator: u.operator === 1,
        disabled: u.disabled_at !== null,
        createdAt: u.created_at,
      })),
    }),
  );

  app.put(
    '/api/v1/users/:userId/disabled',
    {
      config: { auth: 'operator' },
      schema: routeSchema(
        'Disable or re-enable an account (instance operators): a disabled account cannot sign in, its sessions and tokens end, and every runner of its organizations deletes its credentials',
        {
          params: UserParams,
          body: Type.Object({ disabled: Type.Boolean() }, { additionalProperties: false }),
          response: { 200: UserDisabled },
        },
      ),
    },
    async (request) => {
      const operator = asPerson(request);
      return audit.run(
        request,
        {
          organizationId: null,
          action: request.body.disabled ? 'user.disable' : 'user.enable',
          target: { type: 'user', id: request.params.userId },
        },
        () => organizations.setDisabled(operator, request.params.userId, request.body.disabled),
        (result) => ({ details: result }),
      );
    },
  );

  // ---- invitations ----

  app.get(
    '/api/v1/invitations',
    {
      config: { auth: 'admin' },
      schema: routeSchema("The organization's invitations (admin)", { response: { 200: InvitationList } }),
    },
    async (request) => ({ invitations: await organizations.invitations(asUser(request).organizationId) }),
  );

  app.post(
    '/api/v1/invitations',
    {
      config: { auth: 'admin' },
      schema: routeSchema(
        `Invite someone by email (admin): answers a single-use link, valid ${INVITATION_DAYS} days, to send them; the person accepts it signed in as that address. The answer is the same whether or not the address has an account.`,
        {
          body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 320 }), role: RoleSchema }, { additionalProperties: false }),
          response: { 201: CreatedInvitation },
        },
      ),
    },
    async (request, reply) => {
      const actor = asUser(request);
      const created = await audit.run(
        request,
        { action: 'invitation.create' },
        () => organizations.invite(actor, request.body),
        (invitation) => ({
          target: { type: 'invitation', id: invitation.id },
          details: { email: invitation.email, role: invitation.role },
        }),
      );
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/api/v1/invitations/:id',
    {
      config: { auth: 'admin' },
      schema: routeSchema('Revoke an open invitation (admin)', { params: IdParams, response: { 204: Type.Null() } }),
    },
    async (request, reply) => {
      const actor = asUser(request);
      await audit.run(request, { action: 'invitation.revoke', target: { type: 'invitation', id: request.params.id } }, () =>
        organizations.revokeInvitation(actor, request.params.id),
      );
      return reply.code(204).send(null);
    },
  );

  const TokenBody = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false });

  app.post(
    '/api/v1/invitations/preview',
    {
      config: { auth: 'public', rateLimit: { max: 60, timeWindow: '1 minute' } },
      schema: routeSchema('What an invitation link is for: the organization, the invited address and role', {
        body: TokenBody,
        response: { 200: InvitationPreview },
      }),
    },
    async (request) => organizations.previewInvitation(request.body.token),
  );

  app.post(
    '/api/v1/invitations/accept',
    {
      config: { auth: 'account' },
      schema: routeSchema(
        'Accept an invitation as the signed-in person (browser sessions; the account must be the invited address); the session moves into the organization',
        { body: TokenBody, response: { 200: InvitationAccepted } },
      ),
    },
    async (request) => {
      const person = asPerson(request);
      // Success is recorded in the organization the invitation was for, which only the result
      // knows; a failure in none (the person may not belong to any).
      const accepted = await audit.run(
        request,
        { action: 'invitation.accept', organizationId: null },
        () => organizations.acceptInvitation(person, request.body.token),
        (a) => ({ organizationId: a.organizationId, target: { type: 'invitation', id: a.invitationId }, details: { role: a.role } }),
      );
      // Moving the session in may be refused (the organization requires single sign-on): the
      // membership stands either way, and the person enters with the right sign-in.
      const switched = await identity.switchOrganization(person, accepted.organizationId).then(
        () => true,
        () => false,
      );
      return { organizationId: accepted.organizationId, role: accepted.role, switched };
    },
  );

  app.post(
    '/api/v1/invitations/register',
    {
      // Creates accounts: a tight budget per address.
      config: { auth: 'public', rateLimit: { max: 10, timeWindow: '1 minute' } },
      schema: routeSchema(
        'Accept an invitation by creating the invited account (when that address has none): sets its password and signs in',
        {
          body: Type.Object(
            {
              token: Type.String({ minLength: 1, maxLength: 200 }),
              displayName: Type.String({ minLength: 1, maxLength: 200 }),
              password: Type.String({ minLength: 1, maxLength: 1024 }),
            },
            { additionalProperties: false },
          ),
          response: { 200: Registered },
        },
      ),
    },
    async (request, reply) => {
      // Success is recorded in the organization the invitation was for, which only the result knows;
      // a failure (a spent or unknown token, an address that has an account) in none.
      const created = await audit.run(
        request,
        { action: 'invitation.accept', actor: { kind: 'anonymous', label: 'invitation' }, organizationId: null },
        () => organizations.registerWithInvitation(request.body, clientInfo(request)),
        (c) => ({
          organizationId: c.organizationId,
          target: { type: 'invitation', id: c.invitationId },
          details: { userId: c.userId, newAccount: true },
        }),
      );
      setSessionCookie(reply, created.session, deps.secureCookies);
      return { csrfToken: created.session.csrfToken, organizationChoiceRequired: false };
    },
  );
}
