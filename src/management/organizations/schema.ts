// The shapes the organization routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';
import { RoleSchema } from '../identity/schema.ts';
import { Nullable } from '../../control/schema.ts';

export const Source = Type.Union([
  Type.Literal('direct'),
  Type.Literal('invitation'),
  Type.Literal('sso'),
  Type.Literal('bootstrap'),
  Type.Literal('operator'),
]);
export const Member = Type.Object({
  id: Type.String(),
  email: Type.String(),
  displayName: Type.String(),
  role: RoleSchema,
  createdAt: Type.String(),
  joinedAt: Type.String(),
  source: Source,
  disabled: Type.Boolean(),
});
export const Policy = Type.Object({
  passwordSignIn: Type.Boolean({
    description: 'Whether members may sign in with a password; off means single sign-on only (operators keep sign-in links)',
  }),
  projectCreation: Type.Union([Type.Literal('admins'), Type.Literal('members')], { description: 'Who may create projects' }),
  ssoRoleClaim: Nullable(
    Type.Union([Type.Literal('groups'), Type.Literal('roles')], { description: 'Which ID token claim maps to roles at each sign-in' }),
  ),
  ssoAdminValues: Type.Array(Type.String({ maxLength: 200 }), {
    maxItems: 50,
    description: 'Group object ids or app role values that make an admin',
  }),
  ssoMemberValues: Type.Array(Type.String({ maxLength: 200 }), {
    maxItems: 50,
    description: 'Values that admit a member; empty admits everyone the binding lets in',
  }),
});
export const Binding = Type.Object({
  id: Type.String(),
  kind: Type.Union([Type.Literal('entra-tenant'), Type.Literal('email-domain')]),
  value: Type.String(),
  createdAt: Type.String(),
});
export const Invitation = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  invitedBy: Nullable(Type.String()),
  createdAt: Type.String(),
  expiresAt: Type.String(),
  acceptedAt: Nullable(Type.String()),
  status: Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('expired'), Type.Literal('revoked')]),
});

export const CreatedOrganization = Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String() });
export const OrganizationList = Type.Object({
  organizations: Type.Array(Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String(), createdAt: Type.String() })),
});
export const PolicySaved = Type.Object({ policy: Policy, endedSessions: Type.Integer() });
export const OrganizationSso = Type.Object({
  bindings: Type.Array(Binding),
  providers: Type.Object({ entra: Type.Boolean(), oidc: Type.Boolean() }),
  redirectUri: Type.String(),
  yourTenantId: Nullable(Type.String()),
  yourVerifiedEmail: Nullable(Type.String()),
});
export const CreatedBinding = Type.Object({ id: Type.String(), kind: Type.String(), value: Type.String() });
export const MemberList = Type.Object({ members: Type.Array(Member) });
export const MemberRemoved = Type.Object({
  runners: Type.Integer({ description: 'Runners asked to delete the credentials' }),
  environments: Type.Integer(),
});
export const OrganizationLeft = Type.Object({ runners: Type.Integer(), environments: Type.Integer() });
export const UserList = Type.Object({
  users: Type.Array(
    Type.Object({
      id: Type.String(),
      email: Type.String(),
      displayName: Type.String(),
      operator: Type.Boolean(),
      disabled: Type.Boolean(),
      createdAt: Type.String(),
    }),
  ),
});
export const UserDisabled = Type.Object({ organizations: Type.Integer(), runners: Type.Integer() });
export const InvitationList = Type.Object({ invitations: Type.Array(Invitation) });
export const CreatedInvitation = Type.Object({
  id: Type.String(),
  email: Type.String(),
  role: RoleSchema,
  expiresAt: Type.String(),
  url: Type.String({ description: 'Shown once: the invitation link, with its token in the fragment' }),
});
export const InvitationPreview = Type.Object({
  organization: Type.Object({ name: Type.String(), slug: Type.String() }),
  email: Type.String(),
  role: RoleSchema,
  expiresAt: Type.String(),
});
export const InvitationAccepted = Type.Object({
  organizationId: Type.String(),
  role: RoleSchema,
  switched: Type.Boolean({ description: 'False when this session cannot enter the organization (it requires single sign-on)' }),
});
export const Registered = Type.Object({ csrfToken: Type.String(), organizationChoiceRequired: Type.Boolean() });
