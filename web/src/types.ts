// Shapes of the /api/v1 answers the UI reads (see GET /api/openapi.json). Where the server already
// defines the shape it sends as is, it is imported (types only: nothing of the server reaches the bundle).
import type { AppConnectionMethod, ConnectionValidation as RunnerValidation } from '../../src/control/app-connections.ts';
import type { RepositoryContext, RepositoryRef } from '../../src/azure-devops/url.ts';

export type Role = 'admin' | 'member';

export interface Organization {
  id: string;
  slug: string;
  name: string;
}

export interface Me {
  user: { id: string; email: string; displayName: string };
  organization: Organization;
  role: Role;
  organizations: (Organization & { role: Role })[];
  csrfToken: string | null;
  authenticatedBy: 'session' | 'api-token';
}

export interface Member {
  id: string;
  email: string;
  displayName: string;
  role: Role;
  createdAt: string;
  disabled: boolean;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  organizationId: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface CreatedApiToken {
  id: string;
  name: string;
  token: string;
  expiresAt: string | null;
}

export interface AuditEvent {
  id: string;
  createdAt: string;
  /** `label` is what was recorded then (an email, a runner's name); `name` is the actor's name now, null when unknown or gone. */
  actor: { type: string; id: string | null; label: string | null; name: string | null };
  action: string;
  /** `name` is null when the target has no name or no longer exists. */
  target: { type: string; id: string | null; name: string | null } | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

export type RunnerStatus = 'pending' | 'online' | 'offline' | 'revoked';

export interface Runner {
  id: string;
  name: string;
  status: RunnerStatus;
  lastSeenAt: string | null;
  version: string | null;
  publicKey: string | null;
  publicKeyFingerprint: string | null;
  createdAt: string;
  local: boolean;
}

export interface CreatedRunner {
  runner: Runner;
  exchangeToken: string;
  exchangeExpiresAt: string | null;
  command: string;
}

export interface IntegrationTest {
  valid: boolean;
  hostError?: string;
  oauthError?: string;
  patError?: string;
  scmIdError?: string;
  runnerError?: string;
  testedAt: string;
}

export interface Integration {
  id: string;
  runnerId: string;
  scmId: 'azure-devops';
  host: string;
  /** '' when none (always for dev.azure.com). */
  virtualDirectory: string;
  kind?: 'services' | 'server';
  oauth: { clientId: string; issuerUrl: string; clientSecretSet: boolean; callbackUrl: string } | null;
  pat: { enabled: boolean };
  lastTest: IntegrationTest | null;
  createdAt: string;
  updatedAt: string;
}

export interface SavedIntegration {
  integration: Integration;
  test: IntegrationTest;
  /** PATCH only: methods whose users' credentials the change removed. */
  purgedMethods?: string[];
}

// ---- Authorize (CheckAuthenticationForHost, host authorizations) ----

export type AuthorizationWarning = 'expires-soon' | 'expired' | 'needs-reauthorization';

export interface HostAuthorization {
  id: string;
  runnerId?: string;
  integrationId: string | null;
  host: string;
  method: string;
  scopes: string[];
  identity: string | null;
  organization: string | null;
  status: string;
  reauthorizationReason: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  warnings: string[];
}

export interface PatOffer {
  /** Deep link to the PAT page; null until the organization is known. */
  createUrl: string | null;
  docsUrl: string;
  example: string | null;
  requiredScopes: { scope: string; label: string }[];
  suggestedName: string;
  suggestedExpiryDays: number;
}

/** What the user may do to authorize a host: only the methods the admin enabled. */
export interface AuthenticationOffers {
  integrationId: string;
  runnerId: string;
  host: string;
  supportsOauth2?: { authUrl: string; docsUrl: string };
  supportsPat?: PatOffer;
}

export interface AuthenticationCheck extends AuthenticationOffers {
  authenticated: boolean;
  authorization: HostAuthorization | null;
  scmId: string;
  scmName: string;
}

export interface StoredPat {
  authorizationId: string;
  identity: string | null;
  expiresAt: string | null;
}

/** What the OAuth callback page posts to its opener (src/management/oauth/callback-page.ts). */
export interface AuthorizationMessage {
  type: 'keyway:authorization';
  ok: boolean;
  code: string;
  message: string;
}

// ---- Open a repository ----

export type RefType = RepositoryRef['type'];

/** ParseContextURL's answer is the parser's own result. */
export type { RepositoryContext };

export interface RepositoryInfo {
  id: string;
  name: string;
  project: { id: string; name: string };
  defaultBranch: string | null;
  webUrl: string;
  cloneUrl: string;
}

export interface PullRequestInfo {
  id: number;
  title: string;
  status: string;
  isDraft: boolean;
  sourceRef: string;
  targetRef: string;
  mergeRef: string;
  mergeStatus: string | null;
  sourceSha: string | null;
  targetSha: string | null;
}

export interface ResolvedRef {
  type: RefType;
  name: string;
  fullName?: string;
  sha?: string;
  isDefault?: boolean;
  pullRequest?: PullRequestInfo;
}

export interface ResolvedContext {
  context: RepositoryContext;
  repository: RepositoryInfo;
  ref: ResolvedRef | null;
  integrationId: string;
  runnerId: string;
}

export type AccessReason = 'not_authorized' | 'reauthorization_required' | 'not_found' | 'oauth_blocked' | 'unavailable';

export interface AccessCheck {
  hasAccess: boolean;
  reason: AccessReason | null;
  errorMessage: string | null;
  repository?: RepositoryInfo;
  authentication?: AuthenticationOffers;
  context: RepositoryContext;
  integrationId: string;
  runnerId: string;
}

export type EnvironmentStatus = 'cloning' | 'ready' | 'failed' | 'deleting';

export interface Environment {
  id: string;
  runnerId: string;
  integrationId: string;
  contextUrl: string;
  repository: { kind: string; host: string; organization: string; project: string; repository: string; webUrl: string };
  ref: { type: string; name?: string; sha?: string; pullRequestId?: number; checkout?: string } | null;
  status: EnvironmentStatus;
  progress: { phase: string; percent: number; phases: string[] } | null;
  error: { code: string; message: string } | null;
  workspacePath: string | null;
  checkout: { commit: string; description: string; branch: string | null } | null;
  /** The workspace's size on the runner's disk, as last measured. */
  diskBytes?: number | null;
  /** When its git last asked the runner for a token. */
  lastUsedAt?: string | null;
  /** How much of the repository it fetched (blobless, shallow). */
  clone?: CloneOptions;
  createdAt: string;
  updatedAt: string;
}

// ---- Projects, app connections, variable group syncs ----

export interface Project {
  id: string;
  organizationId: string;
  name: string;
  slug: string;
  role: 'admin' | 'owner' | 'member';
  createdAt: string;
}

export type ConnectionMethod = AppConnectionMethod;

/** The runner's verdict as the API answers it (a test also says when it ran). */
export type ConnectionValidation = RunnerValidation & { testedAt?: string };

export interface AppConnection {
  id: string;
  projectId: string;
  runnerId: string;
  name: string;
  method: ConnectionMethod;
  organization: string | null;
  tenantId: string | null;
  clientId: string | null;
  status: string;
  credentialSet: boolean;
  identity: { id: string; displayName?: string } | null;
  organizations?: string[];
  lastTest: ConnectionValidation | null;
  /** Where project members may point syncs through it; null: owners only. */
  memberTargets?: MemberTarget[] | null;
  createdAt: string;
  updatedAt: string;
}

export interface MemberTarget {
  organization: string;
  project: string;
  /** `*` for any run of characters; null: any group of the project. */
  groupPattern: string | null;
}

/** POST /projects/{id}/app-connections (and PATCH): the connection and how its credential was checked. */
export interface SavedConnection {
  connection: AppConnection;
  validation: ConnectionValidation;
  /**
   * oauth only: the same-origin path that starts the consent in Entra ID. The connection stays
   * pending (no credential) until the browser comes back from it.
   */
  authorizeUrl?: string;
}

export interface OAuthAppConfiguration {
  configured: boolean;
  clientId: string | null;
  redirectUri: string;
  problems: string[];
}

export interface SyncRun {
  id: string;
  syncId: string;
  trigger: string;
  status: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  counts: { created: number; updated: number; deleted: number; unchanged: number } | null;
  writes: number | null;
  requests: number | null;
  retries: number | null;
  groupId: number | null;
  error: string | null;
}

export interface VariableSync {
  id: string;
  projectId: string;
  connectionId: string;
  name: string;
  organization: string;
  project: string;
  groupName: string;
  description: string | null;
  variables: { name: string; isSecret: boolean }[];
  variableCount: number;
  /** A project owner let it write into an existing group it did not create. */
  adoptExisting?: boolean;
  /** Variables Keyway did not write that a project owner let it overwrite. */
  takeOver?: string[];
  enabled: boolean;
  scheduleMinutes: number | null;
  nextRunAt: string | null;
  running: boolean;
  lastRun: SyncRun | null;
  createdAt: string;
  updatedAt: string;
}

// ---- Repository cache and clone options (issue 20) ----

/** What a runner last reported of its repository cache (totals only). */
export interface RepositoryCacheUsage {
  bytes: number;
  limitBytes: number;
  repositories: number;
  replicas: number;
  updatedAt: string | null;
}

/** How much of a repository an environment fetches: blobless, shallow, or everything (null). */
export interface CloneOptions {
  filter: 'blob:none' | null;
  depth: number | null;
}
