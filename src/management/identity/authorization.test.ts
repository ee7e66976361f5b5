import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../../../test/support/databases.ts';
import { Browser, signedInBrowser, startTestManagement } from '../../../test/support/management.ts';
import type { TestManagement } from '../../../test/support/management.ts';

for (const { kind, skip } of await databaseKinds()) {
  describe(`identity and authorization (${kind})`, { skip }, () => {
    let t: TestManagement;
    before(async () => {
      t = await startTestManagement(kind);
    });
    after(async () => t?.close());

    it('answers 401 with the error shape when there is no session', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/api/v1/me' });
      assert.equal(res.statusCode, 401);
      assert.equal(res.json().error.code, 'unauthenticated');
      assert.match(res.json().error.message, /sign in/);
    });

    it('signs in, reports who I am, and binds the cookie to HttpOnly, SameSite=Lax', async () => {
      const browser = new Browser(t.app);
      const res = await browser.signIn(t.admin.email, t.admin.password);
      assert.equal(res.statusCode, 200);
      const cookie = res.cookies.find((c) => c.name === 'keyway_session');
      assert.ok(cookie?.httpOnly);
      assert.equal(cookie?.sameSite, 'Lax');
      const me = await browser.request({ method: 'GET', url: '/api/v1/me' });
      assert.equal(me.statusCode, 200);
      assert.equal(me.json().user.email, t.admin.email);
      assert.equal(me.json().role, 'admin');
      assert.equal(me.json().csrfToken, browser.csrfToken);
    });

    it('forbids a member from an admin route with 403 and audits the denial', async () => {
      const browser = await signedInBrowser(t.app, t.member);
      const res = await browser.request({ method: 'GET', url: '/api/v1/audit-events' });
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().error.code, 'forbidden');
      const invite = await browser.request({
        method: 'POST',
        url: '/api/v1/invitations',
        payload: { email: 'x@acme.test', role: 'admin' },
      });
      assert.equal(invite.statusCode, 403);
      const events = await t.core.audit.list(t.organizationId, { limit: 50, action: 'authorization.denied' });
      assert.ok(events.events.some((e) => e.actor.id === t.member.id));
    });

    it('refuses a cookie-authenticated write without the CSRF token with 403', async () => {
      const browser = await signedInBrowser(t.app, t.member);
      const without = await browser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'ci' }, csrf: false });
      assert.equal(without.statusCode, 403);
      assert.equal(without.json().error.code, 'csrf_failed');
      const wrong = await browser.request({
        method: 'POST',
        url: '/api/v1/api-tokens',
        payload: { name: 'ci' },
        csrf: false,
        headers: { 'x-csrf-token': 'not-the-token' },
      });
      assert.equal(wrong.statusCode, 403);
      const withToken = await browser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'ci' } });
      assert.equal(withToken.statusCode, 201);
    });

    it('issues API tokens once, stores only a digest, and a revoked token gets 401 at once', async () => {
      const browser = await signedInBrowser(t.app, t.member);
      const created = await browser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'automation' } });
      assert.equal(created.statusCode, 201);
      const { token, id } = created.json() as { token: string; id: string };
      assert.match(token, /^kw_[A-Za-z0-9_-]{40,}$/);
      const stored = await t.database.db.selectFrom('api_tokens').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
      assert.notEqual(stored.token_hash, token);
      assert.ok(!JSON.stringify(stored).includes(token), 'the token value is not stored');

      const listed = await browser.request({ method: 'GET', url: '/api/v1/api-tokens' });
      assert.ok(!listed.body.includes(token), 'listing never shows the value');

      const ok = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.json().authenticatedBy, 'api-token');
      // API tokens are not cookie-bound: writes need no CSRF token.
      const write = await t.app.inject({
        method: 'POST',
        url: '/api/v1/projects',
        headers: { authorization: `Bearer ${token}` },
        payload: { name: 'By token' },
      });
      assert.equal(write.statusCode, 403, 'a member token is still a member: no CSRF check in the way, and no more rights than the member');
      assert.equal(write.json().error.code, 'forbidden');

      const revoke = await browser.request({ method: 'DELETE', url: `/api/v1/api-tokens/${id}` });
      assert.equal(revoke.statusCode, 204);
      const after = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer ${token}` } });
      assert.equal(after.statusCode, 401);
      assert.match(after.json().error.message, /revoked/);
    });

    it('rejects a malformed Authorization header and an unknown token even on public routes', async () => {
      const bad = await t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: 'Basic abc' } });
      assert.equal(bad.statusCode, 401);
      const unknown = await t.app.inject({
        method: 'GET',
        url: '/api/openapi.json',
        headers: { authorization: `Bearer kw_${'A'.repeat(43)}` },
      });
      assert.equal(unknown.statusCode, 401);
    });

    it('answers 429 after repeated bad sign-ins, even with the right password, and says how long to wait', async () => {
      const email = 'target@acme.test';
      await t.core.identity.createUser({ email, password: 'target-password-ok', organizationId: t.organizationId, role: 'member' });
      for (let i = 0; i < 5; i++) {
        const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email, password: `wrong-${i}` } });
        assert.equal(res.statusCode, 401, `attempt ${i + 1}`);
        assert.equal(res.json().error.message, 'email or password is wrong');
      }
      const limited = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        payload: { email, password: 'target-password-ok' },
      });
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.code, 'rate_limited');
      assert.ok(Number(limited.headers['retry-after']) > 0);
      assert.match(limited.json().error.message, /wait \d+ minute/);
    });

    it('gives the same answer for an unknown account and a wrong password', async () => {
      const unknown = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        payload: { email: 'nobody@acme.test', password: 'whatever-password' },
      });
      const wrong = await t.app.inject({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        payload: { email: t.admin.email, password: 'whatever-password' },
      });
      assert.equal(unknown.statusCode, 401);
      assert.deepEqual(unknown.json(), wrong.json());
    });

    it('redeems a one-time sign-in link exactly once', async () => {
      const link = await t.core.identity.createSignInLink(t.admin.id, t.organizationId);
      const first = await t.app.inject({ method: 'POST', url: '/api/v1/auth/link', payload: { token: link.token } });
      assert.equal(first.statusCode, 200);
      assert.ok(first.cookies.some((c) => c.name === 'keyway_session'));
      const second = await t.app.inject({ method: 'POST', url: '/api/v1/auth/link', payload: { token: link.token } });
      assert.equal(second.statusCode, 401);
      assert.equal(second.json().error.code, 'link_used');
      const forged = await t.app.inject({ method: 'POST', url: '/api/v1/auth/link', payload: { token: `kwl_${'B'.repeat(43)}` } });
      assert.equal(forged.statusCode, 401);
      assert.equal(forged.json().error.code, 'invalid_link');
    });

    it('signs out: the old cookie no longer works', async () => {
      const browser = await signedInBrowser(t.app, t.member);
      const out = await browser.request({ method: 'POST', url: '/api/v1/auth/sign-out' });
      assert.equal(out.statusCode, 204);
      const me = await browser.request({ method: 'GET', url: '/api/v1/me' });
      assert.equal(me.statusCode, 401);
    });

    it('validates input with a message that names the field', async () => {
      const browser = await signedInBrowser(t.app, t.admin);
      const invite = (payload: Record<string, unknown>) => browser.request({ method: 'POST', url: '/api/v1/invitations', payload });
      const missing = await invite({ role: 'member' });
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().error.field, 'email');
      assert.match(missing.json().error.message, /missing the required field "email"/);
      const extra = await invite({ email: 'a@b.example', role: 'member', admin: true });
      assert.equal(extra.statusCode, 400);
      assert.match(extra.json().error.message, /unknown field "admin"/);
      const role = await invite({ email: 'a@b.example', role: 'owner' });
      assert.equal(role.statusCode, 400);
      const email = await invite({ email: 'not an email', role: 'member' });
      assert.equal(email.statusCode, 400);
      assert.equal(email.json().error.field, 'email');
    });

    it('lets an admin list the audit log with paging', async () => {
      const browser = await signedInBrowser(t.app, t.admin);
      const page1 = await browser.request({ method: 'GET', url: '/api/v1/audit-events?limit=2' });
      assert.equal(page1.statusCode, 200);
      const body = page1.json() as { events: { id: string; action: string }[]; nextCursor: string | null };
      assert.equal(body.events.length, 2);
      assert.ok(body.nextCursor);
      const page2 = await browser.request({
        method: 'GET',
        url: `/api/v1/audit-events?limit=2&cursor=${encodeURIComponent(body.nextCursor)}`,
      });
      const ids2 = (page2.json() as { events: { id: string }[] }).events.map((e) => e.id);
      assert.ok(ids2.length > 0);
      assert.ok(!ids2.some((id) => body.events.some((e) => e.id === id)), 'pages do not overlap');
    });
  });
}
