import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorResponse } from '../../http/errors.ts';
import type { AuditLog } from '../audit/service.ts';
import { clientInfo } from '../identity/authenticate.ts';
import { asUser } from '../identity/principal.ts';
import { ConnectionSchema, CreateConnectionBody, OAuthConfigurationSchema, SaveConnectionResponse, UpdateConnectionBody, ValidationSchema } from './schema.ts';
import { OAUTH_CALLBACK_PATH } from './service.ts';
import type { AppConnectionService } from './service.ts';

const Errors = { 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse, 409: ErrorResponse, 422: ErrorResponse, 501: ErrorResponse, 502: ErrorResponse, 503: ErrorResponse, 504: ErrorResponse };
const ProjectParams = Type.Object({ projectId: Type.String({ maxLength: 100 }) });
const ItemParams = Type.Object({ projectId: Type.String({ maxLength: 100 }), id: Type.String({ maxLength: 100 }) });

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export function registerAppConnectionRoutes(root: FastifyInstance, deps: { connections: AppConnectionService; audit: Pick<AuditLog, 'record'> }): void {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { connections, audit } = deps;
  const base = '/api/v1/projects/:projectId/app-connections';
  const tags = ['app connections'];

  app.get(
    '/api/v1/app-connections/oauth/configuration',
    {
      schema: {
        tags,
        summary: 'Whether oauth app connections are configured on this Keyway, and the redirect URI to register in Entra ID. With runnerId, that runner also asks Entra ID whether the app registration accepts the redirect URI.',
        querystring: Type.Object({ runnerId: Type.Optional(Type.String({ maxLength: 100 })), tenantId: Type.Optional(Type.String({ maxLength: 100 })) }, { additionalProperties: false }),
        response: { 200: OAuthConfigurationSchema, ...Errors },
      },
    },
    async (request) => {
      const config = connections.oauthConfiguration();
      if (!request.query.runnerId || !config.clientId) return config;
      await connections.runnerOf(asUser(request), request.query.runnerId);
      const probe = await connections.probeOAuth(request.query.runnerId, request.query.tenantId?.trim() || 'organizations');
      return probe.valid ? config : { ...config, configured: false, problems: [...config.problems, probe.message ?? 'the app registration does not accept the redirect URI'] };
    },
  );

  app.get(base, { schema: { tags, summary: "A project's app connections (its members and organization admins)", params: ProjectParams, response: { 200: Type.Object({ connections: Type.Array(ConnectionSchema) }), ...Errors } } }, async (request) => ({
    connections: await connections.list(asUser(request), request.params.projectId),
  }));

  app.get(`${base}/:id`, { schema: { tags, summary: 'One app connection (never its credential)', params: ItemParams, response: { 200: ConnectionSchema, ...Errors } } }, async (request) =>
    connections.get(asUser(request), request.params.projectId, request.params.id),
  );

  app.post(
    base,
    {
      schema: {
        tags,
        summary:
          'Create an app connection (project owners and organization admins). The runner validates the credential first and keeps it only when it works: a wrong PAT, missing scopes, a wrong client secret or a service principal that is not in the organization answer 400 with the reason.',
        params: ProjectParams,
        body: CreateConnectionBody,
        response: { 201: SaveConnectionResponse, ...Errors },
      },
    },
    async (request, reply) => {
      const user = asUser(request);
      const target = { type: 'app_connection', id: request.body.id };
      try {
        const saved = await connections.create(user, request.params.projectId, request.body);
        await audit.record({
          actor: user,
          action: 'app_connection.create',
          target: { type: 'app_connection', id: saved.connection.id },
          outcome: 'success',
          client: clientInfo(request),
          details: { projectId: request.params.projectId, method: saved.connection.method, organization: saved.connection.organization, runnerId: saved.connection.runnerId },
        });
        return reply.code(201).send(saved);
      } catch (err) {
        await audit.record({ actor: user, action: 'app_connection.create', target, outcome: 'failure', client: clientInfo(request), details: { projectId: request.params.projectId, method: request.body.method, reason: (err as { code?: string }).code ?? 'error' } });
        throw err;
      }
    },
  );

  app.patch(
    `${base}/:id`,
    {
      schema: {
        tags,
        summary: 'Rename, or re-enter the credential and settings (project owners and organization admins); a new credential is validated first and replaces the old one only when it works',
        params: ItemParams,
        body: UpdateConnectionBody,
        response: { 200: Type.Object({ connection: ConnectionSchema, validation: Type.Optional(ValidationSchema) }), ...Errors },
      },
    },
    async (request) => {
      const user = asUser(request);
      const saved = await connections.update(user, request.params.projectId, request.params.id, request.body);
      await audit.record({
        actor: user,
        action: 'app_connection.update',
        target: { type: 'app_connection', id: request.params.id },
        outcome: 'success',
        client: clientInfo(request),
        // Field names only; the values of credential fields never reach the audit log.
        details: { projectId: request.params.projectId, fields: Object.keys(request.body) },
      });
      return saved;
    },
  );

  app.delete(
    `${base}/:id`,
    { schema: { tags, summary: 'Delete an app connection; the runner forgets its credential (project owners and organization admins)', params: ItemParams, response: { 204: Type.Null(), ...Errors } } },
    async (request, reply) => {
      const user = asUser(request);
      await connections.remove(user, request.params.projectId, request.params.id);
      await audit.record({ actor: user, action: 'app_connection.delete', target: { type: 'app_connection', id: request.params.id }, outcome: 'success', client: clientInfo(request), details: { projectId: request.params.projectId } });
      return reply.code(204).send(null);
    },
  );

  app.post(
    `${base}/:id/test`,
    { schema: { tags, summary: "Ask the runner to check the connection's credential again (project members)", params: ItemParams, response: { 200: ValidationSchema, ...Errors } } },
    async (request) => {
      const user = asUser(request);
      const result = await connections.test(user, request.params.projectId, request.params.id);
      await audit.record({ actor: user, action: 'app_connection.test', target: { type: 'app_connection', id: request.params.id }, outcome: result.valid ? 'success' : 'failure', client: clientInfo(request), details: { projectId: request.params.projectId, code: result.code ?? null } });
      return result;
    },
  );

  // Where Entra ID sends the browser back for oauth app connections. The flow itself is not wired
  // yet; what this answers already is the mistake admins make most: a public URL that does not match
  // the address the browser came back to, or a redirect URI the app registration does not list.
  app.get(OAUTH_CALLBACK_PATH, { config: { auth: 'public' }, schema: { hide: true } }, async (request, reply) => {
    const origin = `${request.protocol}://${request.host}`;
    const query = request.query as Record<string, string | undefined>;
    const mismatch = connections.callbackMismatch(origin);
    let message: string;
    if (mismatch) message = `The redirect URI does not match: ${mismatch}`;
    else if (/AADSTS50011/.test(query.error_description ?? '')) message = `Entra ID refused the redirect URI: register ${connections.oauthConfiguration().redirectUri} as a Web redirect URI of the app registration.`;
    else if (query.error) message = `Entra ID answered ${query.error.slice(0, 100)}: ${(query.error_description ?? '').split(/\r?\n/)[0]?.slice(0, 300) ?? ''}`;
    else message = 'oauth app connections cannot be completed yet on this Keyway; nothing was stored. Use an access token or a service principal.';
    return reply
      .code(mismatch ? 400 : 501)
      .type('text/html; charset=utf-8')
      .header('content-security-policy', "default-src 'none'")
      .send(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Keyway: app connection</title></head><body><h1>App connection not connected</h1><p id="message">${escapeHtml(message)}</p></body></html>`);
  });
}
