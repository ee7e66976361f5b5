import type { Generated, Insertable, Selectable } from 'kysely';

/** The management plane's tables. Timestamps are ISO-8601 UTC strings. */
export interface ManagementDB {
  organizations: {
    id: string;
    slug: string;
    name: string;
    created_at: string;
    password_sign_in: Generated<number>;
    project_creation: Generated<ProjectCreation>;
    sso_role_claim: 'groups' | 'roles' | null;
    sso_admin_values: Generated<string>;
    sso_member_values: Generated<string>;
  };
  users: {
    id: string;
    email: string;
    display_name: string;
    password_hash: string | null;
    created_at: string;
    disabled_at: string | null;
    operator: Generated<number>;
    last_organization_id: string | null;
    password_changed_at: string | null;
  };
  memberships: { organization_id: string; user_id: string; role: Role; created_at: string; source: Generated<MembershipSource> };
  sessions: {
    id: string;
    token_hash: string;
    user_id: string;
    /** Null until the user chose an organization (several memberships, no previous choice). */
    organization_id: string | null;
    csrf_token: string;
    created_at: string;
    expires_at: string;
    last_seen_at: string;
    ip: string | null;
    user_agent: string | null;
    auth_method: AuthMethod;
    /** When the person last proved who they are in this session (sign-in or re-authentication). */
    authenticated_at: string;
    /** The identity-provider account a single-sign-on session came through. */
    sso_identity_id: string | null;
  };
  api_tokens: {
    id: string;
    token_hash: string;
    display_prefix: string;
    name: string;
    user_id: string;
    organization_id: string;
    created_at: string;
    expires_at: string | null;
    last_used_at: string | null;
    revoked_at: string | null;
    created_by_session: string | null;
  };
  sign_in_links: {
    id: string;
    token_hash: string;
    user_id: string;
    organization_id: string;
    created_at: string;
    expires_at: string;
    used_at: string | null;
    purpose: Generated<string>;
  };
  sign_in_throttle: { key: string; window_start: string; count: number };
  sign_in_known_addresses: { user_id: string; ip: string; last_seen_at: string };
  sso_identities: {
    id: string;
    user_id: string;
    provider: string;
    issuer: string;
    subject: string;
    tenant_id: string | null;
    email: string | null;
    created_at: string;
    last_sign_in_at: string | null;
  };
  organization_sso_bindings: {
    id: string;
    organization_id: string;
    kind: SsoBindingKind;
    value: string;
    created_by: string | null;
    created_at: string;
  };
  sso_states: {
    state_hash: string;
    browser_hash: string;
    provider: string;
    issuer: string;
    code_verifier: string;
    nonce: string;
    intent: 'sign-in' | 'reauthenticate' | 'link';
    session_id: string | null;
    invitation_id: string | null;
    return_to: string;
    created_at: string;
    expires_at: string;
  };
  invitations: {
    id: string;
    organization_id: string;
    email: string;
    role: Role;
    token_hash: string;
    invited_by: string | null;
    created_at: string;
    expires_at: string;
    accepted_at: string | null;
    accepted_by: string | null;
    revoked_at: string | null;
  };
  credential_purges: {
    id: string;
    organization_id: string;
    runner_id: string;
    user_id: string;
    reason: string;
    request_id: string;
    requested_at: string;
    confirmed_at: string | null;
    deleted: number | null;
  };
  instance_settings: { key: string; value: string; updated_at: string };
  audit_events: {
    id: string;
    organization_id: string | null;
    actor_type: string;
    actor_id: string | null;
    actor_label: string | null;
    action: string;
    target_type: string | null;
    target_id: string | null;
    outcome: string;
    ip: string | null;
    user_agent: string | null;
    details: string;
    created_at: string;
    occurrences: Generated<number>;
  };
  runners: {
    id: string;
    organization_id: string;
    name: string;
    local: number;
    exchange_token_hash: string | null;
    exchange_expires_at: string | null;
    token_hash: string | null;
    public_key: string | null;
    public_key_fingerprint: string | null;
    version: string | null;
    last_seen_at: string | null;
    created_at: string;
    created_by: string | null;
    revoked_at: string | null;
    /** When the revoked runner confirmed it deleted every credential it held. */
    purged_at?: string | null;
  };
  runner_requests: {
    id: string;
    runner_id: string;
    kind: string;
    payload: string;
    status: 'pending' | 'dispatched' | 'answered';
    response: string | null;
    created_at: string;
    deadline_at: string;
    dispatched_at: string | null;
    answered_at: string | null;
    /** The replica that must take the request; null: any replica of the runner. */
    replica_id: string | null;
    /** The replica that took it. */
    claimed_by: string | null;
    /** JSON of the caller's W3C trace context headers, when tracing is on. */
    trace_context: string | null;
  };
  runner_replicas: { runner_id: string; replica_id: string; first_seen_at: string; last_seen_at: string };
  runner_affinities: { runner_id: string; affinity_key: string; replica_id: string; created_at: string };
  oauth_states: {
    state_hash: string;
    session_id: string;
    user_id: string;
    organization_id: string;
    runner_id: string;
    integration_id: string;
    issuer: string;
    return_to: string;
    display: string;
    created_at: string;
    expires_at: string;
  };
  app_connection_oauth_states: {
    state_hash: string;
    session_id: string;
    user_id: string;
    organization_id: string;
    project_id: string;
    connection_id: string;
    runner_id: string;
    issuer: string;
    return_to: string;
    created_at: string;
    expires_at: string;
  };
  scm_integrations: {
    id: string;
    organization_id: string;
    runner_id: string;
    scm_id: string;
    host: string;
    virtual_directory: string;
    oauth_client_id: string | null;
    oauth_client_secret_sealed: string | null;
    oauth_issuer_url: string | null;
    pat_enabled: number;
    settings: string;
    last_test: string | null;
    created_at: string;
    updated_at: string;
    /** A change whose test failed, kept beside the working configuration (JSON), or null (optional: older rows and inserts leave it out). */
    draft?: string | null;
    /** JSON IntegrationCredential (src/control/client-credentials.ts); null: a client secret. */
    oauth_credential?: string | null;
    /** JSON ClientCredentialState: the runner's last description of a credential without secret (public values). */
    credential_state?: string | null;
  };
  projects: { id: string; organization_id: string; name: string; slug: string; created_by: string | null; created_at: string };
  project_members: { project_id: string; user_id: string; role: ProjectRole; created_at: string };
  app_connections: {
    id: string;
    organization_id: string;
    project_id: string;
    runner_id: string;
    name: string;
    method: string;
    ado_organization: string | null;
    tenant_id: string | null;
    client_id: string | null;
    status: string;
    details: string;
    last_test: string | null;
    created_by: string | null;
    created_at: string;
    updated_at: string;
    /** JSON [{organization, project, groupPattern}] members may target through this connection; null: none. */
    member_targets: string | null;
    /** JSON ClientCredentialState of certificate / workload-identity / managed-identity connections (public values). */
    credential_state?: string | null;
  };
  variable_syncs: {
    id: string;
    organization_id: string;
    project_id: string;
    connection_id: string;
    name: string;
    ado_organization: string;
    ado_project: string;
    group_name: string;
    description: string | null;
    variables: string;
    variables_revision: number;
    enabled: number;
    schedule_minutes: number | null;
    next_run_at: string | null;
    running_run_id: string | null;
    running_since: string | null;
    last_run_id: string | null;
    created_by: string | null;
    created_at: string;
    updated_at: string;
    /** 1: an owner allowed writing into an existing group this sync did not create. */
    adopt_existing: number;
    /** JSON array of lower-cased names of pre-existing variables an owner allowed the sync to overwrite. */
    take_over: string;
  };
  sync_runs: {
    id: string;
    sync_id: string;
    trigger: string;
    status: string;
    requested_by: string | null;
    created_at: string;
    started_at: string | null;
    finished_at: string | null;
    duration_ms: number | null;
    created_count: number | null;
    updated_count: number | null;
    deleted_count: number | null;
    unchanged_count: number | null;
    writes: number | null;
    requests: number | null;
    retries: number | null;
    group_id: number | null;
    error: string | null;
  };
  environments: {
    id: string;
    organization_id: string;
    user_id: string;
    runner_id: string;
    integration_id: string;
    context_url: string;
    repository: string;
    ref: string | null;
    status: 'cloning' | 'ready' | 'failed' | 'deleting';
    progress: string | null;
    error: string | null;
    workspace_path: string | null;
    checkout: string | null;
    created_at: string;
    updated_at: string;
    disk_bytes: number | null;
    last_used_at: string | null;
    /** JSON {filter, depth} as resolved at creation; null: rows from before issue 20 (a full clone). */
    clone_options: string | null;
  };
  integration_clone_defaults: {
    integration_id: string;
    organization_id: string;
    filter: string | null;
    depth: number | null;
    updated_at: string;
    updated_by: string | null;
  };
  runner_repository_caches: {
    runner_id: string;
    instance: string;
    /** PostgreSQL returns bigint as a string. */
    used_bytes: number | string;
    limit_bytes: number | string;
    repositories: number;
    updated_at: string;
  };
}

export type ProjectRole = 'owner' | 'member';
export type Role = 'admin' | 'member';
/** direct: added by an admin before invitations existed, or the bootstrap admin; sso: joined just in time and follows the provider's claims. */
export type MembershipSource = 'direct' | 'invitation' | 'sso' | 'bootstrap' | 'operator';
export type ProjectCreation = 'admins' | 'members';
export type AuthMethod = 'password' | 'link' | 'sso' | 'invitation';
export type SsoBindingKind = 'entra-tenant' | 'email-domain';
export type UserRow = Selectable<ManagementDB['users']>;
export type AuditEventRow = Selectable<ManagementDB['audit_events']>;
export type NewAuditEvent = Insertable<ManagementDB['audit_events']>;
