/**
 * Every request the management plane may send a runner, with the TypeBox schemas of its payload and
 * its result. The management plane can only send, and a runner only register, a kind listed here;
 * the runner checks each payload against its schema before the handler runs (src/runner/agent.ts),
 * so a handler receives the typed value and never a guess. Adding a request: add its schemas here,
 * its handler on the runner (the compiler asks for it), then call it.
 */
import { Type } from 'typebox';
import type { Static, TSchema } from 'typebox';
import type { RepositoryContext } from '../azure-devops/url.ts';
import {
  APP_CONNECTION_REQUESTS,
  AppConnectionSavePayload,
  ConnectionValidation,
  OAuthBeginPayload,
  OAuthBeginResult,
  OAuthCompletePayload,
  OAuthCompleteResult,
  OAuthProbePayload,
  RunnerAppConnection,
  StoreVariablesPayload,
  StoreVariablesResult,
  SYNC_REQUESTS,
  SyncRunPayload,
  SyncRunResult,
} from './app-connections.ts';
import { CLIENT_CREDENTIAL_REQUESTS, ClientCredentialState, CredentialOwner, DescribeCredentialPayload } from './client-credentials.ts';
import {
  ENVIRONMENT_REQUESTS,
  EnvironmentCreatePayload,
  EnvironmentCreateResult,
  EnvironmentDeletePayload,
  EnvironmentStatusResult,
} from './environments.ts';
import { RunnerIntegration } from './integration.ts';
import { PURGE_USER_CREDENTIALS, PurgeUserCredentialsPayload, PurgeUserCredentialsResult } from './people.ts';
import {
  BranchListing,
  CommitListing,
  OrganizationListing,
  ProjectListing,
  PullRequestListing,
  RepositoryAccessResult,
  RepositoryListing,
  ResolveContextResult,
} from './repositories.ts';
import { SEALED_COMPARISON_REQUEST, SealedComparisonPayload, SealedComparisonResult } from './sealed-comparison.ts';
import { NonEmpty, Nullable } from './schema.ts';

interface RequestSchemas {
  payload: TSchema;
  result: TSchema;
}

const request = <P extends TSchema, R extends TSchema>(payload: P, result: R) => ({ payload, result });

/** Most requests act for one user through one integration. */
const forUser = { userId: NonEmpty(), integration: RunnerIntegration };

const PUSH_ACCESS = ['confirmed', 'refused', 'unconfirmed'] as const;

/** A host authorization as the runner describes it: never the token, only what people need to see. */
export const AuthorizationSummary = Type.Object({
  id: Type.String(),
  integrationId: Nullable(Type.String()),
  host: Type.String(),
  method: Type.String(),
  scopes: Type.Array(Type.String()),
  /** False for PATs: Azure DevOps tells nobody a PAT's scopes. */
  scopesKnown: Type.Boolean(),
  pushAccess: Type.Optional(Type.Enum(PUSH_ACCESS)),
  pushAccessNote: Type.Optional(Nullable(Type.String())),
  identity: Nullable(Type.String()),
  organization: Nullable(Type.String()),
  status: Type.String(),
  /** The last real outcome: working, failing (since failingSince), or waiting for the user to connect again. */
  state: Type.Enum(['working', 'failing', 'needs-reauthorization'] as const),
  failingSince: Nullable(Type.String()),
  failureReason: Nullable(Type.String()),
  reauthorizationReason: Nullable(Type.String()),
  createdAt: Type.String(),
  expiresAt: Nullable(Type.String()),
  lastUsedAt: Nullable(Type.String()),
  /** expired, expires-soon, needs-reauthorization. */
  warnings: Type.Array(Type.String()),
});
export type AuthorizationSummary = Static<typeof AuthorizationSummary>;

/** Save & Test of an integration on its runner: each check reports on its own field. */
export const IntegrationValidation = Type.Object({
  valid: Type.Boolean(),
  hostError: Type.Optional(Type.String()),
  oauthError: Type.Optional(Type.String()),
  /** The callback URL is not a redirect URI of the app registration (AADSTS50011): register this exact value. */
  redirectUriError: Type.Optional(Type.String()),
  patError: Type.Optional(Type.String()),
  scmIdError: Type.Optional(Type.String()),
  /** Azure DevOps Server: where the server ends and the collection named in the path begins. */
  serverLayout: Type.Optional(Type.Object({ virtualDirectory: Type.String(), collection: Type.String() })),
  hostNote: Type.Optional(Type.String()),
  /** Asked with `countCredentials`: the credentials the stored integration produced, by method. */
  credentials: Type.Optional(Type.Object({ oauth: Type.Number(), pat: Type.Number() })),
  /** Without a client secret: the certificate to upload, or the federated credential to add (public values). */
  credentialState: Type.Optional(ClientCredentialState),
  /** About the next certificate: accepted (now in use), or still to be uploaded. */
  credentialNote: Type.Optional(Type.String()),
});
export type IntegrationValidation = Static<typeof IntegrationValidation>;

/**
 * A parsed repository URL (src/azure-devops/url.ts). The schema checks its outline; the runner
 * checks the names and the ref again before they reach Azure DevOps or git.
 */
const RepositoryContextSchema = Type.Unsafe<RepositoryContext>(
  Type.Object({
    kind: Type.Enum(['services', 'server'] as const),
    organization: Type.String(),
    project: Type.String(),
    repository: Type.String(),
  }),
);

/** Listings page with `top` (at most 100, the runner says so) and the token of the previous page. */
const page = { top: Type.Optional(Type.Unknown()), continuationToken: Type.Optional(Type.Unknown()) };
const inRepository = { ...forUser, ...page, organization: Type.String(), project: Type.String(), repository: Type.String() };

export const CONTROL_REQUESTS = {
  ping: request(Type.Object({}), Type.Object({ pong: Type.Literal(true) })),

  // A user's host authorizations (runner/handlers/authorizations.ts).
  'check-authentication': request(
    Type.Object(forUser),
    Type.Object({ authenticated: Type.Boolean(), authorization: Nullable(AuthorizationSummary) }),
  ),
  'oauth-begin': request(Type.Object({ ...forUser, redirectUri: NonEmpty(), loginHint: Type.Optional(Type.String()) }), OAuthBeginResult),
  'oauth-complete': request(
    Type.Object({ ...forUser, callbackUrl: NonEmpty(), params: Type.Record(Type.String(), Type.String()) }),
    Type.Object({
      authorizationId: Type.String(),
      identity: Type.Object({ upn: Type.Optional(Type.String()), name: Type.Optional(Type.String()), tid: Type.Optional(Type.String()) }),
      scopes: Type.Optional(Type.Array(Type.String())),
    }),
  ),
  'pat-store': request(
    Type.Object({ ...forUser, sealedToken: NonEmpty(), organization: Type.String(), expiresAt: Type.Optional(Nullable(Type.String())) }),
    Type.Object({
      authorizationId: Type.String(),
      identity: Nullable(Type.String()),
      expiresAt: Nullable(Type.String()),
      pushAccess: Type.Enum(PUSH_ACCESS),
      pushAccessNote: Nullable(Type.String()),
    }),
  ),
  'list-authorizations': request(Type.Object({ userId: NonEmpty() }), Type.Object({ authorizations: Type.Array(AuthorizationSummary) })),
  'delete-authorization': request(
    Type.Object({ userId: NonEmpty(), authorizationId: NonEmpty() }),
    Type.Object({ deleted: Type.Boolean(), revokedUpstream: Type.Boolean(), method: Type.String() }),
  ),

  // Integrations (runner/handlers).
  'validate-integration': request(
    Type.Object({ integration: RunnerIntegration, countCredentials: Type.Optional(Type.Boolean()) }),
    IntegrationValidation,
  ),
  'resolve-issuer': request(Type.Object({ issuerUrl: Type.String() }), Type.Object({ issuer: Type.String(), tenantId: Type.String() })),
  'purge-credentials': request(
    Type.Object({ integrationId: NonEmpty(), methods: Type.Union([Type.Literal('all'), Type.Array(Type.String())]) }),
    Type.Object({ deleted: Type.Number(), clientCertificates: Type.Number() }),
  ),
  [PURGE_USER_CREDENTIALS]: request(PurgeUserCredentialsPayload, PurgeUserCredentialsResult),
  [CLIENT_CREDENTIAL_REQUESTS.describe]: request(DescribeCredentialPayload, ClientCredentialState),
  [CLIENT_CREDENTIAL_REQUESTS.prepareNext]: request(Type.Object({ owner: CredentialOwner }), ClientCredentialState),
  [CLIENT_CREDENTIAL_REQUESTS.delete]: request(Type.Object({ owner: CredentialOwner }), Type.Object({ deleted: Type.Number() })),

  // Repositories (runner/repositories/handlers.ts).
  'resolve-context': request(Type.Object({ ...forUser, context: RepositoryContextSchema }), ResolveContextResult),
  'check-repository-access': request(Type.Object({ ...forUser, context: RepositoryContextSchema }), RepositoryAccessResult),
  'list-organizations': request(Type.Object({ ...forUser, ...page }), OrganizationListing),
  'list-projects': request(Type.Object({ ...forUser, ...page, organization: Type.String() }), ProjectListing),
  'list-repositories': request(
    Type.Object({ ...forUser, ...page, organization: Type.String(), project: Type.Optional(Type.String()) }),
    RepositoryListing,
  ),
  'list-branches': request(Type.Object(inRepository), BranchListing),
  'list-commits': request(Type.Object({ ...inRepository, branch: Type.Optional(Type.String()) }), CommitListing),
  'list-pull-requests': request(Type.Object({ ...inRepository, status: Type.Optional(Type.String()) }), PullRequestListing),

  // Environments (runner/environments).
  [ENVIRONMENT_REQUESTS.create]: request(EnvironmentCreatePayload, EnvironmentCreateResult),
  [ENVIRONMENT_REQUESTS.delete]: request(EnvironmentDeletePayload, Type.Object({ deleted: Type.Boolean(), existed: Type.Boolean() })),
  [ENVIRONMENT_REQUESTS.status]: request(Type.Object({ environmentId: NonEmpty() }), EnvironmentStatusResult),

  // App connections and syncs (runner/app-connections, runner/syncs).
  [APP_CONNECTION_REQUESTS.save]: request(AppConnectionSavePayload, ConnectionValidation),
  [APP_CONNECTION_REQUESTS.test]: request(Type.Object({ connection: RunnerAppConnection }), ConnectionValidation),
  [APP_CONNECTION_REQUESTS.delete]: request(
    Type.Object({ connectionId: NonEmpty() }),
    Type.Object({ deleted: Type.Number(), clientCertificates: Type.Number() }),
  ),
  [APP_CONNECTION_REQUESTS.oauthProbe]: request(OAuthProbePayload, ConnectionValidation),
  [APP_CONNECTION_REQUESTS.oauthBegin]: request(OAuthBeginPayload, OAuthBeginResult),
  [APP_CONNECTION_REQUESTS.oauthComplete]: request(OAuthCompletePayload, OAuthCompleteResult),
  [SYNC_REQUESTS.storeVariables]: request(StoreVariablesPayload, StoreVariablesResult),
  [SYNC_REQUESTS.run]: request(SyncRunPayload, SyncRunResult),
  [SYNC_REQUESTS.delete]: request(Type.Object({ syncId: NonEmpty() }), Type.Object({ deleted: Type.Boolean() })),

  // keyway apply (runner/apply/compare.ts).
  [SEALED_COMPARISON_REQUEST]: request(SealedComparisonPayload, SealedComparisonResult),
} as const satisfies Record<string, RequestSchemas>;

export type ControlKind = keyof typeof CONTROL_REQUESTS;
export type ControlPayload<K extends ControlKind> = Static<(typeof CONTROL_REQUESTS)[K]['payload']>;
export type ControlResult<K extends ControlKind> = Static<(typeof CONTROL_REQUESTS)[K]['result']>;

export function isControlKind(kind: string): kind is ControlKind {
  return Object.hasOwn(CONTROL_REQUESTS, kind);
}
