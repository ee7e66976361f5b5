// The web's types (web/src/types.ts) against the API's TypeBox schemas (src/management/*/schema.ts),
// checked by `npm run typecheck` (the main tsconfig compiles test/; the web's own cannot import
// server code). For every answer the UI reads, what the server sends must fit what the web reads,
// and the web may read no field the server never sends. A failure names the route and the path,
// e.g. `GET /me: user.hasPasword: the web reads it, the server never sends it`.
// test/web-api-types.test.ts proves that a change on either side makes this file fail to compile.
import type { Static, TSchema } from 'typebox';
import type * as web from '../../web/src/types.ts';
import type * as appConnections from '../../src/management/app-connections/schema.ts';
import type * as audit from '../../src/management/audit/schema.ts';
import type { ClientCredentialStateSchema } from '../../src/management/client-credentials/http.ts';
import type * as environments from '../../src/management/environments/schema.ts';
import type * as identity from '../../src/management/identity/schema.ts';
import type * as oauth from '../../src/management/oauth/schema.ts';
import type * as organizations from '../../src/management/organizations/schema.ts';
import type * as projects from '../../src/management/projects/schema.ts';
import type * as repositories from '../../src/management/repositories/schema.ts';
import type * as runners from '../../src/management/runners/schema.ts';
import type * as scm from '../../src/management/scm-integrations/schema.ts';
import type * as sso from '../../src/management/sso/schema.ts';
import type * as syncs from '../../src/management/syncs/schema.ts';

// ---- the check ----

type Join<P extends string, K> = P extends '' ? `${K & string}` : `${P}.${K & string}`;
type At<P extends string> = P extends '' ? '(answer)' : P;
type Keys<S> = S extends object ? keyof S : never;
type Prop<S, K> = S extends object ? (K extends keyof S ? S[K] : never) : never;
type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/** Fields the web reads that no variant of the server's answer has, as dotted paths. */
type Unsent<W, S, P extends string> = W extends readonly (infer WI)[]
  ? Unsent<WI, S extends readonly (infer SI)[] ? SI : never, `${P}[]`>
  : W extends object
    ? { [K in keyof W]-?: K extends Keys<S> ? Unsent<W[K], Prop<S, K>, Join<P, K>> : Join<P, K> }[keyof W]
    : never;

/** Where the server's answer does not fit what the web reads: a path and why. */
type Misfit<W, S, P extends string> = [S] extends [W]
  ? never
  : [null] extends [S]
    ? [null] extends [W]
      ? Misfit<NonNullable<W>, NonNullable<S>, P>
      : `${At<P>}: the server may send null`
    : [undefined] extends [S]
      ? [undefined] extends [W]
        ? Misfit<Exclude<W, undefined>, Exclude<S, undefined>, P>
        : `${At<P>}: the server may leave it out`
      : [S, W] extends [readonly (infer SI)[], readonly (infer WI)[]]
        ? Misfit<WI, SI, `${P}[]`>
        : [S, W] extends [object, object]
          ? {
              [K in keyof W]-?: K extends keyof S
                ? K extends OptionalKeys<S>
                  ? K extends OptionalKeys<W>
                    ? Misfit<W[K], S[K], Join<P, K>>
                    : `${Join<P, K>}: optional on the server, required in the web`
                  : Misfit<W[K], S[K], Join<P, K>>
                : K extends OptionalKeys<W>
                  ? never
                  : `${Join<P, K>}: required in the web, the server never sends it`;
            }[keyof W]
          : `${At<P>}: the server sends another type`;

/** Never when the pair agrees; else the problems, never silently nothing when the types disagree. */
type Problems<W, S> =
  | ([S] extends [W] ? never : [Misfit<W, S, ''>] extends [never] ? '(answer): does not fit' : Misfit<W, S, ''>)
  | `${Unsent<W, S, ''> & string}: the web reads it, the server never sends it`;

/**
 * Compiles only while the pair agrees: else the error names each problem as a key, e.g.
 * `{ "user.email: the web reads it, the server never sends it": "to fix" }`.
 */
type Verdict<P> = [P] extends [never] ? true : { [Problem in P & string]: 'to fix' };

function agree<W, Schema extends TSchema>(_route: string, _agrees: Verdict<Problems<W, Static<Schema>>>): void {}

// Each route the UI reads: agree<what the web reads, the server's response schema>. Wrappers written
// out here (`{ runners: Runner[] }`) are the ones the pages spell inline in `useApi<…>` / `api.get<…>`.
agree<web.Me, typeof identity.Me>('GET /me', true);
agree<{ csrfToken: string }, typeof identity.SignedIn>('POST /auth/sign-in', true);
agree<{ endedSessions: number; revokedTokens: number }, typeof identity.PasswordChanged>('PUT /me/password', true);
agree<{ sessions: web.SessionSummary[] }, typeof identity.SessionList>('GET /me/sessions', true);
agree<{ endedSessions: number }, typeof identity.SignedOutEverywhere>('POST /me/sessions/sign-out-everywhere', true);
agree<{ tokens: web.ApiToken[] }, typeof identity.ApiTokenList>('GET /api-tokens', true);
agree<web.CreatedApiToken, typeof identity.CreatedApiToken>('POST /api-tokens', true);
agree<{ providers: web.SsoProvider[] }, typeof sso.ProviderList>('GET /auth/sso/providers', true);
agree<{ redirectUrl: string }, typeof sso.SsoBegun>('POST /auth/sso/{provider}/begin', true);
agree<{ identities: web.LinkedIdentity[] }, typeof sso.LinkedIdentityList>('GET /me/identities', true);
agree<{ organizations: web.InstanceOrganization[] }, typeof organizations.OrganizationList>('GET /organizations', true);
agree<web.Organization, typeof organizations.CreatedOrganization>('POST /organizations', true);
agree<web.OrganizationPolicy, typeof organizations.Policy>('GET /organization/settings', true);
agree<web.PolicySaved, typeof organizations.PolicySaved>('PUT /organization/settings', true);
agree<web.OrganizationSso, typeof organizations.OrganizationSso>('GET /organization/sso', true);
agree<{ value: string }, typeof organizations.CreatedBinding>('POST /organization/sso/bindings', true);
agree<{ members: web.Member[] }, typeof organizations.MemberList>('GET /members', true);
agree<web.Offboarded, typeof organizations.MemberRemoved>('DELETE /members/{userId}', true);
agree<web.Offboarded, typeof organizations.OrganizationLeft>('DELETE /me/organizations/{organizationId}', true);
agree<{ users: web.InstanceUser[] }, typeof organizations.UserList>('GET /users', true);
agree<{ organizations: number; runners: number }, typeof organizations.UserDisabled>('PUT /users/{userId}/disabled', true);
agree<{ invitations: web.Invitation[] }, typeof organizations.InvitationList>('GET /invitations', true);
agree<web.CreatedInvitation, typeof organizations.CreatedInvitation>('POST /invitations', true);
agree<web.InvitationPreview, typeof organizations.InvitationPreview>('POST /invitations/preview', true);
agree<{ organizationId: string; switched: boolean }, typeof organizations.InvitationAccepted>('POST /invitations/accept', true);
agree<{ csrfToken: string }, typeof organizations.Registered>('POST /invitations/register', true);
agree<{ events: web.AuditEvent[]; nextCursor: string | null }, typeof audit.AuditEventPage>('GET /audit-events', true);
agree<{ runners: web.Runner[] }, typeof runners.RunnerList>('GET /runners', true);
agree<web.Runner, typeof runners.RunnerSchema>('GET /runners/{id}', true);
agree<web.CreatedRunner, typeof runners.CreatedRunner>('POST /runners', true);
agree<web.RepositoryCacheUsage, typeof runners.RepositoryCacheUsage>('GET /runners/{id}/repository-cache', true);
agree<{ integrations: web.Integration[] }, typeof scm.IntegrationList>('GET /runners/{runnerId}/scm-integrations', true);
agree<web.CreatedIntegration, typeof scm.SaveResponse>('POST /runners/{runnerId}/scm-integrations', true);
agree<web.UpdatedIntegration, typeof scm.UpdateResponse>('PATCH /runners/{runnerId}/scm-integrations/{id}', true);
agree<web.UpdatedIntegration, typeof scm.UpdateResponse>('POST /runners/{runnerId}/scm-integrations/{id}/draft/apply', true);
agree<web.IntegrationTest, typeof scm.TestResultSchema>('POST /runners/{runnerId}/scm-integrations/{id}/test', true);
agree<web.ClientCredentialState, typeof ClientCredentialStateSchema>(
  'GET, POST …/client-credential(/next-certificate) of integrations and app connections',
  true,
);
agree<web.AuthenticationCheck, typeof oauth.AuthenticationCheck>('GET /scm/authentication', true);
agree<web.StoredPat, typeof oauth.StoredPat>('POST /scm/pat', true);
agree<
  { authorizations: web.HostAuthorization[]; unavailableRunners: { runnerId: string; reason: string }[] },
  typeof oauth.AuthorizationList
>('GET /scm/authorizations', true);
agree<{ deleted: boolean; revokedUpstream: boolean; method: string }, typeof oauth.AuthorizationDeleted>(
  'DELETE /scm/authorizations/{runnerId}/{id}',
  true,
);
agree<SchemaRef<web.ResolvedContext>, typeof repositories.ResolvedContext>('POST /context/parse', true);
agree<SchemaRef<web.AccessCheck>, typeof repositories.AccessCheck>('POST /context/access', true);
agree<{ environments: web.Environment[] }, typeof environments.EnvironmentList>('GET /environments', true);
agree<web.Environment, typeof environments.EnvironmentSchema>('GET /environments/{id}', true);
agree<web.Environment, typeof environments.EnvironmentSchema>('POST /environments', true);
agree<{ status: string; message: string }, typeof environments.EnvironmentDeleting>('DELETE /environments/{id}', true);
agree<{ projects: web.Project[]; mayCreate: boolean }, typeof projects.ProjectList>('GET /projects', true);
agree<web.Project, typeof projects.ProjectSchema>('GET /projects/{id}', true);
agree<web.Project, typeof projects.ProjectSchema>('POST /projects', true);
agree<{ members: web.ProjectMember[] }, typeof projects.ProjectMemberList>('GET /projects/{id}/members', true);
agree<{ email: string }, typeof projects.ProjectMemberAdded>('POST /projects/{id}/members', true);
agree<web.OAuthAppConfiguration, typeof appConnections.OAuthConfigurationSchema>('GET /app-connections/oauth/configuration', true);
agree<{ connections: web.AppConnection[] }, typeof appConnections.ConnectionList>('GET /projects/{projectId}/app-connections', true);
agree<web.SavedConnection, typeof appConnections.SaveConnectionResponse>('POST /projects/{projectId}/app-connections', true);
agree<web.UpdatedConnection, typeof appConnections.UpdateConnectionResponse>('PATCH /projects/{projectId}/app-connections/{id}', true);
agree<{ connection: web.AppConnection }, typeof appConnections.UpdateConnectionResponse>(
  'PATCH /projects/{projectId}/app-connections/{id} (member targets)',
  true,
);
agree<web.ConnectionValidation, typeof appConnections.ValidationSchema>('POST /projects/{projectId}/app-connections/{id}/test', true);
agree<{ syncs: web.VariableSync[] }, typeof syncs.SyncList>('GET /projects/{projectId}/syncs', true);
agree<{ sync: web.VariableSync }, typeof syncs.CreatedSync>('POST /projects/{projectId}/syncs', true);
agree<web.VariableSync, typeof syncs.SyncSchema>('PATCH /projects/{projectId}/syncs/{id}', true);
agree<{ runId?: string }, typeof syncs.VariablesResponse>('PUT /projects/{projectId}/syncs/{id}/variables', true);
agree<{ runId?: string }, typeof syncs.VariablesResponse>('PATCH /projects/{projectId}/syncs/{id}/variables', true);
agree<web.SyncRun, typeof syncs.RunSchema>('POST /projects/{projectId}/syncs/{id}/run', true);
agree<{ runs: web.SyncRun[] }, typeof syncs.RunList>('GET /projects/{projectId}/syncs/{id}/runs', true);

// POST /context/parse and /context/access answer the URL parser's own RepositoryContext
// (src/azure-devops/url.ts, shared with the web), whose `ref` is a union by type; the schema describes
// ref as one object with optional name, sha and pullRequestId. The web reads the parser's type, so what
// is checked is that the schema's ref carries each of its fields, and that the parser's context fits
// the schema (nothing of it is dropped on the way out).
type SchemaRef<T extends { context: web.RepositoryContext }> = Omit<T, 'context'> & {
  context: Omit<web.RepositoryContext, 'ref'> & { ref?: { type: web.RefType; name?: string; sha?: string; pullRequestId?: number } };
};
function fits<Schema extends TSchema, _T extends Static<Schema>>(_what: string): void {}
fits<typeof repositories.Context, web.RepositoryContext>('RepositoryContext as the schema sends it');
