// The emulator's control API under /_emulator on the services listener: the in-process handle's seed,
// fault and counter methods over JSON, for `keyway emulator` users and the resilience suite.
// Guarded by the control token printed at start (Authorization: Bearer <token>). Errors use Keyway's
// own shape {"error":{"code","message","field?"}}.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AdoEnv } from './ado/context.ts';
import type { User } from './ado/world.ts';
import type { Counters } from './counters.ts';
import type { Faults, FaultRuleInput } from './faults.ts';
import type { ThrottleConfig } from './throttling.ts';

export interface ControlDeps {
  env: AdoEnv;
  controlToken: string;
  faults: Faults;
  counters: () => ReturnType<Counters['snapshot']> & { tokenRequests: number };
  resetCounters: () => void;
}

class ControlError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

type Body = Record<string, unknown>;

function body(req: FastifyRequest): Body {
  const b = req.body;
  return b && typeof b === 'object' && !Array.isArray(b) ? (b as Body) : {};
}

function str(b: Body, field: string, required: true): string;
function str(b: Body, field: string, required?: false): string | undefined;
function str(b: Body, field: string, required = false): string | undefined {
  const v = b[field];
  if (v === undefined || v === null) {
    if (required) throw new ControlError(400, 'missing_field', `'${field}' is required`, field);
    return undefined;
  }
  if (typeof v !== 'string') throw new ControlError(400, 'invalid_field', `'${field}' must be a string`, field);
  return v;
}

function strings(b: Body, field: string): string[] | undefined {
  const v = b[field];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string'))
    throw new ControlError(400, 'invalid_field', `'${field}' must be an array of strings`, field);
  return v as string[];
}

function num(b: Body, field: string): number | undefined {
  const v = b[field];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ControlError(400, 'invalid_field', `'${field}' must be a number`, field);
  return v;
}

function userJson(u: User): Record<string, unknown> {
  return { id: u.id, oid: u.oid, upn: u.upn, displayName: u.displayName, descriptor: u.descriptor, tenantId: u.tenantId };
}

/** Directory errors (unknown app, bad certificate) as 400s that say what is wrong. */
function wrap<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ControlError) throw err;
    throw new ControlError(400, 'rejected', (err as Error).message);
  }
}

function tokenMatches(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function registerControlRoutes(app: FastifyInstance, deps: ControlDeps): void {
  const { env, faults } = deps;
  const world = env.world;

  app.register(
    async (scope) => {
      scope.addHook('onRequest', async (req, reply) => {
        const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
        if (!m || !tokenMatches(m[1]!.trim(), deps.controlToken)) {
          return reply.code(401).send({
            error: { code: 'unauthorized', message: 'Send the control token printed at start as "Authorization: Bearer <token>".' },
          });
        }
      });
      scope.setErrorHandler((err: Error & { statusCode?: number }, _req, reply: FastifyReply) => {
        if (err instanceof ControlError) {
          return reply
            .code(err.status)
            .send({ error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } });
        }
        const status = typeof err.statusCode === 'number' && err.statusCode < 500 ? err.statusCode : 400;
        return reply.code(status).send({ error: { code: 'rejected', message: err.message } });
      });
      scope.setNotFoundHandler((req, reply) =>
        reply.code(404).send({ error: { code: 'not_found', message: `No control route ${req.method} ${req.url.split('?')[0]}` } }),
      );

      scope.get('/info', async () => ({
        urls: { login: env.urls.login, services: env.urls.services, vssps: env.urls.vssps, server: env.urls.server, imds: env.urls.login },
        defaultTenantId: world.defaultTenantId,
        organizations: world.listOrganizations().map((o) => ({
          id: o.id,
          name: o.name,
          kind: o.kind,
          tenantId: o.tenantId,
          oauthPolicyAllowed: o.oauthPolicyAllowed,
          url: env.urls.orgUrl(o),
        })),
      }));

      // ---- Entra --------------------------------------------------------------------------
      scope.post('/tenants', async (req) => {
        const b = body(req);
        const input: { displayName?: string; domain?: string } = {};
        const displayName = str(b, 'displayName');
        const domain = str(b, 'domain');
        if (displayName) input.displayName = displayName;
        if (domain) input.domain = domain;
        return env.entra.addTenant(input);
      });
      scope.post('/tenants/:tenantId/apps', async (req) => {
        const b = body(req);
        const tenantId = (req.params as { tenantId: string }).tenantId;
        const input: { displayName: string; redirectUris?: string[]; requirePkce?: boolean; clientId?: string } = {
          displayName: str(b, 'displayName', true),
        };
        const redirectUris = strings(b, 'redirectUris');
        if (redirectUris) input.redirectUris = redirectUris;
        if (typeof b.requirePkce === 'boolean') input.requirePkce = b.requirePkce;
        const { app, clientSecret } = env.entra.addApp(tenantId, input);
        return {
          tenantId,
          clientId: app.clientId,
          clientSecret,
          servicePrincipalObjectId: app.servicePrincipalObjectId,
          redirectUris: app.redirectUris,
          issuer: `${env.urls.login}/${tenantId}/v2.0`,
          authority: `${env.urls.login}/${tenantId}/oauth2/v2.0`,
        };
      });
      // Certificates & secrets → Certificates / Federated credentials of an app registration.
      scope.post('/tenants/:tenantId/apps/:clientId/certificates', async (req) => {
        const b = body(req);
        const { tenantId, clientId } = req.params as { tenantId: string; clientId: string };
        const date = (field: string) => {
          const v = str(b, field);
          if (v === undefined) return undefined;
          const ms = Date.parse(v);
          if (Number.isNaN(ms)) throw new ControlError(400, 'invalid_field', `'${field}' must be an ISO date`, field);
          return ms;
        };
        const startDate = date('startDate');
        const endDate = date('endDate');
        const cert = wrap(() =>
          env.entra.addCertificate(tenantId, clientId, {
            certificate: str(b, 'certificate', true),
            ...(str(b, 'displayName') ? { displayName: str(b, 'displayName')! } : {}),
            ...(startDate !== undefined ? { startDate } : {}),
            ...(endDate !== undefined ? { endDate } : {}),
            ...(str(b, 'identifiedAs') ? { identifiedAs: str(b, 'identifiedAs')! } : {}),
          }),
        );
        return {
          keyId: cert.keyId,
          thumbprint: cert.thumbprint,
          startDate: new Date(cert.startDate).toISOString(),
          endDate: new Date(cert.endDate).toISOString(),
        };
      });
      scope.delete('/tenants/:tenantId/apps/:clientId/certificates/:keyId', async (req, reply) => {
        const { tenantId, clientId, keyId } = req.params as { tenantId: string; clientId: string; keyId: string };
        if (!wrap(() => env.entra.removeCertificate(tenantId, clientId, keyId)))
          return reply.code(404).send({ error: { code: 'not_found', message: 'no such certificate' } });
        return { ok: true };
      });
      scope.post('/tenants/:tenantId/apps/:clientId/federated-credentials', async (req) => {
        const b = body(req);
        const { tenantId, clientId } = req.params as { tenantId: string; clientId: string };
        return wrap(() =>
          env.entra.addFederatedCredential(tenantId, clientId, {
            issuer: str(b, 'issuer', true),
            subject: str(b, 'subject', true),
            ...(strings(b, 'audiences') ? { audiences: strings(b, 'audiences')! } : {}),
            ...(str(b, 'name') ? { name: str(b, 'name')! } : {}),
          }),
        );
      });
      // Managed identities and the emulated machine's IMDS (GET /metadata/identity/oauth2/token on the login listener).
      scope.post('/tenants/:tenantId/managed-identities', async (req) => {
        const b = body(req);
        const identity = wrap(() =>
          env.entra.managedIdentities.create((req.params as { tenantId: string }).tenantId, {
            ...(str(b, 'displayName') ? { displayName: str(b, 'displayName')! } : {}),
          }),
        );
        const assign = str(b, 'assign');
        if (assign !== undefined && assign !== 'system' && assign !== 'user')
          throw new ControlError(400, 'invalid_field', "'assign' must be 'system' or 'user'", 'assign');
        if (assign) env.entra.managedIdentities.assign(identity.clientId, assign);
        return identity;
      });
      scope.put('/imds', async (req) => {
        const b = body(req);
        const delayMs = num(b, 'delayMs');
        if (delayMs !== undefined) env.entra.managedIdentities.setDelay(delayMs);
        return { ok: true };
      });
      scope.post('/tokens', async (req) => {
        const b = body(req);
        const userId = str(b, 'userId');
        const user = userId ? world.userById(userId) : undefined;
        if (userId && !user) throw new ControlError(404, 'not_found', `no user '${userId}'`, 'userId');
        const lifetimeSeconds = num(b, 'lifetimeSeconds');
        const accessToken = await env.entra.issueAccessTokenForTest({
          tenantId: str(b, 'tenantId') ?? user?.tenantId ?? world.defaultTenantId,
          clientId: str(b, 'clientId', true),
          scopes: strings(b, 'scopes') ?? ['499b84ac-1321-427f-aa17-267ca6975798/.default'],
          ...(user ? { userOid: user.oid } : {}),
          ...(lifetimeSeconds !== undefined ? { lifetimeSeconds } : {}),
        });
        return { accessToken };
      });

      // ---- Azure DevOps world -------------------------------------------------------------
      scope.post('/organizations', async (req) => {
        const b = body(req);
        const org = world.addOrganization(str(b, 'name', true), {
          ...(b.msa === true ? { tenantId: null } : str(b, 'tenantId') ? { tenantId: str(b, 'tenantId')! } : {}),
          ...(typeof b.oauthPolicyAllowed === 'boolean' ? { oauthPolicyAllowed: b.oauthPolicyAllowed } : {}),
          ...(b.server === true ? { server: true } : {}),
        });
        return { id: org.id, name: org.name, kind: org.kind, tenantId: org.tenantId, url: env.urls.orgUrl(org) };
      });
      scope.put('/organizations/:org/oauth-policy', async (req) => {
        const b = body(req);
        if (typeof b.allowed !== 'boolean') throw new ControlError(400, 'invalid_field', "'allowed' must be a boolean", 'allowed');
        world.setOAuthPolicy((req.params as { org: string }).org, b.allowed);
        return { allowed: b.allowed };
      });
      scope.post('/organizations/:org/service-principals', async (req) => {
        const b = body(req);
        const sp = world.addServicePrincipalToOrg((req.params as { org: string }).org, {
          clientId: str(b, 'clientId', true),
          ...(str(b, 'tenantId') ? { tenantId: str(b, 'tenantId')! } : {}),
          ...(str(b, 'displayName') ? { displayName: str(b, 'displayName')! } : {}),
        });
        return { id: sp.id, clientId: sp.clientId, tenantId: sp.tenantId, descriptor: sp.descriptor };
      });
      scope.post('/organizations/:org/members', async (req) => {
        world.addMember((req.params as { org: string }).org, str(body(req), 'userId', true));
        return { ok: true };
      });
      scope.post('/organizations/:org/projects', async (req) => {
        const b = body(req);
        const p = world.addProject((req.params as { org: string }).org, str(b, 'name', true), {
          ...(str(b, 'description') !== undefined ? { description: str(b, 'description')! } : {}),
        });
        return { id: p.id, name: p.name };
      });
      scope.post('/organizations/:org/projects/:project/repositories', async (req) => {
        const b = body(req);
        const { org, project } = req.params as { org: string; project: string };
        const files = b.files as Record<string, string> | undefined;
        const repo = await world.createRepository(org, project, str(b, 'name', true), {
          ...(num(b, 'commits') !== undefined ? { commits: num(b, 'commits')! } : {}),
          ...(strings(b, 'branches') ? { branches: strings(b, 'branches')! } : {}),
          ...(strings(b, 'tags') ? { tags: strings(b, 'tags')! } : {}),
          ...(str(b, 'defaultBranch') ? { defaultBranch: str(b, 'defaultBranch')! } : {}),
          ...(files && typeof files === 'object' ? { files } : {}),
        });
        return {
          id: repo.id,
          name: repo.name,
          remoteUrl: `${env.urls.orgUrl(world.requireOrganization(org))}/${encodeURIComponent(project)}/_git/${encodeURIComponent(repo.name)}`,
        };
      });
      scope.post('/organizations/:org/projects/:project/repositories/:repo/commits', async (req) => {
        const b = body(req);
        const { org, project, repo } = req.params as { org: string; project: string; repo: string };
        const files = b.files;
        if (!files || typeof files !== 'object') throw new ControlError(400, 'missing_field', "'files' is required", 'files');
        const sha = await world.commit(org, project, repo, {
          branch: str(b, 'branch', true),
          files: files as Record<string, string | null>,
          ...(str(b, 'message') ? { message: str(b, 'message')! } : {}),
        });
        return { commitId: sha };
      });
      scope.post('/organizations/:org/projects/:project/repositories/:repo/pullrequests', async (req) => {
        const b = body(req);
        const { org, project, repo } = req.params as { org: string; project: string; repo: string };
        const pr = await world.createPullRequest(org, project, repo, {
          sourceRefName: str(b, 'sourceRefName', true),
          ...(str(b, 'targetRefName') ? { targetRefName: str(b, 'targetRefName')! } : {}),
          ...(str(b, 'title') ? { title: str(b, 'title')! } : {}),
          ...(str(b, 'description') ? { description: str(b, 'description')! } : {}),
          ...(str(b, 'createdBy') ? { createdBy: str(b, 'createdBy')! } : {}),
        });
        return { pullRequestId: pr.id, mergeStatus: pr.mergeStatus, lastMergeCommit: pr.lastMergeCommit ?? null };
      });
      scope.post('/organizations/:org/projects/:project/variablegroups', async (req) => {
        const b = body(req);
        const { org, project } = req.params as { org: string; project: string };
        const variables = b.variables;
        if (variables !== undefined && (typeof variables !== 'object' || variables === null || Array.isArray(variables))) {
          throw new ControlError(400, 'invalid_field', "'variables' must be an object of name → {value, isSecret}", 'variables');
        }
        const createdBy = str(b, 'createdBy') ?? [...world.requireOrganization(org).members][0];
        if (!createdBy)
          throw new ControlError(400, 'missing_field', "'createdBy' is required when the organization has no members", 'createdBy');
        const vg = world.addVariableGroup(org, {
          name: str(b, 'name', true),
          ...(str(b, 'description') !== undefined ? { description: str(b, 'description')! } : {}),
          variables: (variables ?? {}) as Record<string, { value: string | null; isSecret?: boolean }>,
          projects: [{ project }],
          createdBy,
        });
        return { id: vg.id, name: vg.name };
      });
      scope.post('/organizations/:org/variablegroups/:groupId/roles', async (req) => {
        const b = body(req);
        const { org, groupId } = req.params as { org: string; groupId: string };
        const role = str(b, 'role', true);
        if (role !== 'Reader' && role !== 'User' && role !== 'Administrator') {
          throw new ControlError(400, 'invalid_field', "'role' must be Reader, User or Administrator", 'role');
        }
        if (!/^\d+$/.test(groupId)) throw new ControlError(400, 'invalid_field', 'the group id must be a number', 'groupId');
        world.setVariableGroupRole(org, Number(groupId), str(b, 'identityId', true), role);
        return { ok: true };
      });
      scope.post('/users', async (req) => {
        const b = body(req);
        const user = world.addUser({
          upn: str(b, 'upn', true),
          ...(str(b, 'displayName') ? { displayName: str(b, 'displayName')! } : {}),
          ...(str(b, 'password') ? { password: str(b, 'password')! } : {}),
          ...(str(b, 'tenantId') ? { tenantId: str(b, 'tenantId')! } : {}),
        });
        for (const org of strings(b, 'orgs') ?? []) world.addMember(org, user.id);
        return userJson(user);
      });
      scope.post('/users/:userId/pats', async (req) => {
        const b = body(req);
        const expiresAt = str(b, 'expiresAt');
        const orgs = b.orgs === 'all' ? 'all' : strings(b, 'orgs');
        const scopes = strings(b, 'scopes');
        if (!scopes) throw new ControlError(400, 'missing_field', "'scopes' is required", 'scopes');
        const format = str(b, 'format');
        if (format !== undefined && format !== 'current' && format !== 'legacy') {
          throw new ControlError(400, 'invalid_field', "'format' must be 'current' (84 characters) or 'legacy' (52 characters)", 'format');
        }
        const { token, authorizationId } = world.createPat((req.params as { userId: string }).userId, {
          scopes,
          ...(orgs ? { orgs } : {}),
          ...(expiresAt ? { expiresAt: new Date(expiresAt) } : {}),
          ...(str(b, 'displayName') ? { displayName: str(b, 'displayName')! } : {}),
          ...(format ? { format } : {}),
        });
        return { token, authorizationId };
      });
      scope.post('/pats/:authorizationId/revoke', async (req) => {
        world.revokePat((req.params as { authorizationId: string }).authorizationId);
        return { ok: true };
      });
      scope.post('/pats/:authorizationId/expire', async (req) => {
        world.expirePat((req.params as { authorizationId: string }).authorizationId);
        return { ok: true };
      });

      // ---- faults and counters ------------------------------------------------------------
      scope.get('/faults', async () => ({ rules: faults.list() }));
      scope.post('/faults', async (req) => ({ id: faults.add(body(req) as FaultRuleInput) }));
      scope.delete('/faults', async () => {
        faults.clear();
        return { ok: true };
      });
      scope.delete('/faults/:id', async (req, reply) => {
        if (!faults.remove((req.params as { id: string }).id))
          return reply.code(404).send({ error: { code: 'not_found', message: 'no such fault rule' } });
        return { ok: true };
      });
      scope.post('/faults/entra', async (req) => {
        const b = body(req);
        if (b.expireAccessTokensNow === true) env.entra.faults.expireAccessTokensNow();
        // { "expireAccessTokensNow": { "userOid": "…" } }: only that user's tokens, before their expiry.
        let expired: number | undefined;
        if (b.expireAccessTokensNow && typeof b.expireAccessTokensNow === 'object')
          expired = env.entra.faults.expireUserAccessTokensNow(str(b.expireAccessTokensNow as Body, 'userOid', true));
        if (b.revokeRefreshTokens !== undefined) {
          const f = (b.revokeRefreshTokens ?? {}) as Body;
          const filter: { userOid?: string; clientId?: string } = {};
          if (str(f, 'userOid')) filter.userOid = str(f, 'userOid')!;
          if (str(f, 'clientId')) filter.clientId = str(f, 'clientId')!;
          env.entra.faults.revokeRefreshTokens(filter);
        }
        if (typeof b.refreshReuseFails === 'boolean') env.entra.faults.setRefreshReuseFails(b.refreshReuseFails);
        if (b.replayNextAssertion === true) env.entra.assertionFaults.replayNext();
        return { ok: true, ...(expired !== undefined ? { expired } : {}) };
      });
      // ---- throttling (Azure DevOps's consumption limit, emulator/throttling.ts) -------------
      scope.get('/throttling', async () => ({ config: env.throttle.config(), ...env.throttle.snapshot() }));
      scope.put('/throttling', async (req) => {
        try {
          return { config: env.throttle.configure(body(req) as Partial<ThrottleConfig>) };
        } catch (e) {
          const message = (e as Error).message;
          throw new ControlError(400, 'invalid_field', message, /^[A-Za-z]+/.exec(message)?.[0]);
        }
      });
      scope.post('/throttling/reset', async () => {
        env.throttle.reset();
        return { ok: true };
      });

      scope.get('/counters', async () => deps.counters());
      scope.post('/counters/reset', async () => {
        deps.resetCounters();
        return { ok: true };
      });
    },
    { prefix: '/_emulator' },
  );
}
