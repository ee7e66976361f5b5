// What the management plane and a runner exchange about app connections and variable group syncs.
// Shared by both planes; nothing here is ever a plaintext secret (secrets travel sealed, HPKE, to
// the runner's key, with the associated data below binding each to its record and purpose).
import type { PatScope } from '../azure-devops/pat.ts';
import type { ClientCredentialState } from './client-credentials.ts';

/**
 * certificate, workload-identity and managed-identity (issue 19) sign in as a service principal
 * like client-secret, with no secret: a certificate born on the runner, a federated token of the
 * runner's platform, or the Azure machine's managed identity (docs/client-credentials.md).
 */
export type AppConnectionMethod = 'oauth' | 'access-token' | 'client-secret' | 'certificate' | 'workload-identity' | 'managed-identity';
export const APP_CONNECTION_METHODS: readonly AppConnectionMethod[] = [
  'oauth',
  'access-token',
  'client-secret',
  'certificate',
  'workload-identity',
  'managed-identity',
];

/** Associated data of sealed values: a value sealed for one record or purpose does not open for another. */
export const appConnectionAad = {
  /** The PAT (access-token) or the client secret (client-secret) of one connection. */
  secret: (connectionId: string) => `app-connection:${connectionId}:secret`,
  /** A sync's variable values: one sealed JSON object `{ name: value }` per request. */
  syncVariables: (syncId: string) => `sync:${syncId}:variables`,
  /** oauth: the instance-wide Entra app's client secret (KEYWAY_AZURE_DEVOPS_CLIENT_SECRET), sealed per runner. */
  oauthClientSecret: (clientId: string) => `app-connections:oauth-app:${clientId}:client-secret`,
} as const;

/** Control request kinds (runner handlers). */
export const APP_CONNECTION_REQUESTS = {
  /** Validate a new credential (or new settings), and store it only when it works. */
  save: 'app-connection.save',
  /** Validate the stored credential. */
  test: 'app-connection.test',
  /** Queued: forget the credential and any cached token. */
  delete: 'app-connection.delete',
  /** oauth: does the instance-wide Entra app accept Keyway's redirect URI? (No secret involved.) */
  oauthProbe: 'app-connection.oauth-probe',
  /** oauth: start the consent (authorization code + PKCE); answers the authorization URL and state. */
  oauthBegin: 'app-connection.oauth-begin',
  /** oauth: redeem the code the browser brought back, keep the tokens, validate them. */
  oauthComplete: 'app-connection.oauth-complete',
} as const;

export const SYNC_REQUESTS = {
  storeVariables: 'sync.store-variables',
  run: 'sync.run',
  /** Queued: forget the variable set and the sync's state (the Azure DevOps group is left alone). */
  delete: 'sync.delete',
} as const;

/** The connection as a runner needs it: settings only, never the secret (the runner holds it). */
export interface RunnerAppConnection {
  id: string;
  method: AppConnectionMethod;
  /** Azure DevOps organization; null for an access token checked through its profile only. */
  organization: string | null;
  tenantId: string | null;
  clientId: string | null;
  /** client-secret and oauth: `{authority}/{tenantId}/v2.0`, derived by the management plane from its configured authority. */
  issuerUrl: string | null;
  /**
   * oauth: the instance-wide app's client secret, sealed to this runner's key with
   * appConnectionAad.oauthClientSecret(clientId). Absent when the instance app is no longer the one
   * the connection was made with (the connection must be connected again).
   */
  sealedClientSecret?: string;
}

export interface OAuthBeginPayload {
  connection: RunnerAppConnection;
  /** The Keyway user who connects; only they may complete it. */
  userId: string;
  redirectUri: string;
  loginHint?: string;
}

export interface OAuthBeginResult {
  authorizationUrl: string;
  state: string;
  issuer: string;
}

export interface OAuthCompletePayload {
  connection: RunnerAppConnection;
  userId: string;
  /** The callback's query parameters (code, state, iss, error…). */
  params: Record<string, string>;
}

/** The consent's outcome: the tokens are kept whenever the code was redeemed; validation says whether they serve the organization. */
export interface OAuthCompleteResult {
  validation: ConnectionValidation;
  /** The tenant the account signed in to (the ID token's tid). */
  tenantId: string | null;
  /** Who signed in (preferred_username), for people to recognize the connection. */
  account: string | null;
}

export interface AppConnectionSavePayload {
  connection: RunnerAppConnection;
  /** Sealed to the runner's key with appConnectionAad.secret(id); absent = keep the stored secret. */
  sealedSecret?: string;
}

/** The runner's verdict on a connection. Failures are answers, not errors, so the caller picks the status. */
export interface ConnectionValidation {
  valid: boolean;
  /** Stable code of the failure, e.g. `invalid_access_token`, `missing_scopes`, `service_principal_not_member`. */
  code?: string;
  /** What is wrong and what to do, in words. */
  message?: string;
  /** The request field at fault, e.g. `accessToken`, `clientSecret`, `organization`. */
  field?: string;
  /** Who the credential is, as Azure DevOps sees it. */
  identity?: { id: string; displayName?: string };
  /** access-token without organization: the organizations the token reaches, to pick from. */
  organizations?: string[];
  /** Scopes confirmed by a request that needs them. */
  checkedScopes?: string[];
  /** Scopes that a request showed missing. */
  missingScopes?: string[];
  /** Scopes a sync may need that cannot be checked without side effects. */
  uncheckedScopes?: string[];
  /** certificate, workload-identity, managed-identity: what to register in Entra ID / Azure DevOps (public values). */
  credentialState?: ClientCredentialState;
}

/**
 * What a PAT needs for syncs (issue 6). Variable groups and project read are checked on create;
 * release and service connection scopes cannot be checked without side effects, so they are listed.
 */
export const SYNC_PAT_SCOPES: readonly PatScope[] = Object.freeze([
  { scope: 'vso.variablegroups_manage', label: 'Variable Groups (Read, create & manage)' },
  { scope: 'vso.project', label: 'Project and Team (Read)' },
  { scope: 'vso.release_execute', label: 'Release (Read, write & execute)' },
  { scope: 'vso.serviceendpoint_query', label: 'Service Connections (Read & query)' },
]);

export function describeScopes(scopes: readonly string[]): string {
  return scopes.map((s) => `${SYNC_PAT_SCOPES.find((p) => p.scope === s)?.label ?? s} [${s}]`).join(', ');
}

export interface SyncTarget {
  /** Azure DevOps organization. */
  organization: string;
  /** Azure DevOps project name or id. */
  project: string;
  groupName: string;
  description: string | null;
  /** A project owner allowed writing into an existing group this sync did not create. */
  adoptExisting?: boolean;
  /** Names of variables Keyway did not write that a project owner allowed the sync to overwrite. */
  takeOver?: string[];
}

export interface DeclaredVariable {
  name: string;
  isSecret: boolean;
}

export interface StoreVariablesPayload {
  syncId: string;
  /** replace: `variables` is the whole set; merge: upsert `variables`, then drop `remove`. */
  mode: 'replace' | 'merge';
  variables: DeclaredVariable[];
  remove?: string[];
  /** Sealed JSON object `{ name: value }` for exactly the names in `variables`; aad appConnectionAad.syncVariables. */
  sealedValues: string;
}

export interface StoreVariablesResult {
  /** The whole set after the change, sorted by name: names and flags only. */
  variables: DeclaredVariable[];
}

export interface SyncRunPayload {
  syncId: string;
  runId: string;
  connection: RunnerAppConnection;
  target: SyncTarget;
}

export interface SyncRunResult {
  status: 'succeeded' | 'failed';
  created: number;
  updated: number;
  deleted: number;
  unchanged: number;
  /** Write requests that reached Azure DevOps successfully (POST or PUT of the group). */
  writes: number;
  /** HTTP requests sent, retries included. */
  requests: number;
  retries: number;
  durationMs: number;
  groupId: number | null;
  /** Why the run failed, in words; never a value or a credential. */
  error?: string;
}
