// The Azure DevOps emulator's model: organizations (and Server collections), projects, repositories
// backed by bare git repositories, users linked to Entra users, memberships, PATs, variable groups
// and pull requests. In memory; only the git repositories live on disk (under dataDir).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EntraEmulator } from '../entra/index.ts';
import {
  commitFiles,
  createMergeCommit,
  headRef,
  initBareRepository,
  listRefs,
  newCommits,
  refExistsOnDisk,
  runGit,
  resolveCommit,
  seedRepository,
  updateRef,
  type SeedSpec,
} from '../git/repo.ts';
import { ZERO_GUID, generateLegacyPat, generatePat, hashSecret, isGuid, makeDescriptor, newGuid, sameName } from './ids.ts';
import { isKnownScope, normalizeScopes } from './scopes.ts';
import { refill } from '../restore.ts';

export type OrgKind = 'hosted' | 'server';

export interface Organization {
  id: string;
  name: string;
  kind: OrgKind;
  /** Entra tenant the organization is connected to; ZERO_GUID for a Microsoft-account organization. */
  tenantId: string;
  /** "Third-party application access via OAuth" policy. */
  oauthPolicyAllowed: boolean;
  members: Set<string>;
  /** Keys `${tenantId}/${clientId}` of service principals added to the organization. */
  servicePrincipals: Map<string, ServicePrincipal>;
  createdAt: Date;
}

interface IdentityBase {
  id: string;
  descriptor: string;
  displayName: string;
  uniqueName: string;
  tenantId: string;
}

export interface User extends IdentityBase {
  kind: 'user';
  oid: string;
  upn: string;
  email: string;
  /** Returned once by addUser for sign-in tests; never served over REST. */
  password?: string;
  createdAt: Date;
}

export interface ServicePrincipal extends IdentityBase {
  kind: 'servicePrincipal';
  clientId: string;
}

export type Identity = User | ServicePrincipal;

export interface Project {
  id: string;
  orgId: string;
  name: string;
  description?: string;
  visibility: 'private' | 'public';
  state: 'wellFormed';
  revision: number;
  lastUpdateTime: Date;
}

export interface Repository {
  id: string;
  orgId: string;
  projectId: string;
  name: string;
  gitDir: string;
  createdBy?: string;
  isDisabled: boolean;
}

export type PullRequestStatus = 'active' | 'abandoned' | 'completed';

export interface RefUpdate {
  name: string;
  oldObjectId: string;
  newObjectId: string;
}

/** A push as the service records it: who, when, which refs moved, which commits came in. */
export interface PushRecord {
  pushId: number;
  repositoryId: string;
  pushedBy: string;
  date: Date;
  refUpdates: RefUpdate[];
  /** Commits the push brought in, newest first. */
  commits: string[];
}

const ZERO_SHA = '0000000000000000000000000000000000000000';

export interface PullRequest {
  id: number;
  orgId: string;
  projectId: string;
  repositoryId: string;
  title: string;
  description: string;
  sourceRefName: string;
  targetRefName: string;
  status: PullRequestStatus;
  isDraft: boolean;
  createdBy: string;
  creationDate: Date;
  closedDate?: Date;
  closedBy?: string;
  mergeId: string;
  mergeStatus: 'succeeded' | 'conflicts';
  lastMergeSourceCommit: string;
  lastMergeTargetCommit: string;
  lastMergeCommit?: string;
  reviewers: string[];
}

export interface VariableValue {
  value: string | null;
  isSecret?: boolean;
  isReadOnly?: boolean;
}

export interface VariableGroupProjectRef {
  projectId: string;
  name: string;
  description?: string;
}

/** Library security roles on a variable group (the UI's Reader, User, Administrator). */
export type VariableGroupRole = 'Reader' | 'User' | 'Administrator';

export interface VariableGroup {
  id: number;
  /**
   * Roles by identity id. The creator is Administrator; everyone else in the organization is a
   * Reader unless given another role (the library's "Project Valid Users: Reader" default).
   */
  roles: Map<string, VariableGroupRole>;
  orgId: string;
  name: string;
  description?: string;
  type: string;
  /** Secret values are kept here and never served. */
  variables: Map<string, { value: string | null; isSecret: boolean; isReadOnly: boolean }>;
  projectRefs: VariableGroupProjectRef[];
  createdBy: string;
  createdOn: Date;
  modifiedBy: string;
  modifiedOn: Date;
}

export interface PatRecord {
  authorizationId: string;
  userId: string;
  displayName: string;
  scopes: string[];
  /** Organization ids the PAT is valid for; null = all of the user's organizations. */
  targetOrgIds: string[] | null;
  validFrom: Date;
  validTo: Date;
  revokedAt?: Date;
  /** SHA-256 of the token; the plaintext is returned once and never stored. */
  hash: string;
}

export interface RepositorySeed {
  commits?: number;
  branches?: SeedSpec['branches'];
  tags?: SeedSpec['tags'];
  defaultBranch?: string;
  files?: Record<string, string>;
  createdBy?: string;
  /**
   * An existing bare repository to copy instead of seeding (benchmarks: a large generated history).
   * Cloned locally (objects hard-linked where the file system allows); its HEAD is the default branch.
   */
  source?: string;
}

/** A refusal the service answered because the caller may not read the repository (`world.denyRepositoryRead`). */
export interface RepositoryDenial {
  identityId: string;
  repositoryId: string;
  /** `rest`: a REST call naming the repository; `git`: smart HTTP. */
  via: 'rest' | 'git';
  at: Date;
}

export class WorldError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorldError';
  }
}

/** A pull request the service refuses: a duplicate active one, source = target, a closed one, a stale completion. */
export class PullRequestRuleError extends WorldError {
  constructor(
    readonly rule: 'duplicate' | 'same-branch' | 'not-active' | 'stale-source' | 'conflicts',
    readonly sourceRefName: string,
    readonly targetRefName: string,
  ) {
    super(`pull request rule '${rule}' (${sourceRefName} → ${targetRefName})`);
    this.name = 'PullRequestRuleError';
  }
}

/**
 * The world as the emulator's state file holds it. Repositories keep their id but not their
 * directory: it is found again under the data directory, which may have moved.
 */
export interface WorldState {
  orgs: Map<string, Organization>;
  projects: Map<string, Project>;
  repos: Map<string, Omit<Repository, 'gitDir'>>;
  users: Map<string, User>;
  pats: Map<string, PatRecord>;
  pullRequests: Map<string, PullRequest>;
  prCounters: Map<string, number>;
  pushes: Map<string, PushRecord[]>;
  commitPushes: Map<string, number>;
  variableGroups: Map<string, VariableGroup>;
  vgCounters: Map<string, number>;
  readDenied: Map<string, Set<string>>;
  denials: RepositoryDenial[];
}

export interface WorldOptions {
  dataDir: string;
  entra: EntraEmulator;
  defaultTenantId: string;
  now?: () => number;
}

export class World {
  readonly dataDir: string;
  readonly reposRoot: string;
  readonly defaultTenantId: string;
  private readonly entra: EntraEmulator;
  private readonly now: () => number;
  private readonly orgs = new Map<string, Organization>();
  private readonly projects = new Map<string, Project>();
  private readonly repos = new Map<string, Repository>();
  private readonly users = new Map<string, User>();
  private readonly pats = new Map<string, PatRecord>();
  private readonly patsByHash = new Map<string, PatRecord>();
  private readonly pullRequests = new Map<string, PullRequest>(); // key `${orgId}/${id}`
  private readonly prCounters = new Map<string, number>();
  private readonly pushes = new Map<string, PushRecord[]>(); // key repository id
  private readonly commitPushes = new Map<string, number>(); // key `${repositoryId}/${sha}`
  private readonly variableGroups = new Map<string, VariableGroup>(); // key `${orgId}/${id}`
  private readonly vgCounters = new Map<string, number>();
  private readonly readDenied = new Map<string, Set<string>>(); // key repository id → identity ids
  private readonly denials: RepositoryDenial[] = [];

  constructor(opts: WorldOptions) {
    this.dataDir = opts.dataDir;
    this.reposRoot = join(opts.dataDir, 'repos');
    mkdirSync(this.reposRoot, { recursive: true });
    this.entra = opts.entra;
    this.defaultTenantId = opts.defaultTenantId;
    this.now = opts.now ?? Date.now;
  }

  exportState(): WorldState {
    const repos: WorldState['repos'] = new Map();
    for (const [id, { gitDir: _gitDir, ...repo }] of this.repos) repos.set(id, repo);
    return {
      orgs: this.orgs,
      projects: this.projects,
      repos,
      users: this.users,
      pats: this.pats,
      pullRequests: this.pullRequests,
      prCounters: this.prCounters,
      pushes: this.pushes,
      commitPushes: this.commitPushes,
      variableGroups: this.variableGroups,
      vgCounters: this.vgCounters,
      readDenied: this.readDenied,
      denials: this.denials,
    };
  }

  /** Replaces the whole world (before the first request). */
  importState(state: WorldState): void {
    refill(this.orgs, state.orgs);
    refill(this.projects, state.projects);
    refill(this.users, state.users);
    refill(this.pats, state.pats);
    refill(this.pullRequests, state.pullRequests);
    refill(this.prCounters, state.prCounters);
    refill(this.pushes, state.pushes);
    refill(this.commitPushes, state.commitPushes);
    refill(this.variableGroups, state.variableGroups);
    refill(this.vgCounters, state.vgCounters);
    refill(this.readDenied, state.readDenied);
    this.repos.clear();
    for (const [id, repo] of state.repos) this.repos.set(id, { ...repo, gitDir: join(this.reposRoot, `${id}.git`) });
    this.patsByHash.clear();
    for (const pat of this.pats.values()) this.patsByHash.set(pat.hash, pat);
    this.denials.splice(0, this.denials.length, ...state.denials);
  }

  // ---- organizations -------------------------------------------------------------------------

  /** `server: true` makes an Azure DevOps Server collection (served under /tfs/{name}). */
  addOrganization(
    name: string,
    opts: { tenantId?: string | null; oauthPolicyAllowed?: boolean; server?: boolean; id?: string } = {},
  ): Organization {
    if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,48}[A-Za-z0-9]?$/.test(name)) {
      throw new WorldError(`invalid organization name '${name}': letters, digits and hyphens only`);
    }
    if (this.findOrganization(name)) throw new WorldError(`organization '${name}' already exists`);
    const org: Organization = {
      id: opts.id ?? newGuid(),
      name,
      kind: opts.server ? 'server' : 'hosted',
      tenantId: opts.tenantId === null ? ZERO_GUID : (opts.tenantId ?? this.defaultTenantId),
      oauthPolicyAllowed: opts.oauthPolicyAllowed ?? true,
      members: new Set(),
      servicePrincipals: new Map(),
      createdAt: new Date(this.now()),
    };
    this.orgs.set(org.id, org);
    return org;
  }

  findOrganization(name: string, kind?: OrgKind): Organization | undefined {
    for (const org of this.orgs.values()) {
      if (sameName(org.name, name) && (!kind || org.kind === kind)) return org;
    }
    return undefined;
  }

  organizationById(id: string): Organization | undefined {
    return this.orgs.get(id);
  }

  listOrganizations(): Organization[] {
    return [...this.orgs.values()];
  }

  requireOrganization(name: string): Organization {
    const org = this.findOrganization(name);
    if (!org) throw new WorldError(`no organization '${name}'`);
    return org;
  }

  setOAuthPolicy(orgName: string, allowed: boolean): void {
    this.requireOrganization(orgName).oauthPolicyAllowed = allowed;
  }

  /** True when the Entra user belongs to an organization of that tenant whose OAuth policy is off. */
  isOAuthBlocked(tenantId: string, userOid: string): boolean {
    const user = this.userByOid(userOid);
    if (!user) return false;
    for (const org of this.orgs.values()) {
      if (org.tenantId === tenantId && !org.oauthPolicyAllowed && org.members.has(user.id)) return true;
    }
    return false;
  }

  addServicePrincipalToOrg(orgName: string, p: { clientId: string; tenantId?: string; displayName?: string }): ServicePrincipal {
    const org = this.requireOrganization(orgName);
    const tenantId = p.tenantId ?? org.tenantId;
    const key = `${tenantId}/${p.clientId}`;
    const existing = org.servicePrincipals.get(key);
    if (existing) return existing;
    const id = newGuid();
    const sp: ServicePrincipal = {
      kind: 'servicePrincipal',
      id,
      descriptor: makeDescriptor('aadsp', id),
      displayName: p.displayName ?? `Service principal ${p.clientId}`,
      uniqueName: p.clientId,
      tenantId,
      clientId: p.clientId,
    };
    org.servicePrincipals.set(key, sp);
    return sp;
  }

  findServicePrincipal(org: Organization, tenantId: string, clientId: string): ServicePrincipal | undefined {
    return org.servicePrincipals.get(`${tenantId}/${clientId}`);
  }

  // ---- users ---------------------------------------------------------------------------------

  /** Creates the Entra user (in the given or default tenant) and the Azure DevOps identity linked to it. */
  addUser(input: { upn: string; displayName?: string; password?: string; tenantId?: string; oid?: string }): User {
    const tenantId = input.tenantId ?? this.defaultTenantId;
    const entraUser = this.entra.addUser(tenantId, {
      upn: input.upn,
      displayName: input.displayName,
      password: input.password,
      oid: input.oid,
    });
    return this.linkEntraUser({ ...entraUser, password: input.password ?? entraUser.password });
  }

  /** Links an existing Entra user (e.g. created by the Entra emulator directly) to an ADO identity. */
  linkEntraUser(entraUser: { tenantId: string; oid: string; upn: string; displayName: string; password?: string }): User {
    const existing = this.userByOid(entraUser.oid);
    if (existing) return existing;
    const id = newGuid();
    const user: User = {
      kind: 'user',
      id,
      descriptor: makeDescriptor('aad', newGuid()),
      displayName: entraUser.displayName,
      uniqueName: entraUser.upn,
      upn: entraUser.upn,
      email: entraUser.upn,
      tenantId: entraUser.tenantId,
      oid: entraUser.oid,
      createdAt: new Date(this.now()),
    };
    if (entraUser.password !== undefined) user.password = entraUser.password;
    this.users.set(id, user);
    return user;
  }

  userById(id: string): User | undefined {
    return this.users.get(id);
  }

  userByOid(oid: string): User | undefined {
    for (const u of this.users.values()) if (u.oid === oid) return u;
    return undefined;
  }

  requireUser(id: string): User {
    const u = this.users.get(id);
    if (!u) throw new WorldError(`no user '${id}'`);
    return u;
  }

  addMember(orgName: string, userId: string): void {
    this.requireOrganization(orgName).members.add(this.requireUser(userId).id);
  }

  removeMember(orgName: string, userId: string): void {
    this.requireOrganization(orgName).members.delete(userId);
  }

  isMember(org: Organization, userId: string): boolean {
    return org.members.has(userId);
  }

  organizationsOf(userId: string): Organization[] {
    return [...this.orgs.values()].filter((o) => o.members.has(userId));
  }

  // ---- personal access tokens ----------------------------------------------------------------

  /**
   * Issues a PAT and returns its plaintext once. `orgs` names organizations (default: every
   * organization the user belongs to now); 'all' makes an all-organizations PAT.
   */
  createPat(
    userId: string,
    opts: {
      scopes: string[] | string;
      orgs?: string[] | 'all';
      expiresAt?: Date | number;
      displayName?: string;
      /**
       * `current` (84 characters, `AZDO` at 77–80) or `legacy` (52 of `[a-z2-7]`). Default: legacy when
       * every target is an Azure DevOps Server collection (Server issues that format), else current.
       */
      format?: 'current' | 'legacy';
    },
  ): { token: string; authorizationId: string; pat: PatRecord } {
    const user = this.requireUser(userId);
    const scopes = normalizeScopes(opts.scopes);
    if (scopes.length === 0) throw new WorldError('a PAT needs at least one scope');
    for (const s of scopes) if (!isKnownScope(s)) throw new WorldError(`unknown scope '${s}'`);
    let targetOrgIds: string[] | null;
    if (opts.orgs === 'all') targetOrgIds = null;
    else if (opts.orgs) targetOrgIds = opts.orgs.map((n) => this.requireOrganization(n).id);
    else targetOrgIds = this.organizationsOf(user.id).map((o) => o.id);
    const now = this.now();
    const validTo = opts.expiresAt === undefined ? new Date(now + 30 * 86_400_000) : new Date(opts.expiresAt);
    const serverOnly = targetOrgIds !== null && targetOrgIds.length > 0 && targetOrgIds.every((id) => this.orgs.get(id)?.kind === 'server');
    const format = opts.format ?? (serverOnly ? 'legacy' : 'current');
    const token = format === 'legacy' ? generateLegacyPat() : generatePat();
    const pat: PatRecord = {
      authorizationId: newGuid(),
      userId: user.id,
      displayName: opts.displayName ?? 'emulator token',
      scopes,
      targetOrgIds,
      validFrom: new Date(now),
      validTo,
      hash: hashSecret(token),
    };
    this.pats.set(pat.authorizationId, pat);
    this.patsByHash.set(pat.hash, pat);
    return { token, authorizationId: pat.authorizationId, pat };
  }

  findPatByToken(token: string): PatRecord | undefined {
    return this.patsByHash.get(hashSecret(token));
  }

  patById(authorizationId: string): PatRecord | undefined {
    return this.pats.get(authorizationId.toLowerCase());
  }

  listPats(userId: string): PatRecord[] {
    return [...this.pats.values()].filter((p) => p.userId === userId);
  }

  updatePat(
    authorizationId: string,
    patch: { displayName?: string; scopes?: string[]; validTo?: Date; targetOrgIds?: string[] | null },
  ): PatRecord {
    const pat = this.patById(authorizationId);
    if (!pat) throw new WorldError(`no PAT '${authorizationId}'`);
    if (patch.displayName !== undefined) pat.displayName = patch.displayName;
    if (patch.scopes !== undefined) pat.scopes = normalizeScopes(patch.scopes);
    if (patch.validTo !== undefined) pat.validTo = patch.validTo;
    if (patch.targetOrgIds !== undefined) pat.targetOrgIds = patch.targetOrgIds;
    return pat;
  }

  revokePat(authorizationId: string): void {
    const pat = this.patById(authorizationId);
    if (!pat) throw new WorldError(`no PAT '${authorizationId}'`);
    pat.revokedAt ??= new Date(this.now());
  }

  /** Fault: the PAT expires now (its validTo moves to the past). */
  expirePat(authorizationId: string): void {
    const pat = this.patById(authorizationId);
    if (!pat) throw new WorldError(`no PAT '${authorizationId}'`);
    pat.validTo = new Date(this.now() - 1000);
  }

  patState(pat: PatRecord): 'active' | 'expired' | 'revoked' {
    if (pat.revokedAt) return 'revoked';
    if (pat.validTo.getTime() <= this.now()) return 'expired';
    return 'active';
  }

  // ---- projects ------------------------------------------------------------------------------

  addProject(orgName: string, name: string, opts: { description?: string; visibility?: 'private' | 'public'; id?: string } = {}): Project {
    const org = this.requireOrganization(orgName);
    if (this.findProject(org, name)) throw new WorldError(`project '${name}' already exists in '${org.name}'`);
    const project: Project = {
      id: opts.id ?? newGuid(),
      orgId: org.id,
      name,
      visibility: opts.visibility ?? 'private',
      state: 'wellFormed',
      revision: 400 + this.projects.size,
      lastUpdateTime: new Date(this.now()),
    };
    if (opts.description !== undefined) project.description = opts.description;
    this.projects.set(project.id, project);
    return project;
  }

  findProject(org: Organization, nameOrId: string): Project | undefined {
    const byId = isGuid(nameOrId) ? this.projects.get(nameOrId.toLowerCase()) : undefined;
    if (byId && byId.orgId === org.id) return byId;
    for (const p of this.projects.values()) if (p.orgId === org.id && sameName(p.name, nameOrId)) return p;
    return undefined;
  }

  projectById(id: string): Project | undefined {
    return this.projects.get(id);
  }

  listProjects(org: Organization): Project[] {
    return [...this.projects.values()].filter((p) => p.orgId === org.id).sort((a, b) => a.name.localeCompare(b.name));
  }

  requireProject(orgName: string, projectName: string): { org: Organization; project: Project } {
    const org = this.requireOrganization(orgName);
    const project = this.findProject(org, projectName);
    if (!project) throw new WorldError(`no project '${projectName}' in '${org.name}'`);
    return { org, project };
  }

  // ---- repositories --------------------------------------------------------------------------

  async createRepository(orgName: string, projectName: string, name: string, seed: RepositorySeed = {}): Promise<Repository> {
    const { org, project } = this.requireProject(orgName, projectName);
    if (this.findRepository(org, project, name)) throw new WorldError(`repository '${name}' already exists in '${project.name}'`);
    const id = newGuid();
    const gitDir = join(this.reposRoot, `${id}.git`);
    const defaultBranch = seed.defaultBranch ?? 'main';
    if (seed.source) {
      // No --local: git then links objects when it can and copies them when it cannot (another file system).
      await runGit(['clone', '--bare', '--quiet', seed.source, gitDir]);
      const repo: Repository = { id, orgId: org.id, projectId: project.id, name, gitDir, isDisabled: false };
      if (seed.createdBy) repo.createdBy = seed.createdBy;
      this.repos.set(id, repo);
      const pusher = seed.createdBy ?? [...org.members][0];
      if (pusher) await this.recordRefChanges(repo, pusher, new Map());
      return repo;
    }
    await initBareRepository(gitDir, defaultBranch);
    const author = this.signatureFor(seed.createdBy);
    const spec: SeedSpec = { commits: seed.commits ?? 1, defaultBranch, author };
    if (seed.branches) spec.branches = seed.branches;
    if (seed.tags) spec.tags = seed.tags;
    if (seed.files) spec.files = seed.files;
    const repo: Repository = { id, orgId: org.id, projectId: project.id, name, gitDir, isDisabled: false };
    if (seed.createdBy) repo.createdBy = seed.createdBy;
    this.repos.set(id, repo);
    // The seeded history arrives as one push by the repository's creator.
    const pusher = seed.createdBy ?? [...org.members][0] ?? this.users.keys().next().value;
    if (pusher) await this.trackPush(repo, pusher, () => seedRepository(gitDir, spec));
    else await seedRepository(gitDir, spec);
    return repo;
  }

  /** Adds a commit to a branch (creating it from the default branch when missing). */
  async commit(
    orgName: string,
    projectName: string,
    repoName: string,
    p: { branch: string; files: Record<string, string | null>; message?: string; authorId?: string },
  ): Promise<string> {
    const repo = this.requireRepository(orgName, projectName, repoName);
    const head = headRef(repo.gitDir);
    const write = (): Promise<string> =>
      commitFiles(repo.gitDir, {
        branch: p.branch.replace(/^refs\/heads\//, ''),
        files: p.files,
        message: p.message ?? `Update ${Object.keys(p.files).join(', ')}`,
        author: this.signatureFor(p.authorId),
        ...(head ? { from: head } : {}),
      });
    const pusher = p.authorId ?? repo.createdBy ?? [...(this.organizationById(repo.orgId)?.members ?? [])][0];
    return pusher ? this.trackPush(repo, pusher, write) : write();
  }

  // ---- pushes --------------------------------------------------------------------------------

  /**
   * Runs `mutate` (anything that moves refs: a seed, a commit, `git push`, a pull request completing)
   * and records what moved as one push by `pushedBy`. Pull request merge refs are not pushes.
   */
  async trackPush<T>(repo: Repository, pushedBy: string, mutate: () => Promise<T>): Promise<T> {
    const before = await this.branchAndTagRefs(repo);
    const result = await mutate();
    await this.recordRefChanges(repo, pushedBy, before);
    return result;
  }

  /** Refs a push can move (heads and tags), as name → object id. */
  async branchAndTagRefs(repo: Repository): Promise<Map<string, string>> {
    const refs = await listRefs(repo.gitDir);
    return new Map(refs.filter((r) => /^refs\/(heads|tags)\//.test(r.name)).map((r) => [r.name, r.objectId]));
  }

  /** Records the difference between `before` and the refs now on disk as one push (nothing when nothing moved). */
  async recordRefChanges(repo: Repository, pushedBy: string, before: Map<string, string>): Promise<PushRecord | undefined> {
    const after = await this.branchAndTagRefs(repo);
    const refUpdates: RefUpdate[] = [];
    for (const [name, id] of after)
      if (before.get(name) !== id) refUpdates.push({ name, oldObjectId: before.get(name) ?? ZERO_SHA, newObjectId: id });
    for (const [name, id] of before) if (!after.has(name)) refUpdates.push({ name, oldObjectId: id, newObjectId: ZERO_SHA });
    if (refUpdates.length === 0) return undefined;
    const tips = refUpdates.map((u) => u.newObjectId).filter((id) => id !== ZERO_SHA);
    const commits = (await newCommits(repo.gitDir, tips, [...new Set(before.values())])).filter(
      (c) => !this.commitPushes.has(`${repo.id}/${c}`),
    );
    const list = this.pushes.get(repo.id) ?? [];
    const push: PushRecord = {
      pushId: (list.at(-1)?.pushId ?? 0) + 1,
      repositoryId: repo.id,
      pushedBy,
      date: new Date(this.now()),
      refUpdates,
      commits,
    };
    list.push(push);
    this.pushes.set(repo.id, list);
    for (const c of commits) this.commitPushes.set(`${repo.id}/${c}`, push.pushId);
    return push;
  }

  /** Oldest first. */
  listPushes(repo: Repository): PushRecord[] {
    return [...(this.pushes.get(repo.id) ?? [])];
  }

  push(repo: Repository, pushId: number): PushRecord | undefined {
    return this.pushes.get(repo.id)?.find((p) => p.pushId === pushId);
  }

  /** The push that brought a commit in. */
  pushOfCommit(repo: Repository, sha: string): PushRecord | undefined {
    const id = this.commitPushes.get(`${repo.id}/${sha}`);
    return id === undefined ? undefined : this.push(repo, id);
  }

  findRepository(org: Organization, project: Project | null, nameOrId: string): Repository | undefined {
    if (isGuid(nameOrId)) {
      const r = this.repos.get(nameOrId.toLowerCase());
      if (r && r.orgId === org.id && (!project || r.projectId === project.id)) return r;
    }
    const candidates = [...this.repos.values()].filter(
      (r) => r.orgId === org.id && (!project || r.projectId === project.id) && sameName(r.name, nameOrId),
    );
    return candidates.length === 1 ? candidates[0] : undefined;
  }

  requireRepository(orgName: string, projectName: string, repoName: string): Repository {
    const { org, project } = this.requireProject(orgName, projectName);
    const repo = this.findRepository(org, project, repoName);
    if (!repo) throw new WorldError(`no repository '${repoName}' in '${project.name}'`);
    return repo;
  }

  repositoryById(id: string): Repository | undefined {
    return this.repos.get(id);
  }

  // ---- repository permissions ---------------------------------------------------------------

  /**
   * The repository's "Read" permission set to Deny for one identity (project members read every
   * repository of the project otherwise). The service then answers that identity as if the
   * repository did not exist (TF401019, 404) over REST and git, and leaves it out of listings.
   */
  denyRepositoryRead(repo: Repository, identityId: string): void {
    const denied = this.readDenied.get(repo.id) ?? new Set<string>();
    denied.add(identityId);
    this.readDenied.set(repo.id, denied);
  }

  allowRepositoryRead(repo: Repository, identityId: string): void {
    this.readDenied.get(repo.id)?.delete(identityId);
  }

  canReadRepository(repo: Repository, identityId: string): boolean {
    return !this.readDenied.get(repo.id)?.has(identityId);
  }

  /** Notes a refusal for lack of Read, so tests can see the service was asked and said no. */
  recordRepositoryDenial(repo: Repository, identityId: string, via: RepositoryDenial['via']): void {
    this.denials.push({ identityId, repositoryId: repo.id, via, at: new Date(this.now()) });
    if (this.denials.length > 1000) this.denials.shift();
  }

  /** Refusals for lack of Read, oldest first (the last 1,000). */
  repositoryDenials(): RepositoryDenial[] {
    return this.denials.map((d) => ({ ...d }));
  }

  listRepositories(org: Organization, project?: Project): Repository[] {
    return [...this.repos.values()]
      .filter((r) => r.orgId === org.id && (!project || r.projectId === project.id))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** `refs/heads/x` when HEAD names an existing branch; undefined for an empty repository. */
  defaultBranch(repo: Repository): string | undefined {
    const ref = headRef(repo.gitDir);
    return ref && refExistsOnDisk(repo.gitDir, ref) ? ref : undefined;
  }

  // ---- pull requests -------------------------------------------------------------------------

  /**
   * Opens a pull request and writes `refs/pull/{id}/merge`: a real merge commit of the source into the
   * target (no merge ref on conflicts, mergeStatus "conflicts").
   */
  async createPullRequest(
    orgName: string,
    projectName: string,
    repoName: string,
    p: {
      sourceRefName: string;
      targetRefName?: string;
      title?: string;
      description?: string;
      createdBy?: string;
      isDraft?: boolean;
      status?: PullRequestStatus;
      reviewers?: string[];
    },
  ): Promise<PullRequest> {
    const repo = this.requireRepository(orgName, projectName, repoName);
    const org = this.organizationById(repo.orgId)!;
    const full = (r: string): string => (r.startsWith('refs/') ? r : `refs/heads/${r}`);
    const sourceRefName = full(p.sourceRefName);
    const targetRefName = full(p.targetRefName ?? this.defaultBranch(repo) ?? 'refs/heads/main');
    const source = await resolveCommit(repo.gitDir, sourceRefName);
    const target = await resolveCommit(repo.gitDir, targetRefName);
    if (!source) throw new WorldError(`source branch '${sourceRefName}' does not exist`);
    if (!target) throw new WorldError(`target branch '${targetRefName}' does not exist`);
    if (sourceRefName.toLowerCase() === targetRefName.toLowerCase())
      throw new PullRequestRuleError('same-branch', sourceRefName, targetRefName);
    if ((p.status ?? 'active') === 'active' && this.activePullRequestFor(org, repo, sourceRefName, targetRefName)) {
      throw new PullRequestRuleError('duplicate', sourceRefName, targetRefName);
    }
    const id = (this.prCounters.get(org.id) ?? 0) + 1;
    this.prCounters.set(org.id, id);
    const createdBy = p.createdBy ?? repo.createdBy ?? [...org.members][0] ?? this.anyUserId();
    const short = (r: string): string => r.replace(/^refs\/heads\//, '');
    const merge = await createMergeCommit(repo.gitDir, {
      target,
      source,
      message: `Merge pull request ${id} from ${short(sourceRefName)} into ${short(targetRefName)}`,
      author: this.signatureFor(createdBy),
    });
    if (merge) await updateRef(repo.gitDir, `refs/pull/${id}/merge`, merge);
    const pr: PullRequest = {
      id,
      orgId: org.id,
      projectId: repo.projectId,
      repositoryId: repo.id,
      title: p.title ?? `Merge ${short(sourceRefName)} into ${short(targetRefName)}`,
      description: p.description ?? '',
      sourceRefName,
      targetRefName,
      status: p.status ?? 'active',
      isDraft: p.isDraft ?? false,
      createdBy,
      creationDate: new Date(this.now()),
      mergeId: newGuid(),
      mergeStatus: merge ? 'succeeded' : 'conflicts',
      lastMergeSourceCommit: source,
      lastMergeTargetCommit: target,
      reviewers: p.reviewers ?? [],
    };
    if (merge) pr.lastMergeCommit = merge;
    if (pr.status !== 'active') pr.closedDate = new Date(this.now());
    this.pullRequests.set(`${org.id}/${id}`, pr);
    return pr;
  }

  /** The active pull request from `source` into `target` in the repository, if any. */
  activePullRequestFor(org: Organization, repo: Repository, source: string, target: string): PullRequest | undefined {
    return [...this.pullRequests.values()].find(
      (pr) =>
        pr.orgId === org.id &&
        pr.repositoryId === repo.id &&
        pr.status === 'active' &&
        pr.sourceRefName.toLowerCase() === source.toLowerCase() &&
        pr.targetRefName.toLowerCase() === target.toLowerCase(),
    );
  }

  /** Sets the status without merging (a test shortcut; completing over REST merges: completePullRequest). */
  setPullRequestStatus(orgName: string, id: number, status: PullRequestStatus, by?: string): PullRequest {
    const org = this.requireOrganization(orgName);
    const pr = this.pullRequests.get(`${org.id}/${id}`);
    if (!pr) throw new WorldError(`no pull request ${id} in '${org.name}'`);
    if (status === 'active' && pr.status !== 'active') {
      const repo = this.repos.get(pr.repositoryId)!;
      if (this.activePullRequestFor(org, repo, pr.sourceRefName, pr.targetRefName))
        throw new PullRequestRuleError('duplicate', pr.sourceRefName, pr.targetRefName);
    }
    pr.status = status;
    if (status === 'active') {
      delete pr.closedDate;
      delete pr.closedBy;
    } else {
      pr.closedDate = new Date(this.now());
      if (by) pr.closedBy = by;
    }
    return pr;
  }

  /**
   * Completes an active pull request: the target branch moves to its merge commit, as one push by
   * `by`. Refused when the merge has conflicts or the source moved since the merge was computed.
   */
  async completePullRequest(org: Organization, id: number, by: string, expectedSourceCommit: string): Promise<PullRequest> {
    const pr = this.pullRequests.get(`${org.id}/${id}`);
    if (!pr) throw new WorldError(`no pull request ${id} in '${org.name}'`);
    const repo = this.repos.get(pr.repositoryId)!;
    if (pr.status !== 'active') throw new PullRequestRuleError('not-active', pr.sourceRefName, pr.targetRefName);
    if (expectedSourceCommit.toLowerCase() !== pr.lastMergeSourceCommit)
      throw new PullRequestRuleError('stale-source', pr.sourceRefName, pr.targetRefName);
    if (pr.mergeStatus !== 'succeeded' || !pr.lastMergeCommit)
      throw new PullRequestRuleError('conflicts', pr.sourceRefName, pr.targetRefName);
    const merge = pr.lastMergeCommit;
    await this.trackPush(repo, by, () => updateRef(repo.gitDir, pr.targetRefName, merge));
    pr.status = 'completed';
    pr.closedDate = new Date(this.now());
    pr.closedBy = by;
    return pr;
  }

  pullRequest(org: Organization, id: number): PullRequest | undefined {
    return this.pullRequests.get(`${org.id}/${id}`);
  }

  listPullRequests(org: Organization): PullRequest[] {
    return [...this.pullRequests.values()].filter((p) => p.orgId === org.id).sort((a, b) => b.id - a.id);
  }

  // ---- variable groups -----------------------------------------------------------------------

  /** `projects` entries name a project by `projectId` or by `project` (its name). */
  addVariableGroup(
    orgName: string,
    input: {
      name: string;
      description?: string;
      type?: string;
      variables: Record<string, VariableValue>;
      projects: Array<{ projectId?: string; project?: string; name?: string; description?: string }>;
      createdBy: string;
    },
  ): VariableGroup {
    const org = this.requireOrganization(orgName);
    const projects = input.projects.map((p) => {
      const found = this.findProject(org, p.projectId ?? p.project ?? '');
      if (!found) throw new WorldError(`no project '${p.projectId ?? p.project ?? ''}' in '${org.name}'`);
      const ref: { projectId: string; name?: string; description?: string } = { projectId: found.id };
      if (p.name !== undefined) ref.name = p.name;
      if (p.description !== undefined) ref.description = p.description;
      return ref;
    });
    if (projects.length === 0) throw new WorldError('a variable group belongs to at least one project');
    const id = (this.vgCounters.get(org.id) ?? 0) + 1;
    this.vgCounters.set(org.id, id);
    const now = new Date(this.now());
    const vg: VariableGroup = {
      id,
      roles: new Map([[input.createdBy, 'Administrator']]),
      orgId: org.id,
      name: input.name,
      type: input.type ?? 'Vsts',
      variables: new Map(),
      projectRefs: projects.map((p) => this.projectRef(p, input.name, input.description)),
      createdBy: input.createdBy,
      createdOn: now,
      modifiedBy: input.createdBy,
      modifiedOn: now,
    };
    if (input.description !== undefined) vg.description = input.description;
    this.applyVariables(vg, input.variables);
    this.variableGroups.set(`${org.id}/${id}`, vg);
    return vg;
  }

  private projectRef(
    p: { projectId: string; name?: string; description?: string },
    name: string,
    description?: string,
  ): VariableGroupProjectRef {
    const ref: VariableGroupProjectRef = { projectId: p.projectId, name: p.name ?? name };
    const d = p.description ?? description;
    if (d !== undefined) ref.description = d;
    return ref;
  }

  /**
   * Replaces the variables. A secret sent back as `value: null` keeps its stored value: clients can
   * only ever read secrets as null, so a read-modify-write must not wipe them (unconfirmed against
   * the service; it matches how the web UI round-trips secrets).
   */
  private applyVariables(vg: VariableGroup, vars: Record<string, VariableValue>): void {
    const next = new Map<string, { value: string | null; isSecret: boolean; isReadOnly: boolean }>();
    for (const [name, v] of Object.entries(vars)) {
      const previous = [...vg.variables.entries()].find(([k]) => sameName(k, name))?.[1];
      const isSecret = Boolean(v.isSecret);
      const value = v.value ?? (isSecret && previous?.isSecret ? previous.value : null);
      next.set(name, { value: value ?? null, isSecret, isReadOnly: Boolean(v.isReadOnly) });
    }
    vg.variables = next;
  }

  updateVariableGroup(
    org: Organization,
    id: number,
    input: {
      name: string;
      description?: string;
      type?: string;
      variables: Record<string, VariableValue>;
      projects: Array<{ projectId: string; name?: string; description?: string }>;
      modifiedBy: string;
    },
  ): VariableGroup | undefined {
    const vg = this.variableGroups.get(`${org.id}/${id}`);
    if (!vg) return undefined;
    vg.name = input.name;
    if (input.description !== undefined) vg.description = input.description;
    else delete vg.description;
    if (input.type) vg.type = input.type;
    this.applyVariables(vg, input.variables);
    vg.projectRefs = input.projects.map((p) => this.projectRef(p, input.name, input.description));
    vg.modifiedBy = input.modifiedBy;
    vg.modifiedOn = new Date(this.now());
    return vg;
  }

  /** Removes the group from the given projects; the group disappears with its last project. */
  deleteVariableGroup(org: Organization, id: number, projectIds: string[]): boolean {
    const key = `${org.id}/${id}`;
    const vg = this.variableGroups.get(key);
    if (!vg) return false;
    const drop = new Set(projectIds.map((p) => p.toLowerCase()));
    vg.projectRefs = vg.projectRefs.filter((r) => !drop.has(r.projectId));
    if (vg.projectRefs.length === 0) this.variableGroups.delete(key);
    return true;
  }

  /** The caller's role on a group (Reader unless granted more). */
  variableGroupRole(vg: VariableGroup, identityId: string): VariableGroupRole {
    return vg.roles.get(identityId) ?? 'Reader';
  }

  setVariableGroupRole(orgName: string, groupId: number, identityId: string, role: VariableGroupRole): void {
    const org = this.requireOrganization(orgName);
    const vg = this.variableGroups.get(`${org.id}/${groupId}`);
    if (!vg) throw new WorldError(`no variable group ${groupId} in '${org.name}'`);
    if (!this.identity(identityId, org)) throw new WorldError(`no identity '${identityId}' in '${org.name}'`);
    vg.roles.set(identityId, role);
  }

  variableGroup(org: Organization, id: number): VariableGroup | undefined {
    return this.variableGroups.get(`${org.id}/${id}`);
  }

  listVariableGroups(org: Organization, project?: Project): VariableGroup[] {
    return [...this.variableGroups.values()].filter(
      (vg) => vg.orgId === org.id && (!project || vg.projectRefs.some((r) => r.projectId === project.id)),
    );
  }

  /** Test helper: a variable's stored value, secrets included (never reachable over REST). */
  readVariable(orgName: string, groupId: number, name: string): string | null | undefined {
    const org = this.requireOrganization(orgName);
    const vg = this.variableGroups.get(`${org.id}/${groupId}`);
    if (!vg) return undefined;
    for (const [k, v] of vg.variables) if (sameName(k, name)) return v.value;
    return undefined;
  }

  // ---- helpers -------------------------------------------------------------------------------

  identity(id: string, org?: Organization): Identity | undefined {
    const user = this.users.get(id);
    if (user) return user;
    const orgs = org ? [org] : [...this.orgs.values()];
    for (const o of orgs) for (const sp of o.servicePrincipals.values()) if (sp.id === id) return sp;
    return undefined;
  }

  private anyUserId(): string {
    const first = this.users.keys().next();
    if (first.done) throw new WorldError('create a user first: pull requests need an author');
    return first.value;
  }

  private signatureFor(userId: string | undefined): { name: string; email: string } {
    const u = userId ? this.users.get(userId) : undefined;
    return u ? { name: u.displayName, email: u.email } : { name: 'Emulator', email: 'emulator@example.invalid' };
  }
}
