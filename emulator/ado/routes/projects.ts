// Core: GET /{org}/_apis/projects and /{org}/_apis/projects/{projectId} (core/7.1/core.json).
import type { FastifyInstance } from 'fastify';
import type { HostKind } from '../auth.ts';
import { list, orgRoute, page, params, q, requireProject, type AdoEnv } from '../context.ts';
import { errors } from '../errors.ts';
import { projectRef, teamProject } from '../shapes.ts';

export function registerProjectRoutes(app: FastifyInstance, env: AdoEnv, host: HostKind): void {
  app.get(
    '/:org/_apis/projects',
    orgRoute(env, host, { scope: 'vso.project' }, async (req, reply, ctx) => {
      const state = (q(req, 'stateFilter') ?? 'wellFormed').toLowerCase();
      if (!['wellformed', 'all', 'new', 'deleting', 'createpending', 'unchanged', 'deleted'].includes(state)) {
        throw errors.badRequest(`The value '${q(req, 'stateFilter')}' is not valid for stateFilter.`);
      }
      let projects = ctx.env.world.listProjects(ctx.org);
      if (state !== 'all' && state !== 'wellformed' && state !== 'unchanged') projects = [];
      // $skip moves the start of a first page; later pages come from the opaque token.
      const rawSkip = q(req, '$skip');
      if (rawSkip !== undefined && !/^\d+$/.test(rawSkip))
        throw errors.badRequest(
          `The value '${rawSkip}' is not valid for $skip: use a non-negative integer.`,
          'InvalidArgumentValueException',
        );
      const { items, next } = page(
        projects,
        q(req, '$top'),
        q(req, 'continuationToken'),
        `projects:${ctx.org.id}:${state}`,
        100,
        Number(rawSkip ?? 0),
      );
      return list(
        reply,
        items.map((p) => projectRef(ctx.env.urls, ctx.org, p)),
        next,
      );
    }),
  );

  app.get(
    '/:org/_apis/projects/:projectId',
    orgRoute(env, host, { scope: 'vso.project' }, async (req, _reply, ctx) => {
      const project = requireProject(ctx, params(req).projectId!);
      return teamProject(ctx.env.urls, ctx.org, project, (q(req, 'includeCapabilities') ?? '').toLowerCase() === 'true');
    }),
  );
}
