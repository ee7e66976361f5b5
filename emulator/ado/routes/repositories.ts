// Git REST: repositories, refs, commits and items (git/7.1/git.json), read from the real bare
// repositories. Every route exists at organization level and under a project, as in the service.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { listRefs, readCommit, readCommits, readItem, repositorySize, resolveCommit } from '../../git/repo.ts';
import type { HostKind } from '../auth.ts';
import { list, orgRoute, page, params, q, requireProject, requireRepository, type AdoEnv, type OrgContext } from '../context.ts';
import { errors } from '../errors.ts';
import { gitCommit, gitCommitRef, gitItem, gitRef, gitRepository, identityRef } from '../shapes.ts';
import type { Project, Repository } from '../world.ts';

export const PROJECT_PREFIXES = ['/:org', '/:org/:project'] as const;

export function projectFromParams(ctx: OrgContext, req: FastifyRequest): Project | null {
  const p = params(req).project;
  return p ? requireProject(ctx, p) : null;
}

export function repoFromParams(ctx: OrgContext, req: FastifyRequest): Repository {
  return requireRepository(ctx, projectFromParams(ctx, req), params(req).repositoryId!);
}

type VersionType = 'branch' | 'tag' | 'commit';

/** Resolves a GitVersionDescriptor; throws the service's TF401175 when it names nothing. */
export async function resolveVersion(
  ctx: OrgContext,
  repo: Repository,
  version: string | undefined,
  versionType: string | undefined,
): Promise<{ sha: string; descriptor: string; version?: string; type: VersionType }> {
  const type = (versionType ?? 'branch').toLowerCase() as VersionType;
  if (!['branch', 'tag', 'commit'].includes(type)) throw errors.badRequest(`'${versionType}' is not a valid versionType.`);
  if (!version) {
    const def = ctx.env.world.defaultBranch(repo);
    const sha = def ? await resolveCommit(repo.gitDir, def) : null;
    if (!def || !sha) throw errors.unresolvableVersion('<Branch: (default) >', repo.name);
    return { sha, descriptor: `<Branch: ${def.replace(/^refs\/heads\//, '')} >`, type: 'branch' };
  }
  const label = type === 'branch' ? 'Branch' : type === 'tag' ? 'Tag' : 'Commit';
  const descriptor = `<${label}: ${version} >`;
  let rev: string;
  if (type === 'commit') {
    if (!/^[0-9a-f]{4,40}$/i.test(version)) throw errors.unresolvableVersion(descriptor, repo.name);
    rev = version;
  } else {
    rev = `refs/${type === 'branch' ? 'heads' : 'tags'}/${version.replace(/^refs\/(heads|tags)\//, '')}`;
  }
  const sha = await resolveCommit(repo.gitDir, rev);
  if (!sha) throw errors.unresolvableVersion(descriptor, repo.name);
  return { sha, descriptor, version, type };
}

function bool(v: string | undefined): boolean {
  return (v ?? '').toLowerCase() === 'true';
}

export function registerRepositoryRoutes(app: FastifyInstance, env: AdoEnv, host: HostKind): void {
  for (const prefix of PROJECT_PREFIXES) {
    app.get(
      `${prefix}/_apis/git/repositories`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
        const project = projectFromParams(ctx, req);
        const repos = ctx.env.world.listRepositories(ctx.org, project ?? undefined);
        const withLinks = bool(q(req, 'includeLinks'));
        return list(
          reply,
          repos.map((r) => ({ ...gitRepository(ctx.env.urls, ctx.env.world, ctx.org, r, withLinks), size: repositorySize(r.gitDir) })),
        );
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, _reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        return { ...gitRepository(ctx.env.urls, ctx.env.world, ctx.org, repo, true), size: repositorySize(repo.gitDir) };
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/refs`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => refsHandler(req, reply, ctx)),
    );
    // `refs/{*filter}`: the filter may also come as a path suffix (route template of location 2d874a60).
    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/refs/*`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => refsHandler(req, reply, ctx, params(req)['*'])),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/commits/:commitId`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, _reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        const id = params(req).commitId!;
        const commit = /^[0-9a-f]{4,40}$/i.test(id) ? await readCommit(repo.gitDir, id) : null;
        if (!commit) throw errors.commitNotFound(id, repo.name);
        const creator = repo.createdBy ? identityRef(ctx.env.urls, ctx.org, ctx.env.world.identity(repo.createdBy, ctx.org)) : undefined;
        return gitCommit(ctx.env.urls, ctx.env.world, ctx.org, repo, commit, creator);
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/commits`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        const version = q(req, 'searchCriteria.itemVersion.version');
        const versionType = q(req, 'searchCriteria.itemVersion.versionType');
        let from: string;
        try {
          from = (await resolveVersion(ctx, repo, version, versionType)).sha;
        } catch (e) {
          // An empty repository lists no commits rather than failing.
          if (!version && !ctx.env.world.defaultBranch(repo)) return list(reply, []);
          throw e;
        }
        const top = Number(q(req, 'searchCriteria.$top') ?? q(req, '$top') ?? 100);
        const skip = Number(q(req, 'searchCriteria.$skip') ?? q(req, '$skip') ?? 0);
        if (!Number.isInteger(top) || top < 0 || !Number.isInteger(skip) || skip < 0) {
          throw errors.badRequest('searchCriteria.$top and searchCriteria.$skip must be non-negative integers.');
        }
        const commits = await readCommits(repo.gitDir, from, { skip, top });
        return list(reply, commits.map((c) => gitCommitRef(ctx.env.urls, ctx.env.world, ctx.org, repo, c)));
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/items`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => itemsHandler(req, reply, ctx)),
    );
  }
}

async function refsHandler(req: FastifyRequest, reply: FastifyReply, ctx: OrgContext, pathFilter?: string): Promise<unknown> {
  const repo = repoFromParams(ctx, req);
  const filter = (q(req, 'filter') ?? pathFilter ?? '').replace(/^refs\//, '');
  const contains = q(req, 'filterContains');
  const peel = bool(q(req, 'peelTags'));
  const all = await listRefs(repo.gitDir);
  // Pull-request merge refs stay out of unfiltered listings (asked for explicitly with filter=pull/).
  const refs = all
    .filter((r) => r.name.startsWith('refs/'))
    .filter((r) => {
      const short = r.name.slice('refs/'.length);
      if (filter) return short.startsWith(filter);
      return !short.startsWith('pull/');
    })
    .filter((r) => !contains || r.name.toLowerCase().includes(contains.toLowerCase()))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const { items, next } = page(refs, q(req, '$top'), q(req, 'continuationToken'), `refs:${repo.id}:${filter}:${contains ?? ''}`);
  const creator = repo.createdBy ? identityRef(ctx.env.urls, ctx.org, ctx.env.world.identity(repo.createdBy, ctx.org)) : undefined;
  return list(reply, items.map((r) => gitRef(ctx.env.urls, ctx.org, repo, r, creator, peel)), next);
}

/**
 * GET .../items?path= returns JSON when asked (`$format=json` or an Accept of application/json, which
 * the SDKs send) and the raw file otherwise; `scopePath` without `path` is the list form (Items_List)
 * with recursion level none.
 */
async function itemsHandler(req: FastifyRequest, reply: FastifyReply, ctx: OrgContext): Promise<unknown> {
  const repo = repoFromParams(ctx, req);
  const path = q(req, 'path');
  const scopePath = q(req, 'scopePath');
  const itemPath = path ?? scopePath ?? '/';
  const normalized = '/' + itemPath.replace(/^\/+/, '');
  const includeContent = bool(q(req, 'includeContent'));
  // The item URLs the service hands out use the short `version`/`versionType` names.
  const version = q(req, 'versionDescriptor.version') ?? q(req, 'version');
  const versionType = q(req, 'versionDescriptor.versionType') ?? q(req, 'versionType');
  const resolved = await resolveVersion(ctx, repo, version, versionType);
  const format = (q(req, '$format') ?? '').toLowerCase();
  const accept = (req.headers.accept ?? '').toLowerCase();
  const wantsJson = format === 'json' || (format !== 'octetstream' && format !== 'text' && accept.includes('application/json'));
  const item = await readItem(repo.gitDir, resolved.sha, normalized, includeContent || !wantsJson);
  if (!item) throw errors.itemNotFound(normalized, repo.name, resolved.descriptor, resolved.sha);
  if (!wantsJson) {
    if (item.type !== 'blob') throw errors.badRequest(`TF401181: The item ${normalized} is a folder; request it as JSON or zip.`, 'GitItemIsFolderException');
    const name = normalized.split('/').pop() ?? 'file';
    reply.header('Content-Type', 'application/octet-stream');
    if (bool(q(req, 'download'))) reply.header('Content-Disposition', `attachment; filename=${name}; filename*=utf-8''${encodeURIComponent(name)}`);
    return reply.send(item.content ?? Buffer.alloc(0));
  }
  const json = gitItem(ctx.env.urls, ctx.org, repo, {
    path: normalized,
    objectId: item.objectId,
    type: item.type,
    commitId: resolved.sha,
    ...(includeContent && item.content ? { content: item.content.toString('utf8') } : {}),
    ...(resolved.version ? { version: resolved.version, versionType: resolved.type } : {}),
  });
  if (bool(q(req, 'includeContentMetadata')) && item.type === 'blob') {
    const name = normalized.split('/').pop() ?? '';
    const dot = name.lastIndexOf('.');
    json.contentMetadata = { encoding: 65001, contentType: 'rawtext', fileName: name, ...(dot > 0 ? { extension: name.slice(dot) } : {}) };
  }
  if (path === undefined && scopePath !== undefined) return list(reply, [json]);
  return json;
}
