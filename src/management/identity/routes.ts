import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorCode, errorResponses, forbidden } from '../../http/errors.ts';
import type { AuditLog } from '../audit/service.ts';
import { SESSION_COOKIE, clientInfo } from './authenticate.ts';
import { asUser } from './principal.ts';
import type { IdentityService } from './service.ts';

export interface IdentityRouteDeps {
  identity: IdentityService;
  audit: Pick<AuditLog, 'record'>;
  secureCookies: boolean;
}

const Errors = errorResponses(400, 401, 403, 404, 409, 429);
const RoleSchema = Type.Union([Type.Literal('admin'), Type.Literal('member')]);

const Me = Type.Object({
  user: Type.Object({ id: Type.String(), email: Type.String(), displayName: Type.String() }),
  organization: Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String() }),
  role: RoleSchema,
  organizations: Type.Array(Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String(), role: RoleSchema })),
  csrfToken: Type.Union([Type.String(), Type.Null()], { description: 'Send as X-CSRF-Token with every cookie-authenticated write' }),
  authenticatedBy: Type.Union([Type.Literal('session'), Type.Literal('api-token')]),
});

const ApiTokenSummary = Type.Object({
  id: Type.String(),
  name: Type.String(),
  prefix: Type.String(),
  organizationId: Type.String(),
  createdAt: Type.String(),
  expiresAt: Type.Union([Type.String(), Type.Null()]),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
  revokedAt: Type.Union([Type.String(), Type.Null()]),
});

export function registerIdentityRoutes(root: FastifyInstance, deps: IdentityRouteDeps): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { identity, audit } = deps;

  function setSessionCookie(reply: FastifyReply, token: string, maxAgeSeconds: number) {
    void reply.setCookie(SESSION_COOKIE, token, {
      path: '/',
      httpOnly: true,
      sameSite: 'lax',
      secure: deps.secureCookies,
      maxAge: maxAgeSeconds,
    });
  }

  app.post(
    '/api/v1/auth/sign-in',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['identity'],
        summary: 'Sign in with email and password; sets the session cookie',
        body: Type.Object({ email: Type.String({ minLength: 3, maxLength: 320 }), password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ csrfToken: Type.String() }), ...Errors },
      },
    },
    async (request, reply) => {
      const client = clientInfo(request);
      try {
        const result = await identity.signIn(request.body, client);
        setSessionCookie(reply, result.session.token, result.session.maxAgeSeconds);
        await audit.record({ organizationId: result.organizationId, actor: { kind: 'anonymous', label: request.body.email.toLowerCase() }, action: 'session.sign_in', target: { type: 'user', id: result.userId }, outcome: 'success', client });
        return { csrfToken: result.session.csrfToken };
      } catch (err) {
        await audit.record({ organizationId: null, actor: { kind: 'anonymous', label: request.body.email.toLowerCase().slice(0, 320) }, action: 'session.sign_in', outcome: 'failure', client, details: { reason: errorCode(err) } });
        throw err;
      }
    },
  );

  app.post(
    '/api/v1/auth/link',
    {
      config: { auth: 'public' },
      schema: {
        tags: ['identity'],
        summary: 'Redeem a one-time sign-in link; sets the session cookie',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ csrfToken: Type.String() }), ...Errors },
      },
    },
    async (request, reply) => {
      const client = clientInfo(request);
      try {
        const result = await identity.redeemSignInLink(request.body.token, client);
        setSessionCookie(reply, result.session.token, result.session.maxAgeSeconds);
        await audit.record({ organizationId: result.organizationId, actor: { kind: 'anonymous', label: 'sign-in link' }, action: 'session.sign_in_link', target: { type: 'user', id: result.userId }, outcome: 'success', client });
        return { csrfToken: result.session.csrfToken };
      } catch (err) {
        await audit.record({ organizationId: null, actor: { kind: 'anonymous', label: 'sign-in link' }, action: 'session.sign_in_link', outcome: 'failure', client, details: { reason: errorCode(err) } });
        throw err;
      }
    },
  );

  app.post(
    '/api/v1/auth/sign-out',
    { schema: { tags: ['identity'], summary: 'End the current session', response: { 204: Type.Null(), ...Errors } } },
    async (request, reply) => {
      const principal = asUser(request);
      if (principal.sessionId) await identity.signOut(principal.sessionId);
      void reply.clearCookie(SESSION_COOKIE, { path: '/' });
      await audit.record({ actor: principal, action: 'session.sign_out', outcome: 'success', client: clientInfo(request) });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/me',
    { schema: { tags: ['identity'], summary: 'Who am I: user, current organization, role and CSRF token', response: { 200: Me, ...Errors } } },
    async (request) => {
      const principal = asUser(request);
      const [row, organizations] = await Promise.all([identity.findUser(principal.userId), identity.memberships(principal.userId)]);
      const current = organizations.find((o) => o.organizationId === principal.organizationId);
      if (!row || !current) throw forbidden('your account or membership is gone; sign in again');
      return {
        user: { id: row.id, email: row.email, displayName: row.display_name },
        organization: { id: current.organizationId, slug: current.organizationSlug, name: current.organizationName },
        role: principal.role,
        organizations: organizations.map((o) => ({ id: o.organizationId, slug: o.organizationSlug, name: o.organizationName, role: o.role })),
        csrfToken: principal.csrfToken ?? null,
        authenticatedBy: principal.via,
      };
    },
  );

  app.put(
    '/api/v1/me/organization',
    {
      schema: {
        tags: ['identity'],
        summary: 'Switch the session to another organization the user belongs to',
        body: Type.Object({ organizationId: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      await identity.switchOrganization(asUser(request), request.body.organizationId);
      return reply.code(204).send(null);
    },
  );

  app.put(
    '/api/v1/me/password',
    {
      schema: {
        tags: ['identity'],
        summary: 'Set your password (at least 12 characters)',
        body: Type.Object({ password: Type.String({ minLength: 1, maxLength: 1024 }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      const principal = asUser(request);
      await identity.setPassword(principal.userId, request.body.password);
      await audit.record({ actor: principal, action: 'user.password_set', target: { type: 'user', id: principal.userId }, outcome: 'success', client: clientInfo(request) });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/api-tokens',
    { schema: { tags: ['identity'], summary: 'Your API tokens (never their values)', response: { 200: Type.Object({ tokens: Type.Array(ApiTokenSummary) }), ...Errors } } },
    async (request) => ({ tokens: await identity.listApiTokens(asUser(request).userId) }),
  );

  app.post(
    '/api/v1/api-tokens',
    {
      schema: {
        tags: ['identity'],
        summary: 'Create an API token; its value is shown once',
        body: Type.Object(
          { name: Type.String({ minLength: 1, maxLength: 100 }), expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 366 })) },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({ id: Type.String(), name: Type.String(), token: Type.String({ description: 'Shown once; store it now' }), expiresAt: Type.Union([Type.String(), Type.Null()]) }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const principal = asUser(request);
      const created = await identity.createApiToken(principal, request.body);
      await audit.record({ actor: principal, action: 'api_token.create', target: { type: 'api_token', id: created.id }, outcome: 'success', client: clientInfo(request), details: { name: created.name } });
      return reply.code(201).send(created);
    },
  );

  app.delete(
    '/api/v1/api-tokens/:id',
    { schema: { tags: ['identity'], summary: 'Revoke one of your API tokens', params: Type.Object({ id: Type.String({ maxLength: 100 }) }), response: { 204: Type.Null(), ...Errors } } },
    async (request, reply) => {
      const principal = asUser(request);
      await identity.revokeApiToken(principal.userId, request.params.id);
      await audit.record({ actor: principal, action: 'api_token.revoke', target: { type: 'api_token', id: request.params.id }, outcome: 'success', client: clientInfo(request) });
      return reply.code(204).send(null);
    },
  );

  const Member = Type.Object({ id: Type.String(), email: Type.String(), displayName: Type.String(), role: RoleSchema, createdAt: Type.String(), disabled: Type.Boolean() });

  app.get(
    '/api/v1/members',
    { schema: { tags: ['identity'], summary: 'Members of the current organization', response: { 200: Type.Object({ members: Type.Array(Member) }), ...Errors } } },
    async (request) => {
      const rows = await identity.members(asUser(request).organizationId);
      return { members: rows.map((r) => ({ id: r.id, email: r.email, displayName: r.display_name, role: r.role, createdAt: r.created_at, disabled: r.disabled_at !== null })) };
    },
  );

  app.post(
    '/api/v1/members',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['identity'],
        summary: 'Add a user to the current organization (admin)',
        body: Type.Object(
          {
            email: Type.String({ minLength: 3, maxLength: 320 }),
            displayName: Type.Optional(Type.String({ maxLength: 200 })),
            password: Type.Optional(Type.String({ maxLength: 1024 })),
            role: RoleSchema,
          },
          { additionalProperties: false },
        ),
        response: { 201: Type.Object({ id: Type.String(), email: Type.String(), created: Type.Boolean() }), ...Errors },
      },
    },
    async (request, reply) => {
      const principal = asUser(request);
      const created = await identity.createUser({ ...request.body, organizationId: principal.organizationId });
      await audit.record({ actor: principal, action: 'member.add', target: { type: 'user', id: created.id }, outcome: 'success', client: clientInfo(request), details: { email: created.email, role: request.body.role } });
      return reply.code(201).send(created);
    },
  );

  app.put(
    '/api/v1/members/:userId/role',
    {
      config: { auth: 'admin' },
      schema: {
        tags: ['identity'],
        summary: "Change a member's role (admin)",
        params: Type.Object({ userId: Type.String({ maxLength: 100 }) }),
        body: Type.Object({ role: RoleSchema }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      const principal = asUser(request);
      await identity.setRole(principal.organizationId, request.params.userId, request.body.role);
      await audit.record({ actor: principal, action: 'member.role_change', target: { type: 'user', id: request.params.userId }, outcome: 'success', client: clientInfo(request), details: { role: request.body.role } });
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/organizations',
    {
      schema: {
        tags: ['identity'],
        summary: 'Create an organization; you become its admin',
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 100 }) }, { additionalProperties: false }),
        response: { 201: Type.Object({ id: Type.String(), slug: Type.String(), name: Type.String() }), ...Errors },
      },
    },
    async (request, reply) => {
      const principal = asUser(request);
      const created = await identity.createOrganization(request.body.name, principal.userId);
      await audit.record({ organizationId: created.id, actor: principal, action: 'organization.create', target: { type: 'organization', id: created.id }, outcome: 'success', client: clientInfo(request) });
      return reply.code(201).send(created);
    },
  );
}
