// Git pull requests: by id (project level), per repository (get, list, create) and per project (list).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { readCommit } from '../../git/repo.ts';
import type { HostKind } from '../auth.ts';
import { list, orgRoute, params, q, requireProject, type AdoEnv, type OrgContext } from '../context.ts';
import { AdoError, errors } from '../errors.ts';
import { pullRequest } from '../shapes.ts';
import { WorldError, type PullRequest } from '../world.ts';
import { PROJECT_PREFIXES, projectFromParams, repoFromParams } from './repositories.ts';

function prId(raw: string | undefined): number {
  if (!raw || !/^\d+$/.test(raw)) throw errors.badRequest(`The pull request id '${raw ?? ''}' is not valid.`);
  return Number(raw);
}

const STATUSES = ['notset', 'active', 'abandoned', 'completed', 'all'];

/** GitPullRequestSearchCriteria from the query string; status defaults to active as in the service. */
function filterPullRequests(req: FastifyRequest, prs: PullRequest[]): PullRequest[] {
  const status = (q(req, 'searchCriteria.status') ?? 'active').toLowerCase();
  if (!STATUSES.includes(status)) throw errors.badRequest(`'${q(req, 'searchCriteria.status')}' is not a valid pull request status.`);
  const source = q(req, 'searchCriteria.sourceRefName');
  const target = q(req, 'searchCriteria.targetRefName');
  const creator = q(req, 'searchCriteria.creatorId')?.toLowerCase();
  const repoId = q(req, 'searchCriteria.repositoryId')?.toLowerCase();
  return prs.filter(
    (pr) =>
      (status === 'all' || pr.status === status) &&
      (!source || pr.sourceRefName.toLowerCase() === source.toLowerCase()) &&
      (!target || pr.targetRefName.toLowerCase() === target.toLowerCase()) &&
      (!creator || pr.createdBy === creator) &&
      (!repoId || pr.repositoryId === repoId),
  );
}

function pageSkipTop<T>(req: FastifyRequest, items: T[]): T[] {
  const skip = Number(q(req, '$skip') ?? 0) || 0;
  const top = q(req, '$top');
  return items.slice(skip, top && /^\d+$/.test(top) ? skip + Number(top) : undefined);
}

function reviewerIds(ctx: OrgContext, raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  const ids: string[] = [];
  for (const r of raw as Array<Record<string, unknown>>) {
    const id = typeof r?.id === 'string' ? r.id.toLowerCase() : '';
    if (!ctx.env.world.identity(id, ctx.org)) throw errors.badRequest(`The reviewer '${id}' is not a known identity.`, 'InvalidArgumentValueException');
    ids.push(id);
  }
  return ids;
}

async function detailed(ctx: OrgContext, pr: PullRequest): Promise<unknown> {
  const repo = ctx.env.world.repositoryById(pr.repositoryId)!;
  const merge = pr.lastMergeCommit ? await readCommit(repo.gitDir, pr.lastMergeCommit) : null;
  return pullRequest(ctx.env.urls, ctx.env.world, ctx.org, pr, true, merge ?? undefined);
}

function requirePullRequest(ctx: OrgContext, id: number): PullRequest {
  const pr = ctx.env.world.pullRequest(ctx.org, id);
  if (!pr) throw errors.pullRequestNotFound();
  return pr;
}

export function registerPullRequestRoutes(app: FastifyInstance, env: AdoEnv, host: HostKind): void {
  for (const prefix of PROJECT_PREFIXES) {
    // GET {project}/_apis/git/pullrequests/{id}: the id is unique in the organization.
    app.get(
      `${prefix}/_apis/git/pullrequests/:pullRequestId`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, _reply, ctx) => {
        const project = projectFromParams(ctx, req);
        const pr = requirePullRequest(ctx, prId(params(req).pullRequestId));
        if (project && pr.projectId !== project.id) throw errors.pullRequestNotFound();
        return detailed(ctx, pr);
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/pullrequests/:pullRequestId`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, _reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        const pr = requirePullRequest(ctx, prId(params(req).pullRequestId));
        if (pr.repositoryId !== repo.id) throw errors.pullRequestNotFound();
        return detailed(ctx, pr);
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/pullrequests`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        const prs = filterPullRequests(req, ctx.env.world.listPullRequests(ctx.org).filter((p) => p.repositoryId === repo.id));
        return list(reply, pageSkipTop(req, prs).map((p) => pullRequest(ctx.env.urls, ctx.env.world, ctx.org, p, false)));
      }),
    );

    app.post(
      `${prefix}/_apis/git/repositories/:repositoryId/pullrequests`,
      orgRoute(env, host, { scope: 'vso.code_write' }, async (req, reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        const body = (req.body ?? {}) as Record<string, unknown>;
        const str = (k: string): string | undefined => (typeof body[k] === 'string' ? (body[k] as string) : undefined);
        const source = str('sourceRefName');
        const target = str('targetRefName');
        if (!source || !target) throw errors.badRequest('The pull request needs sourceRefName and targetRefName.', 'InvalidArgumentValueException');
        const project = ctx.env.world.projectById(repo.projectId)!;
        try {
          const pr = await ctx.env.world.createPullRequest(ctx.org.name, project.name, repo.name, {
            sourceRefName: source,
            targetRefName: target,
            ...(str('title') !== undefined ? { title: str('title')! } : {}),
            ...(str('description') !== undefined ? { description: str('description')! } : {}),
            isDraft: body.isDraft === true,
            createdBy: ctx.principal.identity.id,
            reviewers: reviewerIds(ctx, body.reviewers),
          });
          // 201 Created, as in POST__git_repositories__repositoryId__pullRequests.json. The service
          // merges asynchronously (mergeStatus "queued" at first); the emulator merges at once.
          reply.code(201);
          return detailed(ctx, pr);
        } catch (e) {
          if (e instanceof WorldError) {
            throw new AdoError(400, `TF401398: The pull request cannot be activated because the source and/or the target branch no longer exists, or the requested refs are not branches (${e.message}).`, 'GitPullRequestCannotBeActivated');
          }
          throw e;
        }
      }),
    );
  }

  app.get(
    '/:org/:project/_apis/git/pullrequests',
    orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
      const project = requireProject(ctx, params(req).project!);
      const prs = filterPullRequests(req, ctx.env.world.listPullRequests(ctx.org).filter((p) => p.projectId === project.id));
      return list(reply, pageSkipTop(req, prs).map((p) => pullRequest(ctx.env.urls, ctx.env.world, ctx.org, p, false)));
    }),
  );
}
