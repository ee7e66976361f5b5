import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Browser, startTestManagement } from '../support/management.ts';
import type { TestManagement } from '../support/management.ts';
import { CONTENT_SECURITY_POLICY } from '../../src/management/web-assets.ts';
import { ensureWebBuilt } from './support.ts';

// How the management plane serves the built UI (no browser needed): the CSP, caching, the SPA
// fallback for history routes, and that API and operations paths are left as they were.

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

describe('web assets', () => {
  let t: TestManagement;
  let browser: Browser;

  before(async () => {
    // Before the app is built: it looks for web/dist when it starts.
    ensureWebBuilt();
    t = await startTestManagement('sqlite', {}, 'silent');
    browser = new Browser(t.app);
    await browser.signIn(t.admin.email, t.admin.password);
  });
  after(async () => t?.close());

  it('answers history routes with index.html under the strict CSP', async () => {
    assert.equal(CONTENT_SECURITY_POLICY, CSP);
    for (const url of [
      '/',
      '/runners',
      '/runners/run_1',
      '/members?x=1',
      '/sign-in',
      '/apix',
      '/invitations/accept',
      '/organization',
      '/instance',
    ]) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.match(res.headers['content-type'] as string, /^text\/html/, url);
      assert.match(res.body, /<div id="root"><\/div>/, url);
      assert.equal(res.headers['content-security-policy'], CSP, url);
      assert.equal(res.headers['x-frame-options'], 'DENY');
      assert.equal(res.headers['cache-control'], 'no-cache', 'the page revalidates so a new build shows at once');
      assert.equal(res.headers['x-content-type-options'], 'nosniff');
    }
    const head = await t.app.inject({ method: 'HEAD', url: '/members' });
    assert.equal(head.statusCode, 200);
  });

  it('serves hashed assets as immutable and refuses missing files and traversal', async () => {
    const assets = readdirSync(fileURLToPath(new URL('../../web/dist/assets/', import.meta.url)));
    const script = assets.find((name) => name.endsWith('.js'));
    assert.ok(script);
    const res = await t.app.inject({ method: 'GET', url: `/assets/${script}` });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /javascript/);
    assert.equal(res.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(res.headers['content-security-policy'], CSP);

    const icon = await t.app.inject({ method: 'GET', url: '/favicon.svg' });
    assert.equal(icon.statusCode, 200);
    assert.match(icon.headers['content-type'] as string, /image\/svg\+xml/);

    for (const url of [
      '/assets/missing.js',
      '/robots.txt',
      '/..%2f..%2fpackage.json',
      '/assets/..%2f..%2f..%2fpackage.json',
      '/%2e%2e/%2e%2e/package.json',
      '/.env',
      '/assets/.hidden',
    ]) {
      const miss = await t.app.inject({ method: 'GET', url });
      assert.equal(miss.statusCode, 404, url);
      assert.equal((miss.json() as { error: { code: string } }).error.code, 'not_found', url);
      assert.equal(miss.headers['cache-control'], 'no-store', url);
    }
    // Only GETs fall back to the app.
    assert.equal((await t.app.inject({ method: 'POST', url: '/runners' })).statusCode, 404);
  });

  it('leaves API and operations paths untouched', async () => {
    const anonymous = await t.app.inject({ method: 'GET', url: '/api/v1/no-such-route' });
    assert.equal(anonymous.statusCode, 401, 'unknown API routes still need a session first');
    assert.equal(anonymous.headers['content-security-policy'], undefined);

    const signedIn = await browser.request({ method: 'GET', url: '/api/v1/no-such-route' });
    assert.equal(signedIn.statusCode, 404);
    assert.deepEqual(signedIn.json(), { error: { code: 'not_found', message: 'no route for GET /api/v1/no-such-route' } });
    assert.equal(signedIn.headers['content-security-policy'], undefined);

    const me = await browser.request({ method: 'GET', url: '/api/v1/me' });
    assert.equal(me.statusCode, 200);
    assert.equal(me.headers['content-security-policy'], undefined);
    assert.equal((await t.app.inject({ method: 'GET', url: '/api/openapi.json' })).statusCode, 200);

    for (const url of ['/healthz', '/readyz', '/metrics']) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.equal(res.headers['content-security-policy'], undefined, url);
      assert.equal(res.headers['cache-control'], 'no-store', url);
    }
    const link = await t.app.inject({ method: 'GET', url: '/sign-in/link' });
    assert.match(link.headers['content-security-policy'] as string, /^default-src 'none'/, 'the sign-in link page keeps its own CSP');
    assert.match(link.body, /Signing in to Keyway/);
    for (const url of ['/sign-in/linkx', '/healthz/x', '/metrics/x', '/api']) {
      const res = await t.app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 404, url);
      assert.match(res.headers['content-type'] as string, /application\/json/, url);
    }
  });
});
