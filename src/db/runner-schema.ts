/** The runner's tables. Timestamps are ISO-8601 UTC strings; `secret` columns hold at-rest ciphertext. */
export interface RunnerDB {
  key_checks: { key_id: string; check_value: string };
  credentials: {
    id: string;
    subject_type: string;
    subject_id: string;
    integration_id: string | null;
    host: string;
    method: string;
    secret: string;
    metadata: string;
    status: string;
    created_at: string;
    updated_at: string;
    expires_at: string | null;
    last_used_at: string | null;
    version: number;
    lease_owner: string | null;
    lease_until: string | null;
    /** When the credential last started failing (a refresh that failed, a token refused); null while it works. */
    failing_since?: string | null;
    /** Why it fails, in words (never a token or a response body). */
    failure_reason?: string | null;
    /** When a token refused before its recorded expiry was last refreshed. */
    forced_refresh_at?: string | null;
  };
  oauth_pending: {
    state_hash: string;
    user_id: string;
    integration_id: string;
    issuer: string;
    client_id: string;
    redirect_uri: string;
    /** At-rest ciphertext of the PKCE code verifier. */
    verifier: string;
    nonce: string;
    created_at: string;
    expires_at: string;
    /** Set for an app connection's consent (then integration_id is ''). */
    app_connection_id: string | null;
  };
  sync_variables: { id: string; sync_id: string; name: string; name_key: string; is_secret: number; value: string; updated_at: string };
  sync_states: {
    sync_id: string;
    target: string;
    project_id: string | null;
    group_id: number | null;
    owned: string;
    digests: string;
    updated_at: string;
    /** 'created' | 'adopted'; null for states older than the column. */
    group_origin: string | null;
    /** JSON array of lower-cased names Keyway wrote into the group. */
    written: string;
  };
  runner_secrets: { id: string; value: string; created_at: string };
  /** The outbox of events for the management plane's audit log; rows go once delivered. */
  runner_events: {
    id: string;
    action: string;
    user_id: string | null;
    integration_id: string | null;
    outcome: string;
    details: string;
    created_at: string;
    claimed_by: string | null;
    claimed_until: string | null;
  };
  /** Facts the replicas sharing this store agree on (e.g. the purge after revocation is done). */
  runner_state: { key: string; value: string; updated_at: string };
  environments: {
    id: string;
    user_id: string;
    integration_id: string;
    repository: string;
    remote_url: string;
    /** SHA-256 (hex) of the environment's credential-helper secret; the secret itself is never stored. */
    secret_hash: string;
    workspace: string;
    instance: string;
    status: string;
    created_at: string;
    last_used_at: string | null;
    /** The Unix user the environment's git runs as (isolated workspaces); null: the runner's own. */
    uid: number | null;
  };
  /** Certificates the runner made for its own Entra client authentication (issue 19). */
  client_certificates: {
    id: string;
    /** 'integration' | 'app-connection'. */
    owner_type: string;
    owner_id: string;
    /** 'active' (signs) | 'next' (made ahead of expiry, awaiting upload). */
    status: string;
    certificate: string;
    /** At-rest ciphertext of the PKCS#8 private key. */
    private_key: string;
    thumbprint_sha1: string;
    thumbprint_sha256: string;
    not_before: string;
    not_after: string;
    created_at: string;
    accepted_at: string | null;
  };
  repository_caches: {
    /** The id written into the cache directory: replicas sharing the directory share the rows. */
    cache_id: string;
    /** SHA-256 (hex) of variant and remote URL; the directory is `{key}.git`. */
    key: string;
    remote_url: string;
    /** 'full' | 'blob:none' */
    variant: string;
    /** PostgreSQL returns bigint as a string. */
    size_bytes: number | string;
    refreshes: number;
    created_at: string;
    last_used_at: string;
    refreshed_at: string | null;
    lease_owner: string | null;
    lease_until: string | null;
  };
}

/**
 * Every encrypted column of the runner store. Key rotation walks this list, so a new encrypted
 * column must be added here or it would stay under a retired key.
 */
export const ENCRYPTED_COLUMNS = [
  { table: 'credentials', idColumn: 'id', column: 'secret' },
  { table: 'oauth_pending', idColumn: 'state_hash', column: 'verifier' },
  { table: 'sync_variables', idColumn: 'id', column: 'value' },
  { table: 'runner_secrets', idColumn: 'id', column: 'value' },
  { table: 'client_certificates', idColumn: 'id', column: 'private_key' },
] as const;
