import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorCode, errorResponses, forbidden } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { clientInfo } from './client-info.ts';
import { clearSessionCookie, setSessionCookie } from './cookies.ts';
import { asPerson, asUser } from './principal.ts';
import { API_TOKEN_MAX_DAYS } from './service.ts';
import type { IdentityService } from './service.ts';
import { ApiTokenList, CreatedApiToken, Me, PasswordChanged, SessionList, SignedIn, SignedOutEverywhere } from './schema.ts';

export interface IdentityRouteDeps {
  identity: IdentityService;
  audit: Pick<AuditLog, 'record' | 'recordAggregated'>;
  secureCookies: boolean;
}

const Errors = errorResponses(400, 401, 403, 404, 409, 429);
const IdParams = Type.Object({ id: Type.String({ maxLength: 100 }) });

export async function identityRoutes(root: FastifyInstance, deps: IdentityRouteDeps): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { identity } = deps;
  const audit = createRouteAudit(deps.audit);
  const routeSchema = routeSchemas('identity', Errors);

  app.post(
    '/api/v1/auth/sign-in',
    {
      config: { auth: 'public' },
      schema: routeSchema('Sign in with email and password; sets the session cookie', {
        body: Type.Object(
          { email: Type.String({ minLength: 3, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
          { additionalProperties: false },
        ),
        response: { 200: SignedIn },
      }),
    },
    // Failed sign-ins are anonymous and may come in floods: they are aggregated per address instead
    // of recorded one by one as the route helper's `run` would, and a success is recorded in the
    // organization only the result knows.
    async (request, reply) => {
      const client = clientInfo(request);
      try {
        const result = await identity.signIn(request.body, client);
        setSessionCookie(reply, result.session, deps.secureCookies);
        await audit.record(request, {
          organizationId: result.organizationId,
          actor: { kind: 'anonymous', label: request.body.email.toLowerCase().slice(0, 320) },
          action: 'session.sign_in',
          target: { type: 'user', id: result.userId },
          outcome: 'success',
          details: { method: 'password' },
        });
        return { csrfToken: result.session.csrfToken, organizationChoiceRequired: result.organizationId === null };
      } catch (err) {
        await deps.audit.recordAggregated({ action: 'session.sign_in', ip: request.ip, label: 'password sign-in', reason: errorCode(err) });
        throw err;
      }
    },
  );

  app.post(
    '/api/v1/auth/link',
    {
      config: { auth: 'public' },
      schema: routeSchema('Redeem a one-time sign-in link (printed by `keyway start` or `keyway admin link`); sets the session cookie', {
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: SignedIn },
      }),
    },
    // As for password sign-in: failures aggregated per address, success in the result's organization.
    async (request, reply) => {
      const client = clientInfo(request);
      try {
        const result = await identity.redeemSignInLink(request.body.token, client);
        setSessionCookie(reply, result.session, deps.secureCookies);
        await audit.record(request, {
          organizationId: result.organizationId,
          actor: { kind: 'anonymous', label: 'sign-in link' },
          action: 'session.sign_in_link',
          target: { type: 'user', id: result.userId },
          outcome: 'success',
        });
        return { csrfToken: result.session.csrfToken, organizationChoiceRequired: result.organizationId === null };
      } catch (err) {
        await deps.audit.recordAggregated({
          action: 'session.sign_in_link',
          ip: request.ip,
          label: 'sign-in link',
          reason: errorCode(err),
        });
        throw err;
      }
    },
  );

  app.post(
    '/api/v1/auth/sign-out',
    {
      config: { auth: 'account' },
      schema: routeSchema('End the current session', { response: { 204: Type.Null() } }),
    },
    async (request, reply) => {
      const principal = asPerson(request);
      await audit.run(request, { action: 'session.sign_out' }, async () => {
        if (principal.sessionId) await identity.signOut(principal.sessionId);
      });
      clearSessionCookie(reply, deps.secureCookies);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/me',
    {
      config: { auth: 'account' },
      schema: routeSchema('Who am I: user, current organization (null until chosen), role, organizations and CSRF token', {
        response: { 200: Me },
      }),
    },
    async (request) => {
      const principal = asPerson(request);
      const [row, organizations] = await Promise.all([identity.findUser(principal.userId), identity.memberships(principal.userId)]);
      if (!row) throw forbidden('your account is gone; sign in again');
      const current = principal.kind === 'user' ? organizations.find((o) => o.organizationId === principal.organizationId) : undefined;
      return {
        user: {
          id: row.id,
          email: row.email,
          displayName: row.display_name,
          operator: row.operator === 1,
          hasPassword: row.password_hash !== null,
        },
        organization: current ? { id: current.organizationId, slug: current.organizationSlug, name: current.organizationName } : null,
        role: principal.kind === 'user' ? principal.role : null,
        organizations: organizations.map((o) => ({
          id: o.organizationId,
          slug: o.organizationSlug,
          name: o.organizationName,
          role: o.role,
          available:
            principal.via === 'api-token'
              ? o.organizationId === (principal.kind === 'user' ? principal.organizationId : '')
              : o.passwordSignIn || principal.authMethod === 'sso' || principal.authMethod === 'link',
        })),
        csrfToken: principal.csrfToken ?? null,
        authenticatedBy: principal.via,
        authMethod: principal.authMethod ?? null,
        authenticatedAt: principal.authenticatedAt ?? null,
      };
    },
  );

  app.put(
    '/api/v1/me/organization',
    {
      config: { auth: 'account' },
      schema: routeSchema('Choose the organization this browser session works in (one of yours); remembered for your next sign-in', {
        body: Type.Object({ organizationId: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      const principal = asPerson(request);
      const switched = await identity.switchOrganization(principal, request.body.organizationId);
      // Recorded in the organization chosen, which the request names: through the route helper a
      // refused choice would land in that organization's log too, one the person may not belong to.
      await audit.record(request, {
        organizationId: request.body.organizationId,
        action: 'session.organization_switch',
        target: { type: 'organization', id: request.body.organizationId },
        outcome: 'success',
        details: { from: switched.from },
      });
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/api/v1/me/password',
    {
      config: { auth: 'account' },
      schema: routeSchema(
        'Change your password (browser sessions only): give the current one, or have signed in within the last 15 minutes by single sign-on or a sign-in link. Ends every other session and revokes every API token.',
        {
          body: Type.Object(
            { currentPassword: Type.Optional(Type.String({ maxLength: 1024 })), password: Type.String({ minLength: 1, maxLength: 1024 }) },
            { additionalProperties: false },
          ),
          response: { 200: PasswordChanged },
        },
      ),
    },
    async (request) => {
      const principal = asPerson(request);
      return audit.run(
        request,
        { action: 'user.password_change', target: { type: 'user', id: principal.userId } },
        () => identity.changePassword(principal, request.body, clientInfo(request)),
        (result) => ({ details: result }),
      );
    },
  );

  app.get(
    '/api/v1/me/sessions',
    {
      config: { auth: 'account' },
      schema: routeSchema('Your signed-in sessions, in every organization', { response: { 200: SessionList } }),
    },
    async (request) => ({ sessions: await identity.listSessions(asPerson(request)) }),
  );

  app.delete(
    '/api/v1/me/sessions/:id',
    {
      config: { auth: 'account' },
      schema: routeSchema('Sign out one of your sessions', { params: IdParams, response: { 204: Type.Null() } }),
    },
    async (request, reply) => {
      const principal = asPerson(request);
      await audit.run(request, { action: 'session.revoke', target: { type: 'session', id: request.params.id } }, () =>
        identity.endSession(principal.userId, request.params.id),
      );
      if (request.params.id === principal.sessionId) clearSessionCookie(reply, deps.secureCookies);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/me/sessions/sign-out-everywhere',
    {
      config: { auth: 'account' },
      schema: routeSchema('Sign out everywhere: ends every session of yours, this one included', {
        response: { 200: SignedOutEverywhere },
      }),
    },
    async (request, reply) => {
      const principal = asPerson(request);
      if (principal.via !== 'session') throw forbidden('sign out everywhere from a browser session');
      const endedSessions = await audit.run(
        request,
        { action: 'session.sign_out_everywhere', target: { type: 'user', id: principal.userId } },
        () => identity.endAllSessions(principal.userId),
        (ended) => ({ details: { endedSessions: ended } }),
      );
      clearSessionCookie(reply, deps.secureCookies);
      return { endedSessions };
    },
  );

  app.get(
    '/api/v1/api-tokens',
    {
      schema: routeSchema('Your API tokens (never their values)', { response: { 200: ApiTokenList } }),
    },
    async (request) => ({ tokens: await identity.listApiTokens(asUser(request).userId) }),
  );

  app.post(
    '/api/v1/api-tokens',
    {
      schema: routeSchema(
        `Create an API token for the current organization (browser sessions only; a token cannot create tokens); it expires after expiresInDays (default 90, at most ${API_TOKEN_MAX_DAYS}) and its value is shown once`,
        {
          body: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 100 }),
              expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: API_TOKEN_MAX_DAYS })),
            },
            { additionalProperties: false },
          ),
          response: { 201: CreatedApiToken },
        },
      ),
    },
    async (request, reply) => {
      const principal = asUser(request);
      const created = await audit.run(
        request,
        { action: 'api_token.create' },
        () => identity.createApiToken(principal, request.body),
        (token) => ({ target: { type: 'api_token', id: token.id }, details: { name: token.name, expiresAt: token.expiresAt } }),
      );
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/api/v1/api-tokens/:id',
    {
      schema: routeSchema('Revoke one of your API tokens', { params: IdParams, response: { 204: Type.Null() } }),
    },
    async (request, reply) => {
      const principal = asUser(request);
      await audit.run(request, { action: 'api_token.revoke', target: { type: 'api_token', id: request.params.id } }, () =>
        identity.revokeApiToken(principal.userId, request.params.id),
      );
      return reply.code(204).send(null);
    },
  );
}
