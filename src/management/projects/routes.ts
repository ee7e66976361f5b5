import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { asUser } from '../identity/principal.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import type { ProjectService } from './service.ts';
import { ProjectList, ProjectMemberAdded, ProjectMemberList, ProjectSchema, Role } from './schema.ts';

const Errors = errorResponses(400, 401, 403, 404, 409);

const Params = Type.Object({ id: Type.String({ maxLength: 100 }) });

export async function projectRoutes(
  root: FastifyInstance,
  deps: { projects: ProjectService; audit: Pick<AuditLog, 'record'>; mayCreate: (user: UserPrincipal) => Promise<boolean> },
): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { projects } = deps;
  const audit = createRouteAudit(deps.audit);
  const routeSchema = routeSchemas('projects', Errors);

  app.get(
    '/api/v1/projects',
    {
      schema: routeSchema('Projects the caller is a member of (an organization admin sees every project of the organization)', {
        response: { 200: ProjectList },
      }),
    },
    async (request) => {
      const user = asUser(request);
      const [list, mayCreate] = await Promise.all([projects.list(user), deps.mayCreate(user)]);
      return { projects: list, mayCreate };
    },
  );

  app.post(
    '/api/v1/projects',
    {
      schema: routeSchema(
        "Create a project; the creator becomes its owner (organization admins, or every member when the organization's projectCreation setting is members)",
        {
          body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 80 }) }, { additionalProperties: false }),
          response: { 201: ProjectSchema },
        },
      ),
    },
    async (request, reply) => {
      const user = asUser(request);
      if (!(await deps.mayCreate(user)))
        await audit.deny(
          request,
          'only organization admins may create projects here; an admin can let members create them (organization settings)',
        );
      const project = await audit.run(
        request,
        { action: 'project.create' },
        () => projects.create(user, request.body),
        (created) => ({ target: { type: 'project', id: created.id }, details: { name: created.name } }),
      );
      return reply.code(201).send(project);
    },
  );

  app.get(
    '/api/v1/projects/:id',
    {
      schema: routeSchema('One project (members and organization admins)', { params: Params, response: { 200: ProjectSchema } }),
    },
    async (request) => {
      const found = await projects.require(asUser(request), request.params.id);
      return projects.view(found.project, found.role);
    },
  );

  app.get(
    '/api/v1/projects/:id/members',
    {
      schema: routeSchema("A project's members", { params: Params, response: { 200: ProjectMemberList } }),
    },
    async (request) => ({
      members: await projects.members(asUser(request), request.params.id),
    }),
  );

  app.post(
    '/api/v1/projects/:id/members',
    {
      schema: routeSchema(
        'Add a member of the organization to the project, or change their role (project owners and organization admins)',
        {
          params: Params,
          body: Type.Object(
            { userId: Type.Optional(Type.String({ maxLength: 100 })), email: Type.Optional(Type.String({ maxLength: 320 })), role: Role },
            { additionalProperties: false },
          ),
          response: { 200: ProjectMemberAdded },
        },
      ),
    },
    async (request) => {
      const user = asUser(request);
      const { id } = request.params;
      return audit.run(
        request,
        { action: 'project.member.set', target: { type: 'project', id } },
        () => projects.setMember(user, id, request.body),
        (result) => ({ details: { userId: result.userId, role: result.role } }),
      );
    },
  );

  app.delete(
    '/api/v1/projects/:id/members/:userId',
    {
      schema: routeSchema('Remove a member from the project (project owners and organization admins)', {
        params: Type.Object({ id: Type.String({ maxLength: 100 }), userId: Type.String({ maxLength: 100 }) }),
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      const user = asUser(request);
      const { id, userId } = request.params;
      await audit.run(request, { action: 'project.member.remove', target: { type: 'project', id }, details: { userId } }, () =>
        projects.removeMember(user, id, userId),
      );
      return reply.code(204).send(null);
    },
  );
}
