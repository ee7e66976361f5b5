// The shapes the projects routes answer (exported: the web's types are checked against them, test/contract/).
import { Type } from 'typebox';

export const ProjectSchema = Type.Object({
  id: Type.String(),
  organizationId: Type.String(),
  name: Type.String(),
  slug: Type.String(),
  role: Type.Union([Type.Literal('admin'), Type.Literal('owner'), Type.Literal('member')], {
    description: 'What the caller may do: admin (organization admin), owner or member',
  }),
  createdAt: Type.String(),
});
export const MemberSchema = Type.Object({
  userId: Type.String(),
  email: Type.String(),
  displayName: Type.String(),
  role: Type.Union([Type.Literal('owner'), Type.Literal('member')]),
  addedAt: Type.String(),
});
export const Role = Type.Union([Type.Literal('owner'), Type.Literal('member')]);

export const ProjectList = Type.Object({
  projects: Type.Array(ProjectSchema),
  mayCreate: Type.Boolean({ description: "Whether the caller may create projects (the organization's projectCreation setting)" }),
});
export const ProjectMemberList = Type.Object({ members: Type.Array(MemberSchema) });
export const ProjectMemberAdded = Type.Object({ userId: Type.String(), email: Type.String(), role: Role, created: Type.Boolean() });
