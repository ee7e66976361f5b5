import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { errorResponses } from '../../http/errors.ts';
import { routeSchemas } from '../route-schema.ts';
import type { AuditLog } from '../audit/service.ts';
import { createRouteAudit } from '../audit/route-audit.ts';
import { clientInfo } from '../identity/client-info.ts';
import { setSessionCookie } from '../identity/cookies.ts';
import { LinkedIdentityList, Provider, ProviderList, SsoBegun } from './schema.ts';
import { asPerson } from '../identity/principal.ts';
import type { AccountPrincipal, UserPrincipal } from '../identity/principal.ts';
import { CALLBACK_HEADERS } from '../oauth/callback-page.ts';
import { SSO_CALLBACK_PATH, SSO_STATE_MINUTES } from './service.ts';
import type { SsoOutcome, SsoService } from './service.ts';
import type { IdentityService } from '../identity/service.ts';

export interface SsoRouteDeps {
  sso: SsoService;
  checkCsrf: IdentityService['checkCsrf'];
  audit: Pick<AuditLog, 'record'>;
  secureCookies: boolean;
  publicUrl: () => string;
}

const Errors = errorResponses(400, 401, 403, 404, 409, 429, 502);

/**
 * The cookie that ties a sign-in to the browser that started it. An attacker who completes a
 * sign-in in their own browser and sends a victim to the callback (login CSRF) fails: the victim's
 * browser lacks the cookie. SameSite=Lax still sends it on the provider's top-level redirect back.
 */
export function ssoCookieName(secure: boolean): string {
  return secure ? '__Host-keyway_sso' : 'keyway_sso';
}

export async function ssoRoutes(root: FastifyInstance, deps: SsoRouteDeps): Promise<void> {
  const app = root.withTypeProvider<TypeBoxTypeProvider>();
  const { sso, checkCsrf } = deps;
  const audit = createRouteAudit(deps.audit);
  const routeSchema = routeSchemas('identity', Errors);
  const cookie = ssoCookieName(deps.secureCookies);

  app.get(
    '/api/v1/auth/sso/providers',
    {
      config: { auth: 'public' },
      schema: routeSchema('The single sign-on providers this instance offers, for the sign-in page', { response: { 200: ProviderList } }),
    },
    async () => ({ providers: await sso.providers() }),
  );

  app.post(
    '/api/v1/auth/sso/:provider/begin',
    {
      // Each start stores a state and may ask Entra about a domain: a tighter budget per address.
      config: { auth: 'public', rateLimit: { max: 60, timeWindow: '1 minute' } },
      schema: routeSchema(
        'Start signing in with an identity provider (authorization code + PKCE): answers the URL to send the browser to and sets a cookie binding the sign-in to this browser. intent "reauthenticate" (fresh proof before a sensitive change) and "link" (add a provider sign-in to your account) need a browser session.',
        {
          params: Type.Object({ provider: Provider }),
          body: Type.Object(
            {
              intent: Type.Optional(Type.Union([Type.Literal('sign-in'), Type.Literal('reauthenticate'), Type.Literal('link')])),
              email: Type.Optional(
                Type.String({ maxLength: 320, description: 'Your work email: picks the Entra tenant when the instance has several' }),
              ),
              organization: Type.Optional(Type.String({ maxLength: 100, description: 'An organization slug: sign in through its tenant' })),
              tenant: Type.Optional(Type.String({ maxLength: 100, description: 'A Directory (tenant) ID, for link' })),
              invitationToken: Type.Optional(Type.String({ maxLength: 200, description: 'Accept this invitation with the sign-in' })),
              returnTo: Type.Optional(Type.String({ maxLength: 1000 })),
            },
            { additionalProperties: false },
          ),
          response: { 200: SsoBegun },
        },
      ),
    },
    async (request, reply) => {
      const intent = request.body.intent ?? 'sign-in';
      const person = request.principal?.kind === 'user' || request.principal?.kind === 'account' ? request.principal : undefined;
      const presented = request.headers['x-csrf-token'];
      if (intent !== 'sign-in' && person?.via === 'session' && !checkCsrf(person, typeof presented === 'string' ? presented : undefined)) {
        // The route is public (sign-in starts signed out); the session intents check CSRF themselves.
        return reply.code(403).send({ error: { code: 'csrf_failed', message: 'missing or wrong X-CSRF-Token header' } });
      }
      const started = await sso.begin({ provider: request.params.provider, ...request.body, intent }, person);
      void reply.setCookie(cookie, started.browserToken, {
        path: '/',
        httpOnly: true,
        sameSite: 'lax',
        secure: deps.secureCookies,
        maxAge: SSO_STATE_MINUTES * 60,
      });
      return { redirectUrl: started.redirectUrl };
    },
  );

  app.get(
    SSO_CALLBACK_PATH,
    {
      config: { auth: 'public' },
      schema: routeSchema(
        "Where the identity provider sends the browser back (register this URL as the app's Web redirect URI); signs in and redirects, or shows why not",
        {
          querystring: Type.Object(
            {
              code: Type.Optional(Type.String({ maxLength: 4096 })),
              state: Type.Optional(Type.String({ maxLength: 512 })),
              error: Type.Optional(Type.String({ maxLength: 200 })),
              error_description: Type.Optional(Type.String({ maxLength: 4096 })),
            },
            { additionalProperties: true },
          ),
          response: { 303: Type.Null() },
        },
      ),
    },
    async (request, reply) => {
      const client = clientInfo(request);
      const current =
        request.principal?.kind === 'user' || request.principal?.kind === 'account'
          ? (request.principal as UserPrincipal | AccountPrincipal)
          : undefined;
      const query = request.url.slice(request.url.indexOf('?') === -1 ? request.url.length : request.url.indexOf('?'));
      const callbackUrl = new URL(`${deps.publicUrl()}${SSO_CALLBACK_PATH}${query}`);
      const outcome = await sso.complete(
        { state: request.query.state, callbackUrl, browserToken: request.cookies?.[cookie] },
        current,
        client,
      );
      void reply.clearCookie(cookie, { path: '/', httpOnly: true, sameSite: 'lax', secure: deps.secureCookies });
      // The callback's outcome is what it answers, not whether it threw: the route decides it.
      await audit.record(request, {
        organizationId: outcome.organizationId ?? null,
        actor: current ?? { kind: 'anonymous', label: 'single sign-on' },
        action: outcome.ok && outcome.intent !== 'sign-in' ? `session.sso_${outcome.intent}` : 'session.sign_in',
        target: outcome.userId ? { type: 'user', id: outcome.userId } : undefined,
        outcome: outcome.ok ? 'success' : 'failure',
        details: outcome.ok ? { method: 'sso' } : { method: 'sso', reason: outcome.code },
      });
      if (outcome.ok) {
        if (outcome.session) setSessionCookie(reply, outcome.session, deps.secureCookies);
        return reply.code(303).header('location', outcome.returnTo).header('referrer-policy', 'no-referrer').send(null);
      }
      return sendFailure(reply, outcome);
    },
  );

  app.get(
    '/api/v1/me/identities',
    {
      config: { auth: 'account' },
      schema: routeSchema('The identity-provider accounts linked to yours', { response: { 200: LinkedIdentityList } }),
    },
    async (request) => ({ identities: await sso.identities(asPerson(request).userId) }),
  );

  app.delete(
    '/api/v1/me/identities/:id',
    {
      config: { auth: 'account' },
      schema: routeSchema('Unlink an identity-provider account (not your only way to sign in)', {
        params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
        response: { 204: Type.Null() },
      }),
    },
    async (request, reply) => {
      const person = asPerson(request);
      const { id } = request.params;
      await audit.run(request, { action: 'user.sso_unlink', target: { type: 'sso_identity', id } }, () => sso.unlink(person, id));
      return reply.code(204).send(null);
    },
  );
}

const escape = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

function sendFailure(reply: FastifyReply, outcome: Extract<SsoOutcome, { ok: false }>) {
  const message = outcome.message.charAt(0).toUpperCase() + outcome.message.slice(1);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign-in failed — Keyway</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color-scheme:light dark}</style>
</head><body><main id="result" data-ok="false" data-code="${escape(outcome.code)}">
<h1>Sign-in failed</h1><p role="alert">${escape(message)}.</p>
<p><a href="${escape(outcome.returnTo)}">Back to Keyway</a></p></main></body></html>`;
  return reply.code(400).headers(CALLBACK_HEADERS).type('text/html; charset=utf-8').send(html);
}
