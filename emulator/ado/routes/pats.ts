// vssps.dev.azure.com/{org}/_apis/tokens/pats: the PAT lifecycle API (tokens/7.1/tokens.json),
// api-version 7.1-preview.1, Entra user tokens only.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { orgRoute, page, q, type AdoEnv, type OrgContext } from '../context.ts';
import { AdoError, errors } from '../errors.ts';
import { patToken } from '../shapes.ts';
import { isKnownScope, normalizeScopes } from '../scopes.ts';
import type { PatRecord } from '../world.ts';

export function registerPatRoutes(app: FastifyInstance, env: AdoEnv): void {
  const spec = { scope: null, released: '0.0', entraUserOnly: true } as const;

  const ownPat = (ctx: OrgContext, authorizationId: string | undefined): PatRecord => {
    if (!authorizationId) throw errors.badRequest('Value cannot be null.\r\nParameter name: authorizationId', 'ArgumentNullException');
    const pat = ctx.env.world.patById(authorizationId);
    if (!pat || pat.userId !== ctx.principal.identity.id) {
      throw new AdoError(
        404,
        `The personal access token with authorizationId ${authorizationId} was not found.`,
        'SessionTokenNotFoundException',
      );
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
        .listPats(ctx.principal.identity.id)
        .filter((p) => p.targetOrgIds === null || p.targetOrgIds.includes(ctx.org.id))
        .filter((p) => filter === 'all' || ctx.env.world.patState(p) === filter);
      const key = (p: PatRecord): string | number =>
        sortBy === 'displaydate' ? p.validTo.getTime() : sortBy === 'status' ? ctx.env.world.patState(p) : p.displayName.toLowerCase();
      pats = pats.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0) * (ascending ? 1 : -1));
      const top = q(req, '$top');
      const { items, next } = page(
        pats,
        top !== undefined && /^\d+$/.test(top) ? String(Math.min(Number(top), 100)) : top,
        q(req, 'continuationToken'),
        `pats:${ctx.principal.identity.id}:${ctx.org.id}:${filter}:${sortBy}:${ascending}`,
        100,
      );
      return { continuationToken: next ?? '', patTokens: items.map((p) => patToken(p, null)) };
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
      const created = ctx.env.world.createPat(ctx.principal.identity.id, {
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
        if (scopes.length === 0 || !scopes.every(isKnownScope))
          return reply.code(400).send({ patToken: {}, patTokenError: 'invalidScope' });
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
