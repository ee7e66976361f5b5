// The authorization matrix: every /api/v1 route of the OpenAPI document, called as anonymous, a
// member (session and API token), a member and an admin of another organization, an admin (with
// and without the CSRF header), a runner and another runner. Each route is classified here, by
// hand, as a security specification independent of the code: a route added without a class
// fails the first test, so new routes are covered as soon as they are registered.
//
// Ids in paths are real resources of organization A for the principals that must be refused (so a
// missing check would act on them and the test would see it), and ids that do not exist for the
// principals that are allowed (so the matrix changes nothing): writes never touch the fixture.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { generateRunnerKeyPair } from '../../src/crypto/sealing.ts';
import { Browser, founderOfNewOrganization } from '../support/management.ts';
import { preferredKind, startWorld } from './support/world.ts';
import type { World } from './support/world.ts';

type RouteClass =
  /** Anyone, signed in or not. */
  | 'public'
  /** Any signed-in user; resources of their own organization (or their own). */
  | 'user'
  /** Any signed-in person, even one whose session is in no organization yet; their own account. */
  | 'account'
  /** Instance operators (the bootstrap admin here; not the founder of organization B). */
  | 'operator'
  /** Organization admins. */
  | 'admin'
  /** Members of the project and organization admins. */
  | 'project'
  /** Runner tokens; resources of the calling runner. */
  | 'runner'
  /** Only a revoked runner's token (none in this matrix): everyone here is refused with 401. */
  | 'revoked-runner';

interface RouteSpec {
  class: RouteClass;
  /** Whose resource the path ids name: decides who may see it. Default: the organization's. */
  owner?: 'org' | 'admin-self' | 'runner-self' | 'project';
  /** Sent on every call (e.g. `wait=0` so a long-poll answers at once). */
  query?: (ids: Ids) => string;
  /** A body that would succeed with real ids, so a missing check cannot hide behind a 400. */
  body?: (ids: Ids) => unknown;
  /** Works only in a browser session: an API token is refused with 403 by design. */
  sessionOnly?: boolean;
  /** Ends the caller's session: allowed principals call it with a throwaway session. */
  endsSession?: boolean;
  /** Ends every session of the caller's account: the matrix signs its own sessions in again afterwards. */
  endsAllSessions?: boolean;
  /** What an allowed read of the fixture's resources answers when that is not 2xx/3xx, and why. */
  allowedRead?: { status: number; why: string };
  /** A project owner's action: a member of the project (not an owner) is refused with 403, real ids and the sample body notwithstanding (issue 15). */
  owners?: boolean;
}

interface Ids {
  runner: string;
  integration: string;
  project: string;
  environment: string;
  connection: string;
  sync: string;
  apiToken: string;
  authorization: string;
  member: string;
}

const rid = (ids: Ids) => `integrationId=${ids.integration}`;

// The security specification. Keep it in step with the OpenAPI document (the first test says what is missing).
const ROUTES: Record<string, RouteSpec> = {
  'POST /api/v1/auth/sign-in': { class: 'public', body: () => ({ email: 'nobody@acme.test', password: 'not-the-password-1' }) },
  'POST /api/v1/auth/link': { class: 'public' },
  'GET /api/v1/auth/sso/providers': { class: 'public' },
  'POST /api/v1/auth/sso/{provider}/begin': { class: 'public', body: () => ({ email: 'someone@acme.test' }) },
  'GET /api/v1/auth/sso/callback': { class: 'public', query: () => 'code=forged&state=forged' },
  'POST /api/v1/auth/sign-out': { class: 'account', endsSession: true },
  'GET /api/v1/me': { class: 'account' },
  'PUT /api/v1/me/organization': { class: 'account' },
  'PUT /api/v1/me/password': { class: 'account', sessionOnly: true, body: () => ({ password: 'an-intruders-new-passphrase' }) },
  'GET /api/v1/me/sessions': { class: 'account' },
  'DELETE /api/v1/me/sessions/{id}': { class: 'account' },
  'POST /api/v1/me/sessions/sign-out-everywhere': { class: 'account', endsSession: true, endsAllSessions: true, sessionOnly: true },
  'GET /api/v1/me/identities': { class: 'account' },
  'DELETE /api/v1/me/identities/{id}': { class: 'account', sessionOnly: true },
  'DELETE /api/v1/me/organizations/{organizationId}': { class: 'account', sessionOnly: true },
  'GET /api/v1/api-tokens': { class: 'user' },
  'POST /api/v1/api-tokens': { class: 'user', sessionOnly: true, body: () => ({ name: 'minted by a token' }) },
  'DELETE /api/v1/api-tokens/{id}': { class: 'user', owner: 'admin-self' },
  'GET /api/v1/members': { class: 'user' },
  'PUT /api/v1/members/{userId}/role': { class: 'admin', body: () => ({ role: 'admin' }) },
  'DELETE /api/v1/members/{userId}': { class: 'admin' },
  'POST /api/v1/organizations': { class: 'operator', body: () => ({ name: 'Intruder Org' }) },
  'GET /api/v1/organizations': { class: 'operator' },
  'GET /api/v1/organization/settings': { class: 'admin' },
  'PUT /api/v1/organization/settings': { class: 'admin', body: () => ({ passwordSignIn: false, projectCreation: 'members' }) },
  'GET /api/v1/organization/sso': { class: 'admin' },
  'POST /api/v1/organization/sso/bindings': { class: 'admin', body: () => ({ kind: 'email-domain', value: 'acme.test' }) },
  'DELETE /api/v1/organization/sso/bindings/{id}': { class: 'admin' },
  'GET /api/v1/users': { class: 'operator' },
  'PUT /api/v1/users/{userId}/disabled': { class: 'operator', body: () => ({ disabled: true }) },
  'GET /api/v1/invitations': { class: 'admin' },
  'POST /api/v1/invitations': { class: 'admin', body: () => ({ email: 'intruder@evil.test', role: 'admin' }) },
  'DELETE /api/v1/invitations/{id}': { class: 'admin' },
  'POST /api/v1/invitations/preview': { class: 'public' },
  'POST /api/v1/invitations/accept': { class: 'account', sessionOnly: true, body: () => ({ token: `kwi_${'A'.repeat(43)}` }) },
  'POST /api/v1/invitations/register': { class: 'public' },
  'GET /api/v1/audit-events': { class: 'admin' },
  'GET /api/v1/runners': { class: 'user' },
  'POST /api/v1/runners': { class: 'admin', body: () => ({ name: 'intruder' }) },
  'GET /api/v1/runners/{id}': { class: 'user' },
  'DELETE /api/v1/runners/{id}': { class: 'admin' },
  'POST /api/v1/runner/exchange': { class: 'public' },
  'GET /api/v1/runner/self': { class: 'runner' },
  'GET /api/v1/runner/settings': { class: 'runner' },
  'GET /api/v1/runner/replicas': { class: 'runner' },
  'PUT /api/v1/runner/public-key': { class: 'runner' },
  'GET /api/v1/runner/integrations/{id}': { class: 'runner', owner: 'runner-self' },
  'GET /api/v1/runner/control': { class: 'runner', query: () => 'wait=0' },
  'POST /api/v1/runner/control/{requestId}': { class: 'runner', owner: 'runner-self', body: () => ({ ok: true, result: null }) },
  'GET /api/v1/runners/{runnerId}/scm-integrations': { class: 'user' },
  'POST /api/v1/runners/{runnerId}/scm-integrations': {
    class: 'admin',
    body: () => ({ scmId: 'azure-devops', host: 'dev.azure.com', pat: { enabled: true } }),
  },
  'GET /api/v1/runners/{runnerId}/scm-integrations/{id}': { class: 'user' },
  'PATCH /api/v1/runners/{runnerId}/scm-integrations/{id}': { class: 'admin', body: () => ({ pat: { enabled: false } }) },
  'DELETE /api/v1/runners/{runnerId}/scm-integrations/{id}': { class: 'admin' },
  'POST /api/v1/runners/{runnerId}/scm-integrations/{id}/test': { class: 'admin' },
  'POST /api/v1/runners/{runnerId}/sealed-comparisons': { class: 'admin', body: () => ({ items: [] }) },
  'POST /api/v1/runners/{runnerId}/scm-integrations/{id}/draft/apply': { class: 'admin' },
  'DELETE /api/v1/runners/{runnerId}/scm-integrations/{id}/draft': { class: 'admin' },
  // Issue 19: an app credential without secret (the fixture's integration uses a client secret).
  'GET /api/v1/runners/{runnerId}/scm-integrations/{id}/client-credential': {
    class: 'user',
    allowedRead: { status: 409, why: "the fixture's integration uses a client secret: nothing to show" },
  },
  'POST /api/v1/runners/{runnerId}/scm-integrations/{id}/client-credential/next-certificate': { class: 'admin' },
  'GET /api/v1/runners/{runnerId}/scm-integrations/{id}/client-credential/certificate': {
    class: 'user',
    allowedRead: { status: 404, why: "the fixture's integration has no certificate" },
  },
  'GET /api/v1/scm/authentication': { class: 'user', query: rid },
  'GET /api/v1/oauth/authorize/{integrationId}': { class: 'user', sessionOnly: true },
  'GET /api/v1/oauth/callback/{integrationId}': { class: 'public', query: () => 'code=forged&state=forged' },
  'POST /api/v1/scm/pat': {
    class: 'user',
    body: (ids) => ({ integrationId: ids.integration, organization: 'contoso', token: 'not-a-real-token-value' }),
  },
  'GET /api/v1/scm/authorizations': { class: 'user' },
  'DELETE /api/v1/scm/authorizations/{runnerId}/{id}': { class: 'user', owner: 'admin-self' },
  'POST /api/v1/environments': {
    class: 'user',
    body: (ids) => ({ contextUrl: 'https://dev.azure.com/contoso/Web/_git/web', runnerId: ids.runner }),
  },
  'GET /api/v1/environments': { class: 'user' },
  'GET /api/v1/environments/{id}': { class: 'user', owner: 'admin-self' },
  'DELETE /api/v1/environments/{id}': { class: 'user', owner: 'admin-self' },
  'POST /api/v1/runner/environments/{id}/progress': {
    class: 'runner',
    owner: 'runner-self',
    body: () => ({ status: 'failed', error: { code: 'x', message: 'forged' } }),
  },
  'GET /api/v1/runners/{runnerId}/scm-integrations/{id}/environment-defaults': { class: 'user' },
  'PUT /api/v1/runners/{runnerId}/scm-integrations/{id}/environment-defaults': {
    class: 'admin',
    body: () => ({ filter: 'blob:none', depth: 1 }),
  },
  'GET /api/v1/runners/{id}/repository-cache': { class: 'user' },
  'PUT /api/v1/runner/repository-cache': {
    class: 'runner',
    body: () => ({ instance: 'forged:/x', bytes: 1, limitBytes: 1, repositories: 1 }),
  },
  'POST /api/v1/context/parse': {
    class: 'user',
    body: (ids) => ({ url: 'https://dev.azure.com/contoso/Web/_git/web', integrationId: ids.integration }),
  },
  'POST /api/v1/context/access': {
    class: 'user',
    body: (ids) => ({ url: 'https://dev.azure.com/contoso/Web/_git/web', integrationId: ids.integration }),
  },
  'GET /api/v1/scm/organizations': { class: 'user', query: rid },
  'GET /api/v1/scm/projects': { class: 'user', query: (ids) => `${rid(ids)}&organization=contoso` },
  'GET /api/v1/scm/repositories': { class: 'user', query: (ids) => `${rid(ids)}&organization=contoso` },
  'GET /api/v1/scm/branches': { class: 'user', query: (ids) => `${rid(ids)}&organization=contoso&project=Web&repository=web` },
  'GET /api/v1/scm/commits': { class: 'user', query: (ids) => `${rid(ids)}&organization=contoso&project=Web&repository=web` },
  'GET /api/v1/scm/pull-requests': { class: 'user', query: (ids) => `${rid(ids)}&organization=contoso&project=Web&repository=web` },
  'GET /api/v1/projects': { class: 'user' },
  'POST /api/v1/projects': { class: 'admin', body: () => ({ name: 'intruder' }) },
  'GET /api/v1/projects/{id}': { class: 'project', owner: 'project' },
  'GET /api/v1/projects/{id}/members': { class: 'project', owner: 'project' },
  'POST /api/v1/projects/{id}/members': {
    class: 'project',
    owner: 'project',
    owners: true,
    body: (ids) => ({ userId: ids.member, role: 'owner' }),
  },
  'DELETE /api/v1/projects/{id}/members/{userId}': { class: 'project', owner: 'project', owners: true },
  'GET /api/v1/app-connections/oauth/configuration': { class: 'user' },
  'GET /api/v1/projects/{projectId}/app-connections': { class: 'project', owner: 'project' },
  'POST /api/v1/projects/{projectId}/app-connections': {
    class: 'project',
    owner: 'project',
    owners: true,
    body: (ids) => ({
      name: 'intruder',
      runnerId: ids.runner,
      method: 'access-token',
      organization: 'contoso',
      accessToken: 'not-a-real-token-value',
    }),
  },
  'GET /api/v1/projects/{projectId}/app-connections/{id}': { class: 'project', owner: 'project' },
  'PATCH /api/v1/projects/{projectId}/app-connections/{id}': {
    class: 'project',
    owner: 'project',
    owners: true,
    body: () => ({ memberTargets: [{ project: 'Web' }] }),
  },
  'DELETE /api/v1/projects/{projectId}/app-connections/{id}': { class: 'project', owner: 'project', owners: true },
  'POST /api/v1/projects/{projectId}/app-connections/{id}/test': { class: 'project', owner: 'project' },
  'GET /api/v1/projects/{projectId}/app-connections/{id}/client-credential': {
    class: 'project',
    owner: 'project',
    allowedRead: { status: 409, why: "the fixture's connection is an access token: nothing to show" },
  },
  'POST /api/v1/projects/{projectId}/app-connections/{id}/client-credential/next-certificate': {
    class: 'project',
    owner: 'project',
    owners: true,
  },
  'GET /api/v1/projects/{projectId}/app-connections/{id}/client-credential/certificate': {
    class: 'project',
    owner: 'project',
    allowedRead: { status: 404, why: "the fixture's connection has no certificate" },
  },
  'GET /api/v1/projects/{projectId}/app-connections/{id}/oauth/authorize': {
    class: 'project',
    owner: 'project',
    owners: true,
    sessionOnly: true,
    allowedRead: { status: 400, why: "the fixture's connection is an access token, not oauth" },
  },
  'GET /api/v1/projects/{projectId}/syncs': { class: 'project', owner: 'project' },
  // Issue 15: creating or retargeting a sync is an owner's action (the fixture's connection allows members no targets).
  'POST /api/v1/projects/{projectId}/syncs': {
    class: 'project',
    owner: 'project',
    owners: true,
    body: (ids) => ({ name: 'intruder', connectionId: ids.connection, project: 'Web', groupName: 'prod-release' }),
  },
  'GET /api/v1/projects/{projectId}/syncs/{id}': { class: 'project', owner: 'project' },
  'PATCH /api/v1/projects/{projectId}/syncs/{id}': {
    class: 'project',
    owner: 'project',
    owners: true,
    body: () => ({ groupName: 'prod-release', adoptExisting: true }),
  },
  'DELETE /api/v1/projects/{projectId}/syncs/{id}': { class: 'project', owner: 'project' },
  'PUT /api/v1/projects/{projectId}/syncs/{id}/variables': { class: 'project', owner: 'project', body: () => ({ variables: [] }) },
  'PATCH /api/v1/projects/{projectId}/syncs/{id}/variables': { class: 'project', owner: 'project', body: () => ({ remove: ['X'] }) },
  'POST /api/v1/projects/{projectId}/syncs/{id}/run': { class: 'project', owner: 'project' },
  'GET /api/v1/projects/{projectId}/syncs/{id}/runs': { class: 'project', owner: 'project' },
  'POST /api/v1/runner/events': {
    class: 'runner',
    body: () => ({
      events: [
        {
          id: 'rev_matrixmatrix',
          action: 'credentials.purged',
          outcome: 'success',
          occurredAt: new Date().toISOString(),
          details: { count: 0 },
        },
      ],
    }),
  },
  'POST /api/v1/runner/revocation-purge': {
    class: 'revoked-runner',
    body: () => ({ credentials: 0, pendingSignIns: 0, syncValues: 0, purgedAt: new Date().toISOString() }),
  },
};

type PrincipalName =
  | 'anonymous'
  | 'member'
  | 'member-token'
  | 'other-org-member'
  | 'other-org-admin'
  | 'admin'
  | 'admin-no-csrf'
  | 'runner'
  | 'other-runner'
  | 'project-member';

interface Principal {
  name: PrincipalName;
  headers(method: string): Record<string, string>;
  /** Each principal calls from its own address: the global rate limit is per address. */
  ip: string;
}

interface Outcome {
  route: string;
  principal: PrincipalName;
  status: number;
  expected: string;
  ok: boolean;
}

const SAFE = new Set(['GET', 'HEAD']);
const isAuthFailure = (s: number) => s === 401 || s === 403;

for (const kind of [await preferredKind()]) {
  describe(`authorization matrix over every /api/v1 route of the OpenAPI document (${kind})`, () => {
    let world: World;
    let ids: Ids;
    let routes: { key: string; method: string; path: string }[] = [];
    /** Signs the matrix's own browser sessions in again (after "sign out everywhere"). */
    let signInAgain: () => Promise<void> = async () => undefined;
    const principals: Principal[] = [];
    const outcomes: Outcome[] = [];
    /** Values of organization A that another organization must never see. */
    let orgASecrets: string[] = [];

    before(async () => {
      world = await startWorld(kind, { runnerName: 'matrix' });
      const { plane } = world;
      const admin = plane.adminBrowser;
      const ok = (res: LightMyRequestResponse, what: string) => {
        assert.ok(res.statusCode < 300, `${what}: ${res.statusCode} ${res.body}`);
        world.canaries.response(what, res);
        return res.json();
      };
      const pat = world.emu.world.createPat(world.adoUser.id, {
        scopes: ['vso.code_write', 'vso.project', 'vso.variablegroups_manage', 'vso.profile'],
        orgs: ['contoso'],
      }).token;
      world.canaries.watch(pat, 'Azure DevOps PAT');

      // Organization A's resources.
      const authorization = ok(
        await admin.request({
          method: 'POST',
          url: '/api/v1/scm/pat',
          payload: { integrationId: world.integrationId, organization: 'contoso', token: pat },
        }),
        'admin PAT',
      );
      const environment = ok(
        await admin.request({
          method: 'POST',
          url: '/api/v1/environments',
          payload: { contextUrl: 'https://dev.azure.com/contoso/Web/_git/web', runnerId: world.runnerId },
        }),
        'environment',
      );
      const project = ok(await admin.request({ method: 'POST', url: '/api/v1/projects', payload: { name: 'Payments' } }), 'project');
      const projectId = (project.project ?? project).id as string;
      const connection = ok(
        await admin.request({
          method: 'POST',
          url: `/api/v1/projects/${projectId}/app-connections`,
          payload: { name: 'ado', runnerId: world.runnerId, method: 'access-token', organization: 'contoso', accessToken: pat },
        }),
        'app connection',
      );
      const connectionId = (connection.connection ?? connection).id as string;
      const sync = ok(
        await admin.request({
          method: 'POST',
          url: `/api/v1/projects/${projectId}/syncs`,
          payload: { name: 'vars', connectionId, project: 'Web', groupName: 'kw-matrix' },
        }),
        'sync',
      );
      const adminToken = ok(
        await admin.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'matrix' } }),
        'admin API token',
      );
      world.canaries.watch(adminToken.token, 'admin API token', ['responses']);
      ids = {
        runner: world.runnerId,
        integration: world.integrationId,
        project: projectId,
        environment: environment.id ?? environment.environment?.id,
        connection: connectionId,
        sync: (sync.sync ?? sync).id,
        apiToken: adminToken.id ?? adminToken.token?.id ?? adminToken.apiToken?.id,
        authorization: authorization.authorizationId,
        member: plane.member.id,
      };
      for (const [k, v] of Object.entries(ids)) assert.ok(typeof v === 'string' && v, `fixture id ${k} is missing`);

      // Organization B, with a member and an admin who belong to B only.
      const { organization: orgB } = await founderOfNewOrganization(
        plane,
        { email: 'founder@other.test', password: 'founder-password-1' },
        'Other Corp',
      );
      const otherMember = await plane.core.identity.createUser({
        email: 'member@other.test',
        password: 'other-member-password',
        organizationId: orgB.id,
        role: 'member',
      });
      assert.ok(otherMember.id);
      const otherMemberBrowser = new Browser(plane.app);
      assert.equal((await otherMemberBrowser.signIn('member@other.test', 'other-member-password')).statusCode, 200);
      const otherAdminBrowser = new Browser(plane.app);
      signInAgain = async () => {
        await plane.memberBrowser.signIn(plane.member.email, plane.member.password);
        await admin.signIn(plane.admin.email, plane.admin.password);
        await otherMemberBrowser.signIn('member@other.test', 'other-member-password');
        await otherAdminBrowser.signIn('founder@other.test', 'founder-password-1');
      };
      assert.equal((await otherAdminBrowser.signIn('founder@other.test', 'founder-password-1')).statusCode, 200);
      world.canaries.watch('other-member-password', 'other member password');

      // Another runner of organization A (registered, not running).
      const second = ok(await admin.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'second' } }), 'second runner');
      const exchanged = ok(
        await plane.app.inject({
          method: 'POST',
          url: '/api/v1/runner/exchange',
          payload: { exchangeToken: second.exchangeToken, publicKey: (await generateRunnerKeyPair()).publicKey, version: 'test' },
        }),
        'second runner exchange',
      );
      world.canaries.watch(exchanged.runnerToken, 'second runner token', ['responses']);

      // A member of the project who is not its owner (issue 15: owners' actions are refused to them).
      const projectMember = await plane.core.identity.createUser({
        email: 'project-member@acme.test',
        password: 'project-member-password',
        organizationId: plane.organizationId,
        role: 'member',
      });
      ok(
        await admin.request({
          method: 'POST',
          url: `/api/v1/projects/${projectId}/members`,
          payload: { userId: projectMember.id, role: 'member' },
        }),
        'project member',
      );
      const projectMemberBrowser = new Browser(plane.app);
      assert.equal((await projectMemberBrowser.signIn('project-member@acme.test', 'project-member-password')).statusCode, 200);
      world.canaries.watch('project-member-password', 'project member password');
      const signInOthers = signInAgain;
      signInAgain = async () => {
        await signInOthers();
        await projectMemberBrowser.signIn('project-member@acme.test', 'project-member-password');
      };

      const memberToken = ok(
        await plane.memberBrowser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'matrix' } }),
        'member API token',
      );
      world.canaries.watch(memberToken.token, 'member API token', ['responses']);

      const session =
        (b: Browser, csrf = true) =>
        (method: string) => ({ cookie: b.cookie, ...(csrf && !SAFE.has(method) ? { 'x-csrf-token': b.csrfToken } : {}) });
      const bearer = (token: string) => () => ({ authorization: `Bearer ${token}` });
      const add = (name: PrincipalName, headers: Principal['headers']) =>
        principals.push({ name, headers, ip: `10.9.${principals.length}.1` });
      add('anonymous', () => ({}));
      add('member', session(plane.memberBrowser));
      add('member-token', bearer(memberToken.token));
      add('other-org-member', session(otherMemberBrowser));
      add('other-org-admin', session(otherAdminBrowser));
      add('admin', session(admin));
      add('admin-no-csrf', session(admin, false));
      add('runner', bearer(world.runner.runtime.registration.runnerToken));
      add('other-runner', bearer(exchanged.runnerToken));
      add('project-member', session(projectMemberBrowser));

      orgASecrets = [
        ids.runner,
        ids.integration,
        ids.project,
        ids.environment,
        ids.connection,
        ids.sync,
        ids.apiToken,
        ids.authorization,
        plane.admin.email,
        plane.member.email,
      ];

      const doc = (await plane.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
        paths: Record<string, Record<string, unknown>>;
      };
      for (const [path, operations] of Object.entries(doc.paths)) {
        if (!path.startsWith('/api/v1/')) continue;
        for (const method of Object.keys(operations))
          routes.push({ key: `${method.toUpperCase()} ${path}`, method: method.toUpperCase(), path });
      }
      routes = routes.sort((a, b) => a.key.localeCompare(b.key));
    });
    after(async () => {
      await world?.close();
    });

    it('classifies every route of the OpenAPI document (a new route must be added to the matrix)', () => {
      const documented = new Set(routes.map((r) => r.key));
      assert.ok(documented.size > 30, 'the OpenAPI document lists the API');
      assert.deepEqual(
        routes.map((r) => r.key).filter((k) => !ROUTES[k]),
        [],
        'routes without a class in test/resilience/authorization-matrix.test.ts',
      );
      assert.deepEqual(
        Object.keys(ROUTES).filter((k) => !documented.has(k)),
        [],
        'classified routes that no longer exist',
      );
    });

    /** Path ids: real resources of organization A, or ids that do not exist. */
    function fill(path: string, real: boolean): string {
      return path.replace(/\{(\w+)\}/g, (_m, name: string, offset: number) => {
        const before = path.slice(0, offset).split('/').filter(Boolean).pop() ?? '';
        const realId =
          name === 'runnerId'
            ? ids.runner
            : name === 'integrationId'
              ? ids.integration
              : name === 'projectId'
                ? ids.project
                : name === 'userId'
                  ? ids.member
                  : name === 'requestId'
                    ? 'req_unknownrequest0000'
                    : ((
                        {
                          runners: ids.runner,
                          'scm-integrations': ids.integration,
                          integrations: ids.integration,
                          'api-tokens': ids.apiToken,
                          authorizations: ids.authorization,
                          environments: ids.environment,
                          projects: ids.project,
                          'app-connections': ids.connection,
                          syncs: ids.sync,
                        } as Record<string, string>
                      )[before] ?? 'unknown0000');
        return real ? encodeURIComponent(realId) : `${realId.split('_')[0]}_doesnotexist000000`;
      });
    }

    /** Whether the principal may use the route at all (before looking at whose resource it is). */
    function allowed(spec: RouteSpec, p: PrincipalName): boolean {
      const user = ['member', 'member-token', 'other-org-member', 'other-org-admin', 'admin', 'admin-no-csrf', 'project-member'].includes(
        p,
      );
      switch (spec.class) {
        case 'public':
          return true;
        case 'runner':
          return p === 'runner' || p === 'other-runner';
        case 'user':
        case 'account':
          return user;
        case 'operator':
          return p === 'admin' || p === 'admin-no-csrf';
        case 'admin':
          return p === 'admin' || p === 'admin-no-csrf' || p === 'other-org-admin';
        case 'project':
          return user;
        case 'revoked-runner':
          return false;
      }
    }

    /** Whether the principal may act on organization A's resource that the path names. */
    function owns(spec: RouteSpec, p: PrincipalName, hasIds: boolean): boolean {
      if (!hasIds) return true;
      if (spec.class === 'runner') return spec.owner === 'runner-self' ? p === 'runner' : true;
      if (p === 'other-org-member' || p === 'other-org-admin') return false;
      if (spec.owner === 'project' && p === 'project-member') return true;
      if (spec.owner === 'admin-self' || spec.owner === 'project') return p === 'admin' || p === 'admin-no-csrf';
      return true;
    }

    interface Expectation {
      /** Real ids of organization A in the path, or ids that do not exist. */
      real: boolean;
      /** The sample body (a refused caller must be refused although it would work), or `{}` (nothing may change). */
      sample: boolean;
      check: (status: number) => boolean;
      text: string;
    }

    function expectation(spec: RouteSpec, method: string, p: PrincipalName, hasIds: boolean): Expectation {
      const mayUse = allowed(spec, p);
      const mayTouch = owns(spec, p, hasIds);
      const write = !SAFE.has(method);
      const refused = (check: (s: number) => boolean, text: string): Expectation => ({ real: true, sample: true, check, text });
      if (spec.class === 'revoked-runner') return refused((s) => s === 401, '401 (only a revoked runner may confirm its purge)');
      if (!mayUse) {
        if (p === 'anonymous') return refused((s) => s === 401, '401');
        if (spec.class === 'runner') return refused((s) => s === 401, '401 (runner route)');
        if (p === 'runner' || p === 'other-runner') return refused((s) => s === 403, '403 (runner token on a user route)');
        return refused((s) => s === 403 || s === 404, '403/404');
      }
      // Public routes answer everyone; what they answer (401 for a wrong password, 400 for a forged
      // OAuth state) is the business of their own suites.
      if (spec.class === 'public') return { real: true, sample: true, check: (s) => s < 500, text: 'not 5xx' };
      if (spec.class !== 'runner' && write && p === 'admin-no-csrf') return refused((s) => s === 403, '403 (no CSRF token)');
      if (!mayTouch) return refused((s) => s === 403 || s === 404 || s === 409, "403/404 (another's resource)");
      if (spec.owners && p === 'project-member') return refused((s) => s === 403, '403 (project owners only)');
      // A token is refused even with a body that would work from a browser session.
      if (spec.sessionOnly && p === 'member-token')
        return { real: !write, sample: write, check: (s) => s === 403, text: '403 (browser session only)' };
      // Allowed: reads of real resources succeed; writes go to ids that do not exist, or carry an
      // empty body, so the matrix changes nothing.
      if (!write && hasIds && spec.allowedRead) {
        const { status, why } = spec.allowedRead;
        return { real: true, sample: false, check: (s) => s === status, text: `${status} (${why})` };
      }
      if (!write && hasIds) return { real: true, sample: false, check: (s) => s >= 200 && s < 400, text: '2xx/3xx' };
      return { real: !write, sample: hasIds, check: (s) => !isAuthFailure(s) && s < 500, text: 'not 401/403' };
    }

    async function call(p: Principal, method: string, url: string, body: unknown): Promise<LightMyRequestResponse> {
      const options: InjectOptions = { method: method as InjectOptions['method'], url, headers: p.headers(method), remoteAddress: p.ip };
      if (!SAFE.has(method) && method !== 'DELETE') options.payload = (body ?? {}) as InjectOptions['payload'];
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        // An answer that takes this long is a hang as far as the matrix is concerned.
        return await Promise.race([
          world.plane.app.inject(options),
          new Promise<never>(
            (_, reject) =>
              (timer = setTimeout(() => reject(new Error(`${method} ${url} as ${p.name} did not answer within 20 s`)), 20_000)),
          ),
        ]);
      } finally {
        clearTimeout(timer);
        if (process.env.KEYWAY_MATRIX_DEBUG) console.log(`# ${Date.now() - started} ms ${method} ${url} as ${p.name}`);
      }
    }

    /**
     * The other organization's audit log records its own people's failed attempts on organization
     * A's ids, naming the ids they put in the URL (as a cloud audit trail names the resource a
     * refused call named). Those ids came from the caller, not from A, so they are taken out of such
     * events before the leak scan; everything else in them (any detail read from A) is scanned.
     */
    function answerWithoutOwnAttempts(key: string, body: string): string {
      if (key !== 'GET /api/v1/audit-events') return body;
      type Event = {
        outcome: string;
        actor: { type: string };
        target: { id: string | null; name: string | null } | null;
        details: Record<string, unknown>;
      };
      const page = JSON.parse(body) as { events: Event[] };
      const fromUrl = ['projectId', 'runnerId', 'userId'];
      return JSON.stringify({
        ...page,
        events: page.events.map((e) =>
          e.outcome === 'failure' && e.actor.type === 'user' && e.target?.name === null
            ? {
                ...e,
                target: { ...e.target, id: null },
                details: Object.fromEntries(Object.entries(e.details).filter(([k]) => !fromUrl.includes(k))),
              }
            : e,
        ),
      });
    }

    it('answers every route as its class says, for every principal, and never with a 5xx', async () => {
      for (const { key, method, path } of routes) {
        const spec = ROUTES[key];
        if (!spec) continue;
        const hasIds = path.includes('{');
        for (const p of principals) {
          const want = expectation(spec, method, p.name, hasIds);
          let principal = p;
          if (spec.endsSession && want.check(200) && p.name !== 'admin-no-csrf') {
            // Sign a throwaway session in (for users), so the matrix keeps its own.
            const fresh = new Browser(world.plane.app);
            const { email, password } =
              p.name === 'other-org-admin'
                ? { email: 'founder@other.test', password: 'founder-password-1' }
                : p.name.startsWith('other')
                  ? { email: 'member@other.test', password: 'other-member-password' }
                  : p.name === 'admin'
                    ? world.plane.admin
                    : world.plane.member;
            if (p.name !== 'member-token') {
              await fresh.signIn(email, password);
              principal = {
                ...p,
                headers: (m) => ({ cookie: fresh.cookie, ...(!SAFE.has(m) ? { 'x-csrf-token': fresh.csrfToken } : {}) }),
              };
            }
          }
          const url = `${fill(path, want.real)}${spec.query ? `?${spec.query(ids)}` : ''}`;
          const res = await call(principal, method, url, want.sample ? spec.body?.(ids) : {});
          if (spec.endsAllSessions && res.statusCode < 300) await signInAgain();
          world.canaries.response(`${key} as ${p.name}`, res);
          const ok = want.check(res.statusCode) && res.statusCode < 500;
          outcomes.push({ route: key, principal: p.name, status: res.statusCode, expected: want.text, ok });
          if (p.name.startsWith('other') && res.statusCode < 300) {
            const leaked = orgASecrets.filter((v) => answerWithoutOwnAttempts(key, res.body).includes(v));
            if (leaked.length)
              outcomes.push({
                route: key,
                principal: p.name,
                status: res.statusCode,
                expected: `no organization A data (found ${leaked.length} value(s))`,
                ok: false,
              });
          }
        }
      }
      const failures = outcomes.filter((o) => !o.ok).map((o) => `${o.route} as ${o.principal}: ${o.status}, expected ${o.expected}`);
      const total = outcomes.length;
      console.log(
        `# authorization matrix: ${routes.length} routes × ${principals.length} principals = ${total} calls, ${failures.length} unexpected answers, ${outcomes.filter((o) => o.status >= 500).length} 5xx`,
      );
      assert.deepEqual(failures, []);
    });

    it('the fixture survived the matrix: nothing was revoked, deleted or renamed', async () => {
      const runner = await world.plane.adminBrowser.request({ method: 'GET', url: `/api/v1/runners/${ids.runner}` });
      assert.equal(runner.json().status, 'online');
      const members = (await world.plane.adminBrowser.request({ method: 'GET', url: '/api/v1/members' })).json().members as {
        email: string;
        role: string;
      }[];
      assert.equal(members.find((m) => m.email === world.plane.member.email)?.role, 'member');
      assert.ok(!members.some((m) => m.email === 'intruder@evil.test'));
      const integration = await world.plane.adminBrowser.request({
        method: 'GET',
        url: `/api/v1/runners/${ids.runner}/scm-integrations/${ids.integration}`,
      });
      assert.equal(integration.json().pat.enabled, true);
      const connection = await world.plane.adminBrowser.request({
        method: 'GET',
        url: `/api/v1/projects/${ids.project}/app-connections/${ids.connection}`,
      });
      assert.equal(connection.json().name, 'ado');
      assert.equal(connection.json().memberTargets, null, 'no member widened the connection');
      const sync = await world.plane.adminBrowser.request({ method: 'GET', url: `/api/v1/projects/${ids.project}/syncs/${ids.sync}` });
      assert.deepEqual(
        { groupName: sync.json().groupName, adoptExisting: sync.json().adoptExisting },
        { groupName: 'kw-matrix', adoptExisting: false },
        'no member retargeted or adopted',
      );
    });

    it('no secret canary in logs, responses or the management database', async () => {
      const { scanned, canaries } = await world.canaries.assertClean();
      console.log(`# canaries: ${canaries} secrets, scanned ${JSON.stringify(scanned)} characters, 0 hits`);
    });
  });
}
