import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from './support/databases.ts';
import { Browser, startTestManagement } from './support/management.ts';
import type { TestManagement } from './support/management.ts';

// A canary secret pushed through every path that logs: request bodies, query strings, headers,
// validation errors, parse errors, audit details. It must never appear in the captured log output,
// the audit log, or a response.
const CANARY = `CANARY${Math.random().toString(36).slice(2)}SECRET`;

for (const { kind, skip } of await databaseKinds()) {
  describe(`secret canary (${kind})`, { skip }, () => {
    let t: TestManagement;
    const responses: string[] = [];
    before(async () => {
      t = await startTestManagement(kind, {}, 'trace');
    });
    after(async () => t?.close());

    it('never logs, audits or echoes the canary', async () => {
      const browser = new Browser(t.app);
      await browser.signIn(t.admin.email, t.admin.password);
      const calls = [
        // a password in a sign-in body (wrong, then as a new member's password)
        t.app.inject({ method: 'POST', url: '/api/v1/auth/sign-in', payload: { email: t.admin.email, password: CANARY } }),
        browser.request({
          method: 'POST',
          url: '/api/v1/members',
          payload: { email: 'canary@acme.test', role: 'member', password: `${CANARY}-long-enough` },
        }),
        // a secret in a query string (as an OAuth callback would carry a code)
        t.app.inject({ method: 'GET', url: `/api/v1/me?code=${CANARY}&state=${CANARY}` }),
        t.app.inject({ method: 'GET', url: `/no/such/route?token=${CANARY}` }),
        // a secret in headers
        t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { authorization: `Bearer kw_${CANARY}${'x'.repeat(30)}` } }),
        t.app.inject({ method: 'GET', url: '/api/v1/me', headers: { cookie: `keyway_session=kws_${CANARY}` } }),
        // a secret inside a malformed JSON body (parsers like to quote the offending text)
        t.app.inject({
          method: 'POST',
          url: '/api/v1/auth/sign-in',
          headers: { 'content-type': 'application/json' },
          payload: `{"email":"a@b.c","password":"${CANARY}`,
        }),
        // a secret in a field that fails validation
        browser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: 'x', secret: CANARY } }),
        browser.request({ method: 'POST', url: '/api/v1/api-tokens', payload: { name: CANARY.repeat(20) } }),
        // a secret as a sign-in link token
        t.app.inject({ method: 'POST', url: '/api/v1/auth/link', payload: { token: `kwl_${CANARY}${'y'.repeat(30)}` } }),
        t.app.inject({ method: 'PUT', url: '/api/v1/me/password', payload: { password: CANARY } }),
      ];
      for (const res of await Promise.all(calls)) {
        responses.push(JSON.stringify(res.headers) + res.body);
        assert.ok(res.statusCode >= 200 && res.statusCode < 500, `no 5xx (${res.statusCode}: ${res.body})`);
      }
      await t.core.audit.record({
        actor: { kind: 'system' },
        action: 'user.password_change',
        outcome: 'success',
        details: { clientSecret: CANARY, nested: { accessToken: CANARY } },
      });

      assert.ok(t.logs.lines.length > 10, 'requests were logged');
      assert.ok(!t.logs.text.includes(CANARY), `canary found in logs:\n${t.logs.lines.filter((l) => l.includes(CANARY)).join('\n')}`);
      for (const body of responses) assert.ok(!body.includes(CANARY), `canary echoed in a response: ${body.slice(0, 300)}`);
      const audit = await t.database.db.selectFrom('audit_events').selectAll().execute();
      assert.ok(audit.length > 0);
      assert.ok(!JSON.stringify(audit).includes(CANARY), 'canary found in the audit log');
      const users = await t.database.db.selectFrom('users').selectAll().execute();
      assert.ok(!JSON.stringify(users).includes(CANARY), 'a password is stored only as a hash');
    });
  });
}
