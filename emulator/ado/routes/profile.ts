// app.vssps.visualstudio.com: the caller's profile and the organizations they belong to
// (profile/7.1/profile.json, account/7.1/accounts.json).
import type { FastifyInstance } from 'fastify';
import { globalRoute, list, q, type AdoEnv } from '../context.ts';
import { errors } from '../errors.ts';
import { iso } from '../shapes.ts';

export function registerProfileRoutes(app: FastifyInstance, env: AdoEnv): void {
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
}
