// Git REST: repositories, refs, commits and items (git/7.1/git.json), read from the real bare
// repositories. Every route exists at organization level and under a project, as in the service.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  aheadBehind,
  listRefs,
  readCommit,
  readCommits,
  readItem,
  repositorySize,
  resolveCommit,
  type CommitFilter,
} from '../../git/repo.ts';
import type { HostKind } from '../auth.ts';
import { list, orgRoute, page, params, q, requireProject, requireRepository, type AdoEnv, type OrgContext } from '../context.ts';
import { errors } from '../errors.ts';
import { gitCommit, gitCommitRef, gitItem, gitPush, gitRef, gitRepository, identityRef, type Json } from '../shapes.ts';
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
  // By name in any case, or by the GitVersionType number the SDKs send (branch 0, tag 1, commit 2).
  const type = enumName(versionType ?? 'branch', ['branch', 'tag', 'commit'], 'versionType') as VersionType;
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
        const repos = ctx.env.world
          .listRepositories(ctx.org, project ?? undefined)
          .filter((r) => ctx.env.world.canReadRepository(r, ctx.principal.identity.id));
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
        const out = gitCommit(ctx.env.urls, ctx.env.world, ctx.org, repo, commit, ctx.env.world.pushOfCommit(repo, commit.commitId));
        // changeCount: how many of the commit's changes to list (GitCommit.changes), as in Commits_Get.
        const changeCount = q(req, 'changeCount');
        if (changeCount !== undefined) {
          if (!/^\d+$/.test(changeCount))
            throw errors.badRequest(
              `The value '${changeCount}' is not valid for changeCount: use a non-negative integer.`,
              'InvalidArgumentValueException',
            );
          out.changeCounts = { ...commit.changeCounts };
          out.changes = commit.changes.slice(0, Number(changeCount)).map((c) => ({
            item: {
              gitObjectType: 'blob',
              path: c.path,
              url: `${ctx.orgUrl}/${repo.projectId}/_apis/git/repositories/${repo.id}/items?path=${encodeURIComponent(c.path)}&versionType=Commit&version=${commit.commitId}`,
            },
            changeType: c.changeType,
          }));
        }
        return out;
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/commits`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        const version = q(req, 'searchCriteria.itemVersion.version');
        const rawType = q(req, 'searchCriteria.itemVersion.versionType');
        const versionType =
          rawType === undefined ? undefined : enumName(rawType, ['branch', 'tag', 'commit'], 'searchCriteria.itemVersion.versionType');
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
        const filter: CommitFilter = { skip, top, ...(await commitSearchFilters(req, ctx, repo)) };
        const commits = await readCommits(repo.gitDir, from, filter);
        const withStatuses = bool(q(req, 'searchCriteria.includeStatuses'));
        // No commit statuses are ever posted in the emulator: asked for, they come back empty.
        return list(
          reply,
          commits.map((c) => ({
            ...gitCommitRef(ctx.env.urls, ctx.env.world, ctx.org, repo, c),
            ...(withStatuses ? { statuses: [] } : {}),
          })),
        );
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/pushes`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        refuseUnsupported(req, ['searchCriteria.fromDate', 'searchCriteria.toDate', 'searchCriteria.includeLinks']);
        const pusher = q(req, 'searchCriteria.pusherId')?.toLowerCase();
        const refName = q(req, 'searchCriteria.refName');
        const withRefs = bool(q(req, 'searchCriteria.includeRefUpdates'));
        const pushes = ctx.env.world
          .listPushes(repo)
          .filter(
            (p) =>
              (!pusher || p.pushedBy === pusher) && (!refName || p.refUpdates.some((u) => u.name.toLowerCase() === refName.toLowerCase())),
          )
          .reverse();
        const rawSkip = q(req, '$skip') ?? '0';
        const rawTop = q(req, '$top') ?? '100';
        if (!/^\d+$/.test(rawSkip) || !/^\d+$/.test(rawTop))
          throw errors.badRequest('$top and $skip must be non-negative integers.', 'InvalidArgumentValueException');
        const slice = pushes.slice(Number(rawSkip), Number(rawSkip) + Number(rawTop));
        return list(
          reply,
          slice.map((p) => gitPush(ctx.env.urls, ctx.env.world, ctx.org, repo, p, { refUpdates: withRefs, commits: null })),
        );
      }),
    );

    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/pushes/:pushId`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, _reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        const raw = params(req).pushId ?? '';
        const push = /^\d+$/.test(raw) ? ctx.env.world.push(repo, Number(raw)) : undefined;
        // Unconfirmed wording; the service answers 404 for an unknown push id.
        if (!push)
          throw errors.notFound(
            `TF401176: The push with id ${raw} could not be found in the repository ${repo.name}.`,
            'GitPushNotFoundException',
          );
        const includeCommits = q(req, 'includeCommits');
        if (includeCommits !== undefined && !/^\d+$/.test(includeCommits))
          throw errors.badRequest(
            `The value '${includeCommits}' is not valid for includeCommits: use a number of commits.`,
            'InvalidArgumentValueException',
          );
        const count = includeCommits === undefined ? push.commits.length : Number(includeCommits);
        const commits = [];
        for (const sha of push.commits.slice(0, count)) {
          const c = await readCommit(repo.gitDir, sha);
          if (c) commits.push(c);
        }
        return gitPush(ctx.env.urls, ctx.env.world, ctx.org, repo, push, {
          refUpdates: q(req, 'includeRefUpdates') === undefined || bool(q(req, 'includeRefUpdates')),
          commits,
        });
      }),
    );

    // Branch statistics (BranchStats_List / BranchStats_Get): ahead/behind against a base version,
    // which is the default branch unless baseVersionDescriptor names another.
    app.get(
      `${prefix}/_apis/git/repositories/:repositoryId/stats/branches`,
      orgRoute(env, host, { scope: 'vso.code' }, async (req, reply, ctx) => {
        const repo = repoFromParams(ctx, req);
        const baseVersion = q(req, 'baseVersionDescriptor.version') ?? q(req, 'baseVersionDescriptor.baseVersion');
        const baseType = q(req, 'baseVersionDescriptor.versionType') ?? q(req, 'baseVersionDescriptor.baseVersionType');
        const base = await resolveVersion(
          ctx,
          repo,
          baseVersion,
          baseType === undefined ? undefined : enumName(baseType, ['branch', 'tag', 'commit'], 'baseVersionDescriptor.versionType'),
        );
        const baseBranch =
          base.type === 'branch' ? (base.version ?? ctx.env.world.defaultBranch(repo) ?? '').replace(/^refs\/heads\//, '') : undefined;
        const heads = (await listRefs(repo.gitDir)).filter((r) => r.name.startsWith('refs/heads/'));
        const stat = async (ref: { name: string; objectId: string }): Promise<Json> => {
          const commit = await readCommit(repo.gitDir, ref.objectId);
          const counts = await aheadBehind(repo.gitDir, ref.objectId, base.sha);
          const name = ref.name.slice('refs/heads/'.length);
          return {
            commit: commit ? gitCommitRef(ctx.env.urls, ctx.env.world, ctx.org, repo, commit) : { commitId: ref.objectId },
            name,
            aheadCount: counts.ahead,
            behindCount: counts.behind,
            isBaseVersion: baseBranch !== undefined && name.toLowerCase() === baseBranch.toLowerCase(),
          };
        };
        const name = q(req, 'name');
        if (name !== undefined) {
          const ref = heads.find((r) => r.name.toLowerCase() === `refs/heads/${name.replace(/^refs\/heads\//, '')}`.toLowerCase());
          if (!ref)
            throw errors.notFound(
              `TF401175: The version descriptor <Branch: ${name} > could not be resolved to a version in the repository ${repo.name}`,
              'GitUnresolvableToCommitException',
            );
          return stat(ref);
        }
        const stats = [];
        for (const ref of heads) stats.push(await stat(ref));
        return list(reply, stats);
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
  refuseUnsupported(req, ['includeMyBranches']);
  const withStatuses = bool(q(req, 'includeStatuses'));
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
  // No statuses are ever posted in the emulator: asked for, they come back empty.
  return list(
    reply,
    items.map((r) => ({ ...gitRef(ctx.env.urls, ctx.org, repo, r, creator, peel), ...(withStatuses ? { statuses: [] } : {}) })),
    next,
  );
}

/**
 * GET .../items?path= returns JSON when asked (`$format=json` or an Accept of application/json, which
 * the SDKs send) and the raw file otherwise; `scopePath` without `path` is the list form (Items_List)
 * with recursion level none.
 */
async function itemsHandler(req: FastifyRequest, reply: FastifyReply, ctx: OrgContext): Promise<unknown> {
  const repo = repoFromParams(ctx, req);
  refuseUnsupported(req, ['latestProcessedChange', 'resolveLfs']);
  const recursion = q(req, 'recursionLevel');
  if (recursion !== undefined && enumName(recursion, ['none', 'onelevel', 'onelevelpluscontents', 'full'], 'recursionLevel') !== 'none') {
    throw errors.badRequest(
      `The emulator does not implement recursionLevel '${recursion}' (only None); Azure DevOps honours it.`,
      'NotSupportedException',
    );
  }
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
    if (item.type !== 'blob')
      throw errors.badRequest(`TF401181: The item ${normalized} is a folder; request it as JSON or zip.`, 'GitItemIsFolderException');
    const name = normalized.split('/').pop() ?? 'file';
    reply.header('Content-Type', 'application/octet-stream');
    if (bool(q(req, 'download')))
      reply.header('Content-Disposition', `attachment; filename=${name}; filename*=utf-8''${encodeURIComponent(name)}`);
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
  if (bool(q(req, 'includeContentMetadata'))) {
    const name = normalized.split('/').pop() ?? '';
    const dot = name.lastIndexOf('.');
    // A folder's metadata is its name only (unconfirmed: what the service adds for folders).
    json.contentMetadata =
      item.type === 'blob'
        ? { encoding: 65001, contentType: 'rawtext', fileName: name, ...(dot > 0 ? { extension: name.slice(dot) } : {}) }
        : { fileName: name };
  }
  if (path === undefined && scopePath !== undefined) return list(reply, [json]);
  return json;
}

/** An enum from a query string by name (any case) or by number, as the service reads it. */
function enumName(raw: string, names: readonly string[], what: string): string {
  const t = raw.trim();
  if (/^\d+$/.test(t) && Number(t) < names.length) return names[Number(t)]!;
  if (names.includes(t.toLowerCase())) return t.toLowerCase();
  throw errors.badRequest(`'${raw}' is not a valid value for ${what}.`, 'InvalidArgumentValueException');
}

/**
 * Query options the service honours but the emulator does not implement: refused by name rather
 * than ignored, so a caller relying on one sees it at once instead of getting unfiltered results.
 */
function refuseUnsupported(req: FastifyRequest, names: readonly string[]): void {
  for (const n of names) {
    if (q(req, n) !== undefined)
      throw errors.badRequest(
        `The emulator does not implement the query option '${n}'; Azure DevOps honours it. Leave it out or extend the emulator.`,
        'NotSupportedException',
      );
  }
}

/** GitQueryCommitsCriteria from the query string: itemPath, author, fromDate/toDate, compareVersion. */
async function commitSearchFilters(req: FastifyRequest, ctx: OrgContext, repo: Repository): Promise<Partial<CommitFilter>> {
  refuseUnsupported(req, [
    'searchCriteria.ids',
    'searchCriteria.user',
    'searchCriteria.excludeDeletes',
    'searchCriteria.fromCommitId',
    'searchCriteria.toCommitId',
    'searchCriteria.historyMode',
    'searchCriteria.showOldestCommitsFirst',
    'searchCriteria.includeWorkItems',
    'searchCriteria.includePushData',
    'searchCriteria.includeUserImageUrl',
    'searchCriteria.itemVersion.versionOptions',
  ]);
  const out: Partial<CommitFilter> = {};
  const itemPath = q(req, 'searchCriteria.itemPath');
  if (itemPath) out.path = itemPath.replace(/^\/+/, '') || '.';
  const author = q(req, 'searchCriteria.author');
  if (author) out.author = author;
  for (const [name, key] of [
    ['searchCriteria.fromDate', 'since'],
    ['searchCriteria.toDate', 'until'],
  ] as const) {
    const raw = q(req, name);
    if (raw === undefined) continue;
    const d = new Date(raw);
    if (Number.isNaN(d.getTime()))
      throw errors.badRequest(`The value '${raw}' is not a valid date for ${name}.`, 'InvalidArgumentValueException');
    out[key] = d.toISOString();
  }
  const compare = q(req, 'searchCriteria.compareVersion.version');
  if (compare !== undefined) {
    const type = q(req, 'searchCriteria.compareVersion.versionType');
    const resolved = await resolveVersion(
      ctx,
      repo,
      compare,
      type === undefined ? undefined : enumName(type, ['branch', 'tag', 'commit'], 'searchCriteria.compareVersion.versionType'),
    );
    out.not = [resolved.sha];
  }
  return out;
}
