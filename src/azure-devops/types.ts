// Shapes of the Azure DevOps answers Keyway reads, from the 7.1 OpenAPI definitions
// (emulator/contract/azure-devops-rest-7.1/). Only the fields Keyway uses or shows are typed;
// the service sends more. Fields the service may omit are optional.

/** How Keyway authenticates. The method travels with the token: never infer it from the token's shape. */
export type AzureDevOpsCredential =
  /** Personal access token: HTTP Basic with an empty user name and the PAT as password. */
  | { kind: 'pat'; token: string }
  /** Entra ID access token for Azure DevOps (resource 499b84ac-1321-427f-aa17-267ca6975798). */
  | { kind: 'bearer'; token: string };

/** One page of a list. `continuationToken` is present when the service has more. */
export interface Page<T> {
  items: T[];
  continuationToken?: string;
}

/** Answer to a conditional GET (`ifNoneMatch`). */
export type Conditional<T> = { notModified: true; etag: string } | { notModified: false; value: T; etag?: string };

export interface IdentityRef {
  id: string;
  displayName?: string;
  uniqueName?: string;
  descriptor?: string;
  imageUrl?: string;
}

/**
 * connectionData (not in the specs; shape from Microsoft's Node SDK:
 * docs/azure-devops.md, "REST calls").
 */
export interface ConnectionData {
  authenticatedUser: IdentityRef & { providerDisplayName?: string; subjectDescriptor?: string; isActive?: boolean };
  authorizedUser?: IdentityRef & { providerDisplayName?: string };
  instanceId: string;
  deploymentId?: string;
  /** `hosted` for Azure DevOps Services, `onPremises` for Azure DevOps Server. */
  deploymentType?: 'hosted' | 'onPremises' | string;
  locationServiceData?: Record<string, unknown>;
}

export interface ProbeResult {
  isAzureDevOps: boolean;
  deploymentType?: string;
  resourceTenantId?: string;
  /** HTTP status of the probe, when there was an answer. */
  status?: number;
  /** Why the answer was judged so (for logs and the admin UI). */
  reason: string;
}

/** Profile (profile/7.1): `profiles/me`. */
export interface Profile {
  id: string;
  displayName?: string;
  publicAlias?: string;
  emailAddress?: string;
  coreRevision?: number;
  timeStamp?: string;
  revision?: number;
}

/** Account (account/7.1): one organization the member belongs to. */
export interface Account {
  accountId: string;
  accountName: string;
  accountUri?: string;
  accountOwner?: string;
  accountStatus?: 'none' | 'enabled' | 'disabled' | 'deleted' | 'moved';
  accountType?: 'personal' | 'organization';
  organizationName?: string;
  properties?: Record<string, unknown>;
}

/** TeamProjectReference (core/7.1). */
export interface TeamProjectReference {
  id: string;
  name: string;
  description?: string;
  url?: string;
  state?: 'deleting' | 'new' | 'wellFormed' | 'createPending' | 'all' | 'unchanged' | 'deleted';
  revision?: number;
  visibility?: 'private' | 'public';
  lastUpdateTime?: string;
}

/** TeamProject (core/7.1). */
export interface TeamProject extends TeamProjectReference {
  capabilities?: Record<string, Record<string, string>>;
  defaultTeam?: { id: string; name: string; url?: string };
  _links?: Record<string, { href: string }>;
}

/** GitRepository (git/7.1). */
export interface GitRepository {
  id: string;
  name: string;
  url?: string;
  project: TeamProjectReference;
  defaultBranch?: string;
  size?: number;
  remoteUrl?: string;
  sshUrl?: string;
  webUrl?: string;
  isDisabled?: boolean;
  isFork?: boolean;
  isInMaintenance?: boolean;
  validRemoteUrls?: string[];
}

/** GitRef (git/7.1). `name` is the full ref name, e.g. `refs/heads/main`. */
export interface GitRef {
  name: string;
  objectId: string;
  /** Commit an annotated tag points to (only with `peelTags`). */
  peeledObjectId?: string;
  creator?: IdentityRef;
  isLocked?: boolean;
  url?: string;
}

export interface GitUserDate {
  name?: string;
  email?: string;
  date?: string;
}

/** GitCommitRef (git/7.1). */
export interface GitCommitRef {
  commitId: string;
  author?: GitUserDate;
  committer?: GitUserDate;
  comment?: string;
  commentTruncated?: boolean;
  parents?: string[];
  url?: string;
  remoteUrl?: string;
  changeCounts?: Record<string, number>;
}

/** GitCommit (git/7.1). */
export interface GitCommit extends GitCommitRef {
  treeId?: string;
}

export type PullRequestStatus = 'notSet' | 'active' | 'abandoned' | 'completed' | 'all';

/** GitPullRequest (git/7.1). */
export interface GitPullRequest {
  pullRequestId: number;
  status?: PullRequestStatus;
  title?: string;
  description?: string;
  isDraft?: boolean;
  sourceRefName?: string;
  targetRefName?: string;
  createdBy?: IdentityRef;
  creationDate?: string;
  closedDate?: string;
  mergeStatus?: 'notSet' | 'queued' | 'conflicts' | 'succeeded' | 'rejectedByPolicy' | 'failure';
  lastMergeSourceCommit?: { commitId: string; url?: string };
  lastMergeTargetCommit?: { commitId: string; url?: string };
  lastMergeCommit?: { commitId: string; url?: string };
  repository?: GitRepository;
  url?: string;
  forkSource?: { name?: string; repository?: GitRepository };
}

export type GitVersionType = 'branch' | 'tag' | 'commit';

/** GitVersionDescriptor: which version of a file to read. */
export interface GitVersion {
  type: GitVersionType;
  /** Branch or tag name without `refs/heads/` / `refs/tags/`, or a commit id. */
  value: string;
}

/** A file's bytes at a version. */
export interface ItemContent {
  path: string;
  bytes: Uint8Array;
  /** `bytes` decoded as UTF-8 (invalid sequences replaced). */
  text: string;
  contentType?: string;
}

/** VariableValue (distributedTask/7.1). Secret values come back as `value: null`. */
export interface VariableValue {
  value?: string | null;
  isSecret?: boolean;
  isReadOnly?: boolean;
}

export interface VariableGroupProjectReference {
  name: string;
  description?: string;
  projectReference: { id: string; name?: string };
}

/** VariableGroup (distributedTask/7.1). */
export interface VariableGroup {
  id: number;
  name: string;
  description?: string;
  type?: string;
  isShared?: boolean;
  variables: Record<string, VariableValue>;
  variableGroupProjectReferences?: VariableGroupProjectReference[];
  createdBy?: IdentityRef;
  createdOn?: string;
  modifiedBy?: IdentityRef;
  modifiedOn?: string;
  providerData?: Record<string, unknown> | null;
}

/** VariableGroupParameters (distributedTask/7.1): body of add and update. */
export interface VariableGroupParameters {
  name: string;
  description?: string;
  /** `Vsts` for a plain group (the default when omitted here). */
  type?: string;
  variables: Record<string, VariableValue>;
  variableGroupProjectReferences: VariableGroupProjectReference[];
  providerData?: Record<string, unknown>;
}

/** PatToken (tokens/7.1). `token` is set only in the answer to create. */
export interface PatToken {
  authorizationId: string;
  displayName: string;
  scope: string;
  validFrom?: string;
  validTo: string;
  targetAccounts?: string[] | null;
  token?: string | null;
}

export interface PatCreateRequest {
  displayName: string;
  /** Space-separated scopes, e.g. `vso.code vso.variablegroups_manage`. */
  scope: string;
  /** ISO 8601. */
  validTo: string;
  allOrgs: boolean;
}
