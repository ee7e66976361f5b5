// What the management plane and a runner exchange about app connections and variable group syncs.
// Shared by both planes; nothing here is ever a plaintext secret (secrets travel sealed, HPKE, to
// the runner's key, with the associated data below binding each to its record and purpose).
import { Type } from 'typebox';
import type { Static } from 'typebox';
import type { PatScope } from '../azure-devops/pat.ts';
import { ClientCredentialState } from './client-credentials.ts';
import { NonEmpty, Nullable } from './schema.ts';

/**
 * certificate, workload-identity and managed-identity (issue 19) sign in as a service principal
 * like client-secret, with no secret: a certificate born on the runner, a federated token of the
 * runner's platform, or the Azure machine's managed identity (docs/client-credentials.md).
 */
export const APP_CONNECTION_METHODS = [
  'oauth',
  'access-token',
  'client-secret',
  'certificate',
  'workload-identity',
  'managed-identity',
] as const;
export type AppConnectionMethod = (typeof APP_CONNECTION_METHODS)[number];

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
export const RunnerAppConnection = Type.Object({
  id: NonEmpty(),
  method: Type.Enum(APP_CONNECTION_METHODS),
  /** Azure DevOps organization; null for an access token checked through its profile only. */
  organization: Nullable(Type.String()),
  tenantId: Nullable(Type.String()),
  clientId: Nullable(Type.String()),
  /** client-secret and oauth: `{authority}/{tenantId}/v2.0`, derived by the management plane from its configured authority. */
  issuerUrl: Nullable(Type.String()),
  /**
   * oauth: the instance-wide app's client secret, sealed to this runner's key with
   * sealingContext.oauthAppClientSecret(clientId). Absent when the instance app is no longer the one
   * the connection was made with (the connection must be connected again).
   */
  sealedClientSecret: Type.Optional(Type.String()),
});
export type RunnerAppConnection = Static<typeof RunnerAppConnection>;

export const OAuthBeginPayload = Type.Object({
  connection: RunnerAppConnection,
  /** The Keyway user who connects; only they may complete it. */
  userId: NonEmpty(),
  redirectUri: NonEmpty(),
  loginHint: Type.Optional(Type.String()),
});
export type OAuthBeginPayload = Static<typeof OAuthBeginPayload>;

export const OAuthBeginResult = Type.Object({ authorizationUrl: Type.String(), state: Type.String(), issuer: Type.String() });
export type OAuthBeginResult = Static<typeof OAuthBeginResult>;

export const OAuthCompletePayload = Type.Object({
  connection: RunnerAppConnection,
  userId: NonEmpty(),
  /** The callback's query parameters (code, state, iss, error…). */
  params: Type.Record(Type.String(), Type.String()),
});
export type OAuthCompletePayload = Static<typeof OAuthCompletePayload>;

/** The runner's verdict on a connection. Failures are answers, not errors, so the caller picks the status. */
export const ConnectionValidation = Type.Object({
  valid: Type.Boolean(),
  /** Stable code of the failure, e.g. `invalid_access_token`, `missing_scopes`, `service_principal_not_member`. */
  code: Type.Optional(Type.String()),
  /** What is wrong and what to do, in words. */
  message: Type.Optional(Type.String()),
  /** The request field at fault, e.g. `accessToken`, `clientSecret`, `organization`. */
  field: Type.Optional(Type.String()),
  /** Who the credential is, as Azure DevOps sees it. */
  identity: Type.Optional(Type.Object({ id: Type.String(), displayName: Type.Optional(Type.String()) })),
  /** access-token without organization: the organizations the token reaches, to pick from. */
  organizations: Type.Optional(Type.Array(Type.String())),
  /** Scopes confirmed by a request that needs them. */
  checkedScopes: Type.Optional(Type.Array(Type.String())),
  /** Scopes that a request showed missing. */
  missingScopes: Type.Optional(Type.Array(Type.String())),
  /** Scopes a sync may need that cannot be checked without side effects. */
  uncheckedScopes: Type.Optional(Type.Array(Type.String())),
  /** certificate, workload-identity, managed-identity: what to register in Entra ID / Azure DevOps (public values). */
  credentialState: Type.Optional(ClientCredentialState),
});
export type ConnectionValidation = Static<typeof ConnectionValidation>;

/** The consent's outcome: the tokens are kept whenever the code was redeemed; validation says whether they serve the organization. */
export const OAuthCompleteResult = Type.Object({
  validation: ConnectionValidation,
  /** The tenant the account signed in to (the ID token's tid). */
  tenantId: Nullable(Type.String()),
  /** Who signed in (preferred_username), for people to recognize the connection. */
  account: Nullable(Type.String()),
});
export type OAuthCompleteResult = Static<typeof OAuthCompleteResult>;

export const AppConnectionSavePayload = Type.Object({
  connection: RunnerAppConnection,
  /** Sealed to the runner's key with sealingContext.appConnectionSecret(id); absent = keep the stored secret. */
  sealedSecret: Type.Optional(Type.String()),
});
export type AppConnectionSavePayload = Static<typeof AppConnectionSavePayload>;

/** oauth: does the instance-wide Entra app accept Keyway's redirect URI? */
export const OAuthProbePayload = Type.Object({
  /** e.g. https://login.microsoftonline.com */
  authority: NonEmpty(),
  /** A tenant id or domain, or `organizations`. */
  tenant: NonEmpty(),
  clientId: NonEmpty(),
  redirectUri: NonEmpty(),
});
export type OAuthProbePayload = Static<typeof OAuthProbePayload>;

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

export const SyncTarget = Type.Object({
  /** Azure DevOps organization. */
  organization: NonEmpty(),
  /** Azure DevOps project name or id. */
  project: NonEmpty(),
  groupName: NonEmpty(),
  description: Nullable(Type.String()),
  /** A project owner allowed writing into an existing group this sync did not create. */
  adoptExisting: Type.Optional(Type.Boolean()),
  /** Names of variables Keyway did not write that a project owner allowed the sync to overwrite. */
  takeOver: Type.Optional(Type.Array(Type.String())),
});
export type SyncTarget = Static<typeof SyncTarget>;

export const DeclaredVariable = Type.Object({ name: Type.String(), isSecret: Type.Boolean() });
export type DeclaredVariable = Static<typeof DeclaredVariable>;

export const StoreVariablesPayload = Type.Object({
  syncId: NonEmpty(),
  /** replace: `variables` is the whole set; merge: upsert `variables`, then drop `remove`. */
  mode: Type.Enum(['replace', 'merge'] as const),
  variables: Type.Array(DeclaredVariable),
  remove: Type.Optional(Type.Array(Type.String())),
  /** Sealed JSON object `{ name: value }` for exactly the names in `variables`; aad sealingContext.syncVariables. */
  sealedValues: Type.String(),
});
export type StoreVariablesPayload = Static<typeof StoreVariablesPayload>;

export const StoreVariablesResult = Type.Object({
  /** The whole set after the change, sorted by name: names and flags only. */
  variables: Type.Array(DeclaredVariable),
});
export type StoreVariablesResult = Static<typeof StoreVariablesResult>;

export const SyncRunPayload = Type.Object({ syncId: NonEmpty(), runId: NonEmpty(), connection: RunnerAppConnection, target: SyncTarget });
export type SyncRunPayload = Static<typeof SyncRunPayload>;

export const SyncRunResult = Type.Object({
  status: Type.Enum(['succeeded', 'failed'] as const),
  created: Type.Number(),
  updated: Type.Number(),
  deleted: Type.Number(),
  unchanged: Type.Number(),
  /** Write requests that reached Azure DevOps successfully (POST or PUT of the group). */
  writes: Type.Number(),
  /** HTTP requests sent, retries included. */
  requests: Type.Number(),
  retries: Type.Number(),
  durationMs: Type.Number(),
  groupId: Nullable(Type.Number()),
  /** Why the run failed, in words; never a value or a credential. */
  error: Type.Optional(Type.String()),
});
export type SyncRunResult = Static<typeof SyncRunResult>;
