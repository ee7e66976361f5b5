// Git pull requests: by id (project level), per repository (get, list, create) and per project (list).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { readCommit } from '../../git/repo.ts';
import type { HostKind } from '../auth.ts';
import { list, orgRoute, params, q, requireProject, type AdoEnv, type OrgContext } from '../context.ts';
import { AdoError, errors } from '../errors.ts';
import { pullRequest } from '../shapes.ts';
import { PullRequestRuleError, WorldError, type PullRequest, type PullRequestStatus } from '../world.ts';
import { PROJECT_PREFIXES, projectFromParams, repoFromParams } from './repositories.ts';

function prId(raw: string | undefined): number {
  if (!raw || !/^\d+$/.test(raw)) throw errors.badRequest(`The pull request id '${raw ?? ''}' is not valid.`);
  return Number(raw);
}

/** PullRequestStatus by name and by its numeric value (git.json: notSet 0, active 1, abandoned 2, completed 3, all 4). */
const STATUSES = ['notset', 'active', 'abandoned', 'completed', 'all'];

/**
 * An enum value as the service reads it from a query string or a body: its name in any case, or its
 * number (Microsoft's SDKs send numbers, e.g. `searchCriteria.status=1`); anything else is refused.
 */
export function enumValue(raw: unknown, names: readonly string[], what: string): string {
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (/^\d+$/.test(text) && Number(text) < names.length) return names[Number(text)]!;
  const lower = text.toLowerCase();
  if (names.includes(lower)) return lower;
  throw errors.badRequest(`'${String(raw)}' is not a valid value for ${what}.`, 'InvalidArgumentValueException');
}

/** GitPullRequestSearchCriteria from the query string; status defaults to active as in the service. */
function filterPullRequests(req: FastifyRequest, prs: PullRequest[]): PullRequest[] {
  const status = enumValue(q(req, 'searchCriteria.status') ?? 'active', STATUSES, 'searchCriteria.status');
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

/** One page of the organization's pull requests that `where` keeps and the search criteria match, without detail. */
function listPage(req: FastifyRequest, reply: FastifyReply, ctx: OrgContext, where: (pr: PullRequest) => boolean) {
  const prs = filterPullRequests(req, ctx.env.world.listPullRequests(ctx.org).filter(where));
  return list(
    reply,
    pageSkipTop(req, prs).map((p) => pullRequest(ctx.env.urls, ctx.env.world, ctx.org, p, false)),
  );
}

export function pageSkipTop<T>(req: FastifyRequest, items: T[]): T[] {
  const rawSkip = q(req, '$skip') ?? '0';
  const top = q(req, '$top');
  if (!/^\d+$/.test(rawSkip) || (top !== undefined && !/^\d+$/.test(top)))
    throw errors.badRequest('$top and $skip must be non-negative integers.', 'InvalidArgumentValueException');
  const skip = Number(rawSkip);
  return items.slice(skip, top !== undefined ? skip + Number(top) : undefined);
}

/**
 * The service's refusals. TF401179 is documented in public reports ("An active pull request for the
 * source and target branch already exists"); the status codes and the other wordings are unconfirmed.
 */
function ruleError(e: PullRequestRuleError): AdoError {
  switch (e.rule) {
    case 'duplicate':
      return new AdoError(
        409,
        'TF401179: An active pull request for the source and target branch already exists.',
        'GitPullRequestExistsException',
      );
    case 'same-branch':
      return new AdoError(
        400,
        `The source and target of a pull request must be different branches (both are ${e.sourceRefName}).`,
        'InvalidArgumentValueException',
      );
    case 'not-active':
      return new AdoError(
        400,
        'TF401181: The pull request is not active: only an active pull request can be completed.',
        'InvalidPullRequestException',
      );
    case 'stale-source':
      return new AdoError(
        409,
        'TF401192: The source branch was updated after the merge was computed: send the current lastMergeSourceCommit.',
        'GitPullRequestStaleException',
      );
    case 'conflicts':
      return new AdoError(
        409,
        'TF401194: The pull request has merge conflicts and cannot be completed.',
        'GitPullRequestCannotBeCompletedException',
      );
  }
}

function reviewerIds(ctx: OrgContext, raw: unknown): string[] {
  if (!Array.isArray(raw)) return [];
  const ids: string[] = [];
  for (const r of raw as Array<Record<string, unknown>>) {
    const id = typeof r?.id === 'string' ? r.id.toLowerCase() : '';
    if (!ctx.env.world.identity(id, ctx.org))
      throw errors.badRequest(`The reviewer '${id}' is not a known identity.`, 'InvalidArgumentValueException');
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

/** The pull request a repository-level URL names; one of another repository is not found there. */
function repositoryPullRequest(ctx: OrgContext, req: FastifyRequest): PullRequest {
  const repo = repoFromParams(ctx, req);
  const pr = requirePullRequest(ctx, prId(params(req).pullRequestId));
  if (pr.repositoryId !== repo.id) throw errors.pullRequestNotFound();
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
        const pr = repositoryPullRequest(ctx, req);
        return detailed(ctx, pr);
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/pullrequests`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        return listPage(req, reply, ctx, (p) => p.repositoryId === repo.id);
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
        if (!source || !target)
          throw errors.badRequest('The pull request needs sourceRefName and targetRefName.', 'InvalidArgumentValueException');
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
          if (e instanceof PullRequestRuleError) throw ruleError(e);
          if (e instanceof WorldError) {
            throw new AdoError(
              400,
              `TF401398: The pull request cannot be activated because the source and/or the target branch no longer exists, or the requested refs are not branches (${e.message}).`,
              'GitPullRequestCannotBeActivated',
            );
          }
          throw e;
        }
      }),
    );
  }

  for (const prefix of PROJECT_PREFIXES) {
    // Update: complete (merge into the target, as a push), abandon, reactivate, or retitle.
    app.patch(
      `${prefix}/_apis/git/repositories/:repositoryId/pullrequests/:pullRequestId`,
      orgRoute(env, host, { scope: 'vso.code_write' }, async (req, _reply, ctx) => {
        const pr = repositoryPullRequest(ctx, req);
        const body = (req.body ?? {}) as Record<string, unknown>;
        if (typeof body !== 'object' || Array.isArray(body))
          throw errors.badRequest('The body must be a GitPullRequest object.', 'InvalidArgumentValueException');
        const me = ctx.principal.identity.id;
        try {
          if (typeof body.title === 'string') pr.title = body.title;
          if (typeof body.description === 'string') pr.description = body.description;
          if (body.status !== undefined) {
            const status = enumValue(body.status, STATUSES, 'status');
            if (status === 'completed') {
              const last = body.lastMergeSourceCommit as { commitId?: unknown } | undefined;
              if (!last || typeof last.commitId !== 'string') {
                throw errors.badRequest(
                  'Completing a pull request needs lastMergeSourceCommit.commitId (the source commit the merge was computed from).',
                  'InvalidArgumentValueException',
                );
              }
              await ctx.env.world.completePullRequest(ctx.org, pr.id, me, last.commitId);
            } else if (status === 'abandoned' || status === 'active') {
              if (pr.status === 'completed') throw new PullRequestRuleError('not-active', pr.sourceRefName, pr.targetRefName);
              ctx.env.world.setPullRequestStatus(ctx.org.name, pr.id, status as PullRequestStatus, me);
            } else {
              throw errors.badRequest(
                `'${String(body.status)}' is not a status a pull request can be set to.`,
                'InvalidArgumentValueException',
              );
            }
          }
        } catch (e) {
          if (e instanceof PullRequestRuleError) throw ruleError(e);
          throw e;
        }
        return detailed(ctx, pr);
      }),
    );
  }

  app.get(
    '/:org/:project/_apis/git/pullrequests',
    orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
      const project = requireProject(ctx, params(req).project!);
      return listPage(req, reply, ctx, (p) => p.projectId === project.id);
    }),
  );
}
