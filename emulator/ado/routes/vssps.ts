// The vssps host: app.vssps.visualstudio.com (profile, accounts) and vssps.dev.azure.com/{org}
// (the PAT lifecycle API, tokens/7.1/tokens.json).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { globalRoute, list, orgRoute, q, type AdoEnv, type OrgContext } from '../context.ts';
import { AdoError, errors } from '../errors.ts';
import { iso, patToken } from '../shapes.ts';
import { isKnownScope, normalizeScopes } from '../scopes.ts';
import type { PatRecord } from '../world.ts';

function principalUser(ctx: { principal: { kind: string; identity: { id: string } } }): string {
  return ctx.principal.identity.id;
}

export function registerVsspsRoutes(app: FastifyInstance, env: AdoEnv): void {
  // Profile of the caller. `me` or the caller's own id.
  app.get(
    '/_apis/profile/profiles/:id',
    globalRoute(env, 'vssps', { scope: 'vso.profile', requireAllOrgsPat: true }, async (req, _reply, ctx) => {
      const id = (req.params as { id: string }).id;
      const identity = ctx.principal.identity;
      if (identity.kind !== 'user') throw errors.notAuthorized(identity.id);
      if (id.toLowerCase() !== 'me' && id.toLowerCase() !== identity.id) throw errors.notAuthorized(identity.id);
      return {
        displayName: identity.displayName,
        publicAlias: identity.id,
        emailAddress: identity.email,
        coreRevision: 1,
        timeStamp: iso(identity.createdAt),
        id: identity.id,
        revision: 1,
      };
    }),
  );

  // Organizations the member belongs to; memberId (or ownerId) is required and must be the caller.
  app.get(
    '/_apis/accounts',
    globalRoute(env, 'vssps', { scope: 'vso.profile', requireAllOrgsPat: true }, async (req, reply, ctx) => {
      const memberId = q(req, 'memberId') ?? q(req, 'ownerId');
      if (!memberId) throw errors.badRequest('Either ownerId or memberId must be specified.', 'ArgumentException');
      const me = ctx.principal.identity.id;
      if (memberId.toLowerCase() !== me) throw errors.notAuthorized(me);
      const orgs = ctx.env.world.organizationsOf(me).filter((o) => o.kind === 'hosted');
      return list(
        reply,
        orgs.map((o) => ({
          accountId: o.id,
          accountUri: `${ctx.env.urls.vsspsOrgUrl(o)}/`,
          accountName: o.name,
          properties: {},
        })),
      );
    }),
  );

  // ---- PAT lifecycle: Entra user tokens only, api-version 7.1-preview.1 --------------------------
  const spec = { scope: null, released: '0.0', entraUserOnly: true } as const;

  const ownPat = (ctx: OrgContext, authorizationId: string | undefined): PatRecord => {
    if (!authorizationId) throw errors.badRequest('Value cannot be null.\r\nParameter name: authorizationId', 'ArgumentNullException');
    const pat = ctx.env.world.patById(authorizationId);
    if (!pat || pat.userId !== principalUser(ctx)) {
      throw new AdoError(404, `The personal access token with authorizationId ${authorizationId} was not found.`, 'SessionTokenNotFoundException');
    }
    return pat;
  };

  const validTo = (raw: unknown): Date | null => {
    if (typeof raw !== 'string') return null;
    const d = new Date(raw);
    return Number.isNaN(d.getTime()) ? null : d;
  };

  app.get(
    '/:org/_apis/tokens/pats',
    orgRoute(env, 'vssps', spec, async (req, _reply, ctx) => {
      const authorizationId = q(req, 'authorizationId');
      if (authorizationId) return { patToken: patToken(ownPat(ctx, authorizationId), null), patTokenError: 'none' };
      const filter = (q(req, 'displayFilterOption') ?? 'active').toLowerCase();
      const sortBy = (q(req, 'sortByOption') ?? 'displayName').toLowerCase();
      const ascending = (q(req, 'isSortAscending') ?? 'true').toLowerCase() !== 'false';
      let pats = ctx.env.world
        .listPats(principalUser(ctx))
        .filter((p) => p.targetOrgIds === null || p.targetOrgIds.includes(ctx.org.id))
        .filter((p) => filter === 'all' || ctx.env.world.patState(p) === filter);
      const key = (p: PatRecord): string | number =>
        sortBy === 'displaydate' ? p.validTo.getTime() : sortBy === 'status' ? ctx.env.world.patState(p) : p.displayName.toLowerCase();
      pats = pats.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) * (ascending ? 1 : -1));
      const start = Number(q(req, 'continuationToken') ?? 0) || 0;
      const top = Math.min(Number(q(req, '$top') ?? 100) || 100, 100);
      const slice = pats.slice(start, start + top);
      return {
        continuationToken: start + top < pats.length ? String(start + top) : '',
        patTokens: slice.map((p) => patToken(p, null)),
      };
    }),
  );

  app.post(
    '/:org/_apis/tokens/pats',
    orgRoute(env, 'vssps', spec, async (req, reply, ctx) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      const bad = (patTokenError: string): unknown => ({ patToken: {}, patTokenError });
      // Validation failures come back as PatTokenResult.patTokenError (its enum lists them); the
      // status code for them is unconfirmed, the emulator uses 400.
      if (typeof b.displayName !== 'string' || !b.displayName.trim()) return reply.code(400).send(bad('displayNameRequired'));
      const scopes = normalizeScopes(typeof b.scope === 'string' ? b.scope : '');
      if (scopes.length === 0 || !scopes.every(isKnownScope)) return reply.code(400).send(bad('invalidScope'));
      const to = b.validTo === undefined ? new Date(Date.now() + 30 * 86_400_000) : validTo(b.validTo);
      if (!to || to.getTime() <= Date.now()) return reply.code(400).send(bad('invalidValidTo'));
      const created = ctx.env.world.createPat(principalUser(ctx), {
        scopes,
        orgs: b.allOrgs === true ? 'all' : [ctx.org.name],
        expiresAt: to,
        displayName: b.displayName.trim(),
      });
      return { patToken: patToken(created.pat, created.token), patTokenError: 'none' };
    }),
  );

  app.put(
    '/:org/_apis/tokens/pats',
    orgRoute(env, 'vssps', spec, async (req, reply, ctx) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      const pat = ownPat(ctx, typeof b.authorizationId === 'string' ? b.authorizationId : undefined);
      const patch: Parameters<typeof ctx.env.world.updatePat>[1] = {};
      if (typeof b.displayName === 'string') patch.displayName = b.displayName;
      if (typeof b.scope === 'string') {
        const scopes = normalizeScopes(b.scope);
        if (scopes.length === 0 || !scopes.every(isKnownScope)) return reply.code(400).send({ patToken: {}, patTokenError: 'invalidScope' });
        patch.scopes = scopes;
      }
      if (b.validTo !== undefined) {
        const to = validTo(b.validTo);
        if (!to) return reply.code(400).send({ patToken: {}, patTokenError: 'invalidValidTo' });
        patch.validTo = to;
      }
      if (typeof b.allOrgs === 'boolean') patch.targetOrgIds = b.allOrgs ? null : [ctx.org.id];
      return { patToken: patToken(ctx.env.world.updatePat(pat.authorizationId, patch), null), patTokenError: 'none' };
    }),
  );

  app.delete(
    '/:org/_apis/tokens/pats',
    orgRoute(env, 'vssps', spec, async (req: FastifyRequest, reply, ctx) => {
      const pat = ownPat(ctx, q(req, 'authorizationId'));
      ctx.env.world.revokePat(pat.authorizationId);
      return reply.code(204).send();
    }),
  );
}
