// JSON shapes of the Azure DevOps REST 7.1 resources the emulator serves, modelled on the OpenAPI
// definitions and the recorded httpExamples beside them (field names, camelCase enums, URL forms).
import type { CommitInfo, RefEntry } from '../git/repo.ts';
import type { Urls } from './urls.ts';
import type { Identity, Organization, PatRecord, Project, PullRequest, PushRecord, Repository, VariableGroup, World } from './world.ts';

export type Json = Record<string, unknown>;

const enc = encodeURIComponent;

/** ISO 8601 with the service's precision (seconds plus a fraction), always UTC. */
export function iso(d: Date): string {
  return d.toISOString();
}

export function identityRef(urls: Urls, org: Organization, identity: Identity | undefined): Json {
  if (!identity) return {};
  const orgUrl = urls.orgUrl(org);
  return {
    displayName: identity.displayName,
    url: `${urls.vsspsOrgUrl(org)}/_apis/Identities/${identity.id}`,
    _links: { avatar: { href: `${orgUrl}/_apis/GraphProfile/MemberAvatars/${identity.descriptor}` } },
    id: identity.id,
    uniqueName: identity.uniqueName,
    imageUrl: `${orgUrl}/_api/_common/identityImage?id=${identity.id}`,
    descriptor: identity.descriptor,
  };
}

export function projectRef(urls: Urls, org: Organization, p: Project): Json {
  const out: Json = {
    id: p.id,
    name: p.name,
    url: `${urls.orgUrl(org)}/_apis/projects/${p.id}`,
    state: p.state,
    revision: p.revision,
    visibility: p.visibility,
    lastUpdateTime: iso(p.lastUpdateTime),
  };
  if (p.description !== undefined) out.description = p.description;
  return out;
}

export function teamProject(urls: Urls, org: Organization, p: Project, includeCapabilities: boolean): Json {
  const orgUrl = urls.orgUrl(org);
  const defaultTeamId = p.id.replace(/^.{8}/, 'ffffffff');
  const out: Json = {
    ...projectRef(urls, org, p),
    _links: {
      self: { href: `${orgUrl}/_apis/projects/${p.id}` },
      collection: { href: `${orgUrl}/_apis/projectCollections/${org.id}` },
      web: { href: `${orgUrl}/${enc(p.name)}` },
    },
    defaultTeam: { id: defaultTeamId, name: `${p.name} Team`, url: `${orgUrl}/_apis/projects/${p.id}/teams/${defaultTeamId}` },
  };
  if (includeCapabilities) {
    out.capabilities = {
      versioncontrol: { sourceControlType: 'Git', gitEnabled: 'True', tfvcEnabled: 'False' },
      processTemplate: { templateName: 'Agile', templateTypeId: 'adcc42ab-9882-485e-a3ed-7678f01f66bc' },
    };
  }
  return out;
}

function repoApiUrl(urls: Urls, org: Organization, repo: Repository): string {
  return `${urls.orgUrl(org)}/${repo.projectId}/_apis/git/repositories/${repo.id}`;
}

export function gitRepository(urls: Urls, world: World, org: Organization, repo: Repository, withLinks: boolean): Json {
  const project = world.projectById(repo.projectId)!;
  const self = repoApiUrl(urls, org, repo);
  const out: Json = {
    id: repo.id,
    name: repo.name,
    url: self,
    project: projectRef(urls, org, project),
  };
  const defaultBranch = world.defaultBranch(repo);
  if (defaultBranch) out.defaultBranch = defaultBranch;
  out.size = 0; // filled by the caller when cheap enough (see repositories route)
  out.remoteUrl = urls.remoteUrl(org, project, repo);
  out.sshUrl = urls.sshUrl(org, project, repo);
  out.webUrl = urls.webUrl(org, project, repo);
  out.isDisabled = repo.isDisabled;
  out.isInMaintenance = false;
  if (withLinks) {
    out._links = {
      self: { href: self },
      project: { href: `vstfs:///Classification/TeamProject/${project.id}` },
      web: { href: urls.webUrl(org, project, repo) },
      ssh: { href: urls.sshUrl(org, project, repo) },
      commits: { href: `${self}/commits` },
      refs: { href: `${self}/refs` },
      pullRequests: { href: `${self}/pullRequests` },
      items: { href: `${self}/items` },
      pushes: { href: `${self}/pushes` },
    };
  }
  return out;
}

export function gitRef(urls: Urls, org: Organization, repo: Repository, ref: RefEntry, creator: Json | undefined, peel: boolean): Json {
  const out: Json = { name: ref.name, objectId: ref.objectId };
  if (peel && ref.peeledObjectId) out.peeledObjectId = ref.peeledObjectId;
  if (creator && Object.keys(creator).length) out.creator = creator;
  out.url = `${repoApiUrl(urls, org, repo)}/refs?filter=${enc(ref.name.replace(/^refs\//, ''))}`;
  return out;
}

function commitWebUrl(urls: Urls, world: World, org: Organization, repo: Repository, sha: string): string {
  const project = world.projectById(repo.projectId)!;
  return `${urls.webUrl(org, project, repo)}/commit/${sha}`;
}

/** GitCommitRef as list endpoints return it: the comment cut to its first 200 characters. */
export function gitCommitRef(urls: Urls, world: World, org: Organization, repo: Repository, c: CommitInfo): Json {
  const out: Json = {
    commitId: c.commitId,
    author: { ...c.author },
    committer: { ...c.committer },
    comment: c.comment,
  };
  // The list API shortens long messages and flags it (see the commits httpExamples).
  const firstLine = c.comment.split('\n')[0] ?? '';
  if (firstLine.length < c.comment.length || firstLine.length > 200) {
    out.comment = firstLine.slice(0, 200);
    out.commentTruncated = true;
  }
  out.changeCounts = { ...c.changeCounts };
  out.url = `${repoApiUrl(urls, org, repo)}/commits/${c.commitId}`;
  out.remoteUrl = commitWebUrl(urls, world, org, repo, c.commitId);
  return out;
}

export function gitCommit(
  urls: Urls,
  world: World,
  org: Organization,
  repo: Repository,
  c: CommitInfo,
  push: PushRecord | undefined,
): Json {
  const self = `${repoApiUrl(urls, org, repo)}/commits/${c.commitId}`;
  const out: Json = {
    treeId: c.treeId,
    commitId: c.commitId,
    author: { ...c.author },
    committer: { ...c.committer },
    comment: c.comment,
    parents: c.parents,
    url: self,
    remoteUrl: commitWebUrl(urls, world, org, repo, c.commitId),
    _links: {
      self: { href: self },
      repository: { href: repoApiUrl(urls, org, repo) },
      changes: { href: `${self}/changes` },
      web: { href: commitWebUrl(urls, world, org, repo, c.commitId) },
      tree: { href: `${repoApiUrl(urls, org, repo)}/trees/${c.treeId}` },
    },
  };
  if (push) out.push = { pushedBy: identityRef(urls, org, world.identity(push.pushedBy, org)), pushId: push.pushId, date: iso(push.date) };
  return out;
}

/** GitPush; `detail` adds refUpdates and commits (the single-push endpoint, or includeRefUpdates). */
export function gitPush(
  urls: Urls,
  world: World,
  org: Organization,
  repo: Repository,
  push: PushRecord,
  detail: { refUpdates: boolean; commits: CommitInfo[] | null },
): Json {
  const project = world.projectById(repo.projectId)!;
  const self = `${repoApiUrl(urls, org, repo)}/pushes/${push.pushId}`;
  const pusher = identityRef(urls, org, world.identity(push.pushedBy, org));
  const out: Json = {
    repository: {
      id: repo.id,
      name: repo.name,
      url: repoApiUrl(urls, org, repo),
      project: projectRef(urls, org, project),
      ...(world.defaultBranch(repo) ? { defaultBranch: world.defaultBranch(repo) } : {}),
      remoteUrl: urls.remoteUrl(org, project, repo),
    },
    pushedBy: pusher,
    pushId: push.pushId,
    date: iso(push.date),
    url: self,
  };
  if (detail.refUpdates) out.refUpdates = push.refUpdates.map((u) => ({ ...u, repositoryId: repo.id }));
  if (detail.commits) {
    out.commits = detail.commits.map((c) => gitCommitRef(urls, world, org, repo, c));
    out._links = {
      self: { href: self },
      repository: { href: repoApiUrl(urls, org, repo) },
      commits: { href: `${self}/commits` },
      pusher: { href: pusher.url },
    };
  }
  return out;
}

export function gitItem(
  urls: Urls,
  org: Organization,
  repo: Repository,
  p: {
    path: string;
    objectId: string;
    type: 'blob' | 'tree' | 'commit';
    commitId: string;
    content?: string;
    version?: string;
    versionType?: string;
  },
): Json {
  const out: Json = {
    objectId: p.objectId,
    gitObjectType: p.type,
    commitId: p.commitId,
    path: p.path,
  };
  if (p.type === 'tree') out.isFolder = true;
  if (p.content !== undefined) out.content = p.content;
  const vt = p.versionType ? p.versionType[0]!.toUpperCase() + p.versionType.slice(1).toLowerCase() : 'Branch';
  const version = p.version ? `&version=${enc(p.version)}` : '';
  out.url = `${repoApiUrl(urls, org, repo)}/items?path=${enc(p.path)}&versionType=${vt}${version}&versionOptions=None`;
  return out;
}

export function commitRefShort(urls: Urls, org: Organization, repo: Repository, sha: string): Json {
  return { commitId: sha, url: `${repoApiUrl(urls, org, repo)}/commits/${sha}` };
}

/** `mergeCommit`, when given, details lastMergeCommit as the single-PR endpoints do. */
export function pullRequest(
  urls: Urls,
  world: World,
  org: Organization,
  pr: PullRequest,
  withLinks: boolean,
  mergeCommit?: CommitInfo,
): Json {
  const repo = world.repositoryById(pr.repositoryId)!;
  const project = world.projectById(pr.projectId)!;
  const repoJson = gitRepository(urls, world, org, repo, false);
  const self = `${repoApiUrl(urls, org, repo)}/pullRequests/${pr.id}`;
  const createdBy = identityRef(urls, org, world.identity(pr.createdBy, org));
  const out: Json = {
    repository: {
      id: repoJson.id,
      name: repoJson.name,
      url: repoJson.url,
      project: repoJson.project,
      remoteUrl: repoJson.remoteUrl,
    },
    pullRequestId: pr.id,
    codeReviewId: pr.id,
    status: pr.status,
    createdBy,
    creationDate: iso(pr.creationDate),
    title: pr.title,
    description: pr.description,
    sourceRefName: pr.sourceRefName,
    targetRefName: pr.targetRefName,
    mergeStatus: pr.mergeStatus,
    isDraft: pr.isDraft,
    mergeId: pr.mergeId,
    lastMergeSourceCommit: commitRefShort(urls, org, repo, pr.lastMergeSourceCommit),
    lastMergeTargetCommit: commitRefShort(urls, org, repo, pr.lastMergeTargetCommit),
  };
  if (pr.lastMergeCommit) {
    out.lastMergeCommit = mergeCommit
      ? {
          commitId: mergeCommit.commitId,
          author: { ...mergeCommit.author },
          committer: { ...mergeCommit.committer },
          comment: mergeCommit.comment,
          url: `${repoApiUrl(urls, org, repo)}/commits/${mergeCommit.commitId}`,
        }
      : commitRefShort(urls, org, repo, pr.lastMergeCommit);
  }
  if (pr.closedDate) out.closedDate = iso(pr.closedDate);
  if (pr.closedBy) out.closedBy = identityRef(urls, org, world.identity(pr.closedBy, org));
  out.reviewers = pr.reviewers.map((id) => ({
    reviewerUrl: `${self}/reviewers/${id}`,
    vote: 0,
    hasDeclined: false,
    isFlagged: false,
    ...identityRef(urls, org, world.identity(id, org)),
  }));
  out.url = self;
  out.supportsIterations = true;
  out.artifactId = `vstfs:///Git/PullRequestId/${project.id}%2f${repo.id}%2f${pr.id}`;
  if (withLinks) {
    out._links = {
      self: { href: self },
      repository: { href: repoApiUrl(urls, org, repo) },
      workItems: { href: `${self}/workitems` },
      sourceBranch: { href: `${repoApiUrl(urls, org, repo)}/refs/${pr.sourceRefName.replace(/^refs\//, '')}` },
      targetBranch: { href: `${repoApiUrl(urls, org, repo)}/refs/${pr.targetRefName.replace(/^refs\//, '')}` },
      statuses: { href: `${self}/statuses` },
      sourceCommit: { href: `${repoApiUrl(urls, org, repo)}/commits/${pr.lastMergeSourceCommit}` },
      targetCommit: { href: `${repoApiUrl(urls, org, repo)}/commits/${pr.lastMergeTargetCommit}` },
      createdBy: { href: createdBy.url },
      iterations: { href: `${self}/iterations` },
    };
  }
  return out;
}

/** Secret variables always come back as `"value": null, "isSecret": true`. */
export function variableGroup(urls: Urls, world: World, org: Organization, vg: VariableGroup): Json {
  const variables: Json = {};
  for (const [name, v] of vg.variables) {
    const entry: Json = v.isSecret ? { value: null, isSecret: true } : { value: v.value ?? '' };
    if (v.isReadOnly) entry.isReadOnly = true;
    variables[name] = entry;
  }
  const out: Json = {
    variables,
    id: vg.id,
    type: vg.type,
    name: vg.name,
  };
  if (vg.description !== undefined) out.description = vg.description;
  out.createdBy = identityRef(urls, org, world.identity(vg.createdBy, org));
  out.createdOn = iso(vg.createdOn);
  out.modifiedBy = identityRef(urls, org, world.identity(vg.modifiedBy, org));
  out.modifiedOn = iso(vg.modifiedOn);
  out.isShared = vg.projectRefs.length > 1;
  out.variableGroupProjectReferences = vg.projectRefs.map((r) => {
    const ref: Json = { projectReference: { id: r.projectId, name: world.projectById(r.projectId)?.name ?? '' }, name: r.name };
    if (r.description !== undefined) ref.description = r.description;
    return ref;
  });
  return out;
}

export function patToken(pat: PatRecord, token: string | null): Json {
  return {
    displayName: pat.displayName,
    validTo: iso(pat.validTo),
    scope: pat.scopes.join(' '),
    targetAccounts: pat.targetOrgIds,
    validFrom: iso(pat.validFrom),
    authorizationId: pat.authorizationId,
    token,
  };
}
