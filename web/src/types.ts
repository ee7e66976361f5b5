// Shapes of the /api/v1 answers the UI reads (see GET /api/openapi.json). Where the server already
// defines the shape it sends as is, it is imported (types only: nothing of the server reaches the bundle).
import type { AppConnectionMethod, ConnectionValidation as RunnerValidation } from '../../src/control/app-connections.ts';
import type { ClientCredentialState as RunnerCredentialState, ClientCredentialType } from '../../src/control/client-credentials.ts';
import type { RepositoryContext, RepositoryRef } from '../../src/azure-devops/url.ts';
import type { AccessReason, RepositoryInfo, ResolvedPullRequest as PullRequestInfo, ResolvedRef } from '../../src/control/repositories.ts';
import type { EnvironmentCheckout, EnvironmentProgressValue, EnvironmentStatus } from '../../src/control/environments.ts';

export type Role = 'admin' | 'member';

export interface Organization {
  id: string;
  slug: string;
  name: string;
}

/** How a browser session was signed in (the `invitation` kind: by creating the account from an invitation). */
export type AuthMethod = 'password' | 'link' | 'sso' | 'invitation';

/** GET /me: `organization` and `role` are null while the session is in no organization yet (see OrganizationChooser). */
export interface Me {
  user: { id: string; email: string; displayName: string; operator: boolean; hasPassword: boolean };
  organization: Organization | null;
  role: Role | null;
  /** `available` is false when this session cannot enter it (the organization requires single sign-on). */
  organizations: (Organization & { role: Role; available: boolean })[];
  csrfToken: string | null;
  authenticatedBy: 'session' | 'api-token';
  authMethod: AuthMethod | null;
  authenticatedAt: string | null;
}

/** A session that is in an organization: what every signed-in page works with. */
export type MeInOrganization = Me & { organization: Organization; role: Role };

export interface Member {
  id: string;
  email: string;
  displayName: string;
  role: Role;
  /** When the account was created. */
  createdAt: string;
  /** When the person joined this organization. */
  joinedAt: string;
  source: MemberSource;
  disabled: boolean;
}

export type MemberSource = 'direct' | 'invitation' | 'sso' | 'bootstrap' | 'operator';

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
  /** AADSTS50011: the callback is not a redirect URI of the app registration. */
  redirectUriError?: string;
  /** A Server URL that named a collection: what was saved instead. */
  serverLayout?: { virtualDirectory: string; collection: string };
  hostNote?: string;
  /** The runner key changed after this test. */
  stale?: boolean;
  staleReason?: string;
  /** About the app's next certificate: accepted by Entra ID (now in use), or still to be uploaded. */
  credentialNote?: string;
}

/** A change whose test failed: the stored configuration keeps serving beside it. */
export interface IntegrationDraft {
  host: string;
  virtualDirectory: string;
  oauth: {
    clientId: string;
    issuerUrl: string;
    clientSecretSet: boolean;
    credential?: ClientCredentialType;
    managedIdentityClientId?: string;
    credentialState?: ClientCredentialState;
  } | null;
  pat: { enabled: boolean };
  test: IntegrationTest;
  wouldPurge: string[];
  proposedAt: string;
}

export interface Integration {
  id: string;
  runnerId: string;
  /** 'azure-devops' (the only one today). */
  scmId: string;
  host: string;
  /** '' when none (always for dev.azure.com). */
  virtualDirectory: string;
  kind?: 'services' | 'server';
  oauth: {
    clientId: string;
    issuerUrl: string;
    clientSecretSet: boolean;
    callbackUrl: string;
    /** How the runner authenticates as the app: only client-secret has a secret. */
    credential: ClientCredentialType;
    managedIdentityClientId?: string;
    /** Without a secret: what to register in Entra ID, as the runner last said. */
    credentialState?: ClientCredentialState;
  } | null;
  pat: { enabled: boolean };
  lastTest: IntegrationTest | null;
  draft?: IntegrationDraft | null;
  createdAt: string;
  updatedAt: string;
}

/** POST …/scm-integrations: the integration and its test. */
export interface CreatedIntegration {
  integration: Integration;
  test: IntegrationTest;
}

/** PATCH …/scm-integrations/{id} and POST …/draft/apply. */
export interface UpdatedIntegration extends CreatedIntegration {
  /** Methods whose users' credentials the change removed. */
  purgedMethods: string[];
  /** false when the test failed and the change was kept as a draft. */
  applied: boolean;
  /** Applied although its test failed, because the admin said so. */
  forced: boolean;
}

/** What the integration dialog reads of either answer. */
export type SavedIntegration = CreatedIntegration & Partial<UpdatedIntegration>;

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
  /** The last real outcome (older runners leave it out). */
  state?: 'working' | 'failing' | 'needs-reauthorization';
  failingSince?: string | null;
  failureReason?: string | null;
  /** false: Azure DevOps did not report the scopes (PATs). */
  scopesKnown?: boolean;
  pushAccess?: 'confirmed' | 'refused' | 'unconfirmed';
  pushAccessNote?: string | null;
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

// What the runner answers about a repository, as the control contract defines it.
export type { RepositoryInfo, PullRequestInfo, ResolvedRef };

export interface ResolvedContext {
  context: RepositoryContext;
  repository: RepositoryInfo;
  ref: ResolvedRef | null;
  integrationId: string;
  runnerId: string;
}

/** Why a repository is out of reach, as the runner says it. */
export type { AccessReason };

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

export type { EnvironmentStatus };

export interface Environment {
  id: string;
  runnerId: string;
  integrationId: string;
  contextUrl: string;
  repository: { kind: string; host: string; organization: string; project: string; repository: string; webUrl: string };
  ref: { type: string; name?: string; sha?: string; pullRequestId?: number; checkout?: string } | null;
  status: EnvironmentStatus;
  progress: EnvironmentProgressValue | null;
  error: { code: string; message: string } | null;
  workspacePath: string | null;
  checkout: EnvironmentCheckout | null;
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

export type ProjectRole = 'owner' | 'member';

export interface ProjectMember {
  userId: string;
  email: string;
  displayName: string;
  role: ProjectRole;
  addedAt: string;
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
  /** certificate, workload-identity, managed-identity: what to register, as the runner last said. */
  credentialState?: ClientCredentialState;
  createdAt: string;
  updatedAt: string;
}

/** PATCH /projects/{id}/app-connections/{id}: the connection, and its validation when the change was checked. */
export interface UpdatedConnection {
  connection: AppConnection;
  validation?: ConnectionValidation;
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

// ---- The front door: single sign-on, invitations, sessions, organization settings, operators ----

export type SsoProviderId = 'entra' | 'oidc';

/** GET /auth/sso/providers: the sign-in buttons; `needsEmail` when Keyway needs the work email to pick the tenant. */
export interface SsoProvider {
  id: SsoProviderId;
  name: string;
  needsEmail: boolean;
}

export type InvitationStatus = 'pending' | 'accepted' | 'expired' | 'revoked';

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  /** The id of the admin who sent it. */
  invitedBy: string | null;
  createdAt: string;
  expiresAt: string;
  acceptedAt: string | null;
  status: InvitationStatus;
}

/** POST /invitations: `url` (with the token in its fragment) is shown once. */
export interface CreatedInvitation {
  id: string;
  email: string;
  role: Role;
  expiresAt: string;
  url: string;
}

/** POST /invitations/preview: what an invitation link is for. */
export interface InvitationPreview {
  organization: { name: string; slug: string };
  email: string;
  role: Role;
  expiresAt: string;
}

export interface OrganizationPolicy {
  passwordSignIn: boolean;
  projectCreation: 'admins' | 'members';
  ssoRoleClaim: 'groups' | 'roles' | null;
  ssoAdminValues: string[];
  ssoMemberValues: string[];
}

/** PUT /organization/settings: the policy now, and how many password sessions the change ended. */
export interface PolicySaved {
  policy: OrganizationPolicy;
  endedSessions: number;
}

export type SsoBindingKind = 'entra-tenant' | 'email-domain';

export interface SsoBinding {
  id: string;
  kind: SsoBindingKind;
  value: string;
  createdAt: string;
}

/** GET /organization/sso. `yourTenantId`/`yourVerifiedEmail`: what this session's own sign-in proves (binding needs it). */
export interface OrganizationSso {
  bindings: SsoBinding[];
  providers: { entra: boolean; oidc: boolean };
  redirectUri: string;
  yourTenantId: string | null;
  yourVerifiedEmail: string | null;
}

export interface SessionSummary {
  id: string;
  current: boolean;
  organizationId: string | null;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  ip: string | null;
  userAgent: string | null;
  authMethod: AuthMethod;
}

export interface LinkedIdentity {
  id: string;
  provider: string;
  issuer: string;
  tenantId: string | null;
  email: string | null;
  createdAt: string;
  lastSignInAt: string | null;
}

/** What removing a member or leaving answers: the runners asked to delete the person's credentials. */
export interface Offboarded {
  runners: number;
  environments: number;
}

export interface InstanceOrganization {
  id: string;
  slug: string;
  name: string;
  createdAt: string;
}

export interface InstanceUser {
  id: string;
  email: string;
  displayName: string;
  operator: boolean;
  disabled: boolean;
  createdAt: string;
}

// ---- Credentials without a client secret (certificates born on the runner, federation, managed identity) ----

export type { ClientCredentialType };

/** The runner's description of a credential without secret; `stale` when it could not be asked now. */
export type ClientCredentialState = RunnerCredentialState & { stale?: boolean; staleReason?: string };
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
