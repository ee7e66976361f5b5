import type { Insertable, Selectable } from 'kysely';

/** The management plane's tables. Timestamps are ISO-8601 UTC strings. */
export interface ManagementDB {
  organizations: { id: string; slug: string; name: string; created_at: string };
  users: { id: string; email: string; display_name: string; password_hash: string | null; created_at: string; disabled_at: string | null };
  memberships: { organization_id: string; user_id: string; role: Role; created_at: string };
  sessions: {
    id: string;
    token_hash: string;
    user_id: string;
    organization_id: string;
    csrf_token: string;
    created_at: string;
    expires_at: string;
    last_seen_at: string;
    ip: string | null;
    user_agent: string | null;
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
  };
  sign_in_links: {
    id: string;
    token_hash: string;
    user_id: string;
    organization_id: string;
    created_at: string;
    expires_at: string;
    used_at: string | null;
  };
  sign_in_failures: { id: string; subject: string; ip: string; created_at: string };
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
  };
}

export type ProjectRole = 'owner' | 'member';
export type Role = 'admin' | 'member';
export type UserRow = Selectable<ManagementDB['users']>;
export type AuditEventRow = Selectable<ManagementDB['audit_events']>;
export type NewAuditEvent = Insertable<ManagementDB['audit_events']>;
