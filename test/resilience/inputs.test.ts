// Hostile input on every write route of the OpenAPI document: oversized bodies (> 1 MiB → 413),
// malformed JSON, the wrong content type, deep nesting and prototype pollution — a 4xx with the
// one error shape, never a 5xx. Then path traversal in ids and names (API and runner workspace),
// and header injection through URLs and query values (CR/LF never reaches a response header).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { InjectOptions } from 'fastify';
import { preferredKind, startWorld } from './support/world.ts';
import type { World } from './support/world.ts';
import { servicesRepository } from '../support/control-payloads.ts';

const ONE_MIB = 1024 * 1024;

/** A raw HTTP/1.1 exchange, for what fetch refuses to send. */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolvePromise, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('end', () => resolvePromise(text));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
  });
}

function headerBlock(response: string): string {
  return response.split('\r\n\r\n')[0] ?? '';
}

const kind = await preferredKind();
describe(`hostile input: bodies, traversal and header injection (${kind})`, () => {
  let world: World;
  let writeRoutes: { method: string; path: string }[] = [];

  before(async () => {
    world = await startWorld(kind, { runnerName: 'inputs' });
    const doc = (await world.plane.app.inject({ method: 'GET', url: '/api/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    for (const [path, operations] of Object.entries(doc.paths)) {
      if (!path.startsWith('/api/v1/')) continue;
      for (const method of Object.keys(operations).map((m) => m.toUpperCase())) {
        if (method === 'POST' || method === 'PUT' || method === 'PATCH')
          writeRoutes.push({ method, path: path.replace(/\{(\w+)\}/g, 'zz_doesnotexist0000') });
      }
    }
    // Sign-out and sign-out-everywhere end the sessions the suite uses; the revocation purge opens
    // only to a revoked runner's token (none here), so everyone is refused before the body is read
    // (the authorization matrix checks that refusal).
    writeRoutes = writeRoutes.filter(
      (r) => !['/api/v1/auth/sign-out', '/api/v1/me/sessions/sign-out-everywhere', '/api/v1/runner/revocation-purge'].includes(r.path),
    );
  });
  after(async () => world?.close());

  /** From an address of its own per case (the global rate limit is per address). */
  async function send(route: { method: string; path: string }, payload: string | Buffer, contentType: string, ip: string) {
    // Runner routes are called with the runner's token, every other route as the admin.
    const headers = route.path.startsWith('/api/v1/runner/')
      ? { authorization: `Bearer ${world.runner.runtime.registration.runnerToken}`, 'content-type': contentType }
      : { cookie: world.plane.adminBrowser.cookie, 'x-csrf-token': world.plane.adminBrowser.csrfToken, 'content-type': contentType };
    const res = await world.plane.app.inject({
      method: route.method as InjectOptions['method'],
      url: route.path,
      headers,
      payload,
      remoteAddress: ip,
    });
    world.canaries.response(`${route.method} ${route.path} (${contentType})`, res);
    return res;
  }

  /** What a case expects back, and how the failure message names it. */
  type Outcome = { expect: (s: number) => boolean; text: string };
  const exactly = (status: number): Outcome => ({ expect: (s) => s === status, text: String(status) });
  const CLIENT_ERROR: Outcome = { expect: (s) => s >= 400 && s < 500, text: '4xx' };
  const json = (name: string, body: () => string | Buffer, outcome: Outcome) => ({
    name,
    body,
    contentType: 'application/json',
    ...outcome,
  });

  const cases: ({ name: string; body: () => string | Buffer; contentType: string } & Outcome)[] = [
    json('a body over 1 MiB', () => JSON.stringify({ name: 'x'.repeat(ONE_MIB + 10) }), exactly(413)),
    json('malformed JSON', () => '{"name": "x", ', exactly(400)),
    json('JSON that is not an object', () => '"just a string"', CLIENT_ERROR),
    // Routes that take no body ignore one they do not parse (a 404 for the ids that do not exist).
    { name: 'the wrong content type', body: () => 'name=x', contentType: 'text/plain', ...CLIENT_ERROR },
    { name: 'an unknown content type', body: () => '<x/>', contentType: 'application/xml', ...exactly(415) },
    json('deep nesting (100,000 levels)', () => `{"name":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, CLIENT_ERROR),
    json('prototype pollution (__proto__)', () => '{"__proto__":{"role":"admin"},"name":"x"}', exactly(400)),
    json('prototype pollution (constructor.prototype)', () => '{"constructor":{"prototype":{"role":"admin"}},"name":"x"}', exactly(400)),
    json('invalid UTF-8', () => Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), CLIENT_ERROR),
    json(
      'a NUL character in a string',
      () => '{"name":"a\\u0000b","organization":"a\\u0000b","url":"https://dev.azure.com/a\\u0000b"}',
      CLIENT_ERROR,
    ),
  ];

  for (const [i, c] of cases.entries()) {
    it(`every write route answers ${c.name} with ${c.text} and the error shape, never 5xx`, async () => {
      const wrong: string[] = [];
      for (const route of writeRoutes) {
        const res = await send(route, c.body(), c.contentType, `10.20.${i}.1`);
        const shaped = (() => {
          try {
            const body = res.json() as { error?: { code?: unknown; message?: unknown } };
            return typeof body.error?.code === 'string' && typeof body.error?.message === 'string';
          } catch {
            return false;
          }
        })();
        if (!c.expect(res.statusCode) || !shaped) wrong.push(`${route.method} ${route.path}: ${res.statusCode} ${res.body.slice(0, 100)}`);
      }
      assert.deepEqual(wrong, []);
      // The plane still answers.
      assert.equal((await world.plane.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
    });
  }

  it('an oversized body over real HTTP is cut off with 413 before it is read whole', async () => {
    const res = await fetch(`${world.plane.url}/api/v1/runners`, {
      method: 'POST',
      headers: {
        cookie: world.plane.adminBrowser.cookie,
        'x-csrf-token': world.plane.adminBrowser.csrfToken,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ name: 'x'.repeat(5 * ONE_MIB) }),
    }).catch((err: Error) => ({ status: 0, error: err.message }));
    // Either the 413 arrives, or the server closes the socket mid-upload: both are refusals.
    assert.ok(res.status === 413 || res.status === 0, `status ${res.status}`);
  });

  it('path traversal in ids is a 404 (or 400), never a file and never a 5xx', async () => {
    const ids = [
      '..',
      '%2e%2e',
      '..%2f..%2f..%2fetc%2fpasswd',
      '..%5c..%5cwindows',
      '%2e%2e%2f',
      'zz%00',
      '....//....//etc',
      '%252e%252e%252f',
      'x/../../../etc/passwd',
    ];
    const wrong: string[] = [];
    for (const id of ids) {
      for (const url of [
        `/api/v1/runners/${id}`,
        `/api/v1/environments/${id}`,
        `/api/v1/projects/${id}`,
        `/api/v1/runners/${world.runnerId}/scm-integrations/${id}`,
        `/api/v1/oauth/callback/${id}`,
      ]) {
        const res = await world.plane.adminBrowser.request({ method: 'GET', url });
        world.canaries.response(`GET ${url}`, res);
        if (res.statusCode >= 500 || res.statusCode < 400 || /root:x:0:0/.test(res.body)) wrong.push(`${url}: ${res.statusCode}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('path traversal in names: a runner, a project and a repository named like paths stay names', async () => {
    const admin = world.plane.adminBrowser;
    const runner = await admin.request({ method: 'POST', url: '/api/v1/runners', payload: { name: '../../etc/passwd' } });
    assert.ok(runner.statusCode === 201 || runner.statusCode === 400, runner.body);
    const project = await admin.request({ method: 'POST', url: '/api/v1/projects', payload: { name: '..\\..\\windows' } });
    assert.ok(project.statusCode === 201 || project.statusCode === 400, project.body);
    for (const contextUrl of [
      'https://dev.azure.com/contoso/Web/_git/..%2F..%2F..%2Ftmp',
      'https://dev.azure.com/contoso/../../_git/web',
      'https://dev.azure.com/contoso/Web/_git/%2e%2e',
    ]) {
      const res = await admin.request({ method: 'POST', url: '/api/v1/environments', payload: { contextUrl, runnerId: world.runnerId } });
      world.canaries.response(`environment ${contextUrl}`, res);
      assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${contextUrl}: ${res.statusCode} ${res.body}`);
    }
  });

  it('the runner keeps every workspace inside its workspaces directory, whatever the ids and names', async () => {
    const handler = world.runner.runtime.environments.handlers['environment-create']!;
    const integration = await world.runner.runtime.integrations.get(world.integrationId);
    const request = { id: 'r', kind: 'environment-create', payload: null, deadlineAt: '' };
    const create = (environmentId: string, repository: string) =>
      handler(
        { environmentId, userId: world.plane.admin.id, integration, repository: servicesRepository('contoso', 'Web', repository) },
        request,
      );
    for (const environmentId of ['../../escape', 'env_../../../x', 'env_x/../../y', '/tmp/env_abs', 'env_%2e%2e%2fzzzzzz']) {
      await assert.rejects(create(environmentId, 'web'), (err: Error & { code?: string }) => err.code === 'invalid_request', environmentId);
    }
    // A repository name is only ever a label for the directory (and the admin has no authorization
    // here, so nothing is cloned either way).
    await assert.rejects(create('env_traversal0001', '../../../../tmp/evil'));
    const workspaces = resolve(world.runner.dataDir, 'workspaces');
    const entries = existsSync(workspaces) ? readdirSync(workspaces) : [];
    assert.ok(
      entries.every((e) => /^env_[A-Za-z0-9_-]+$/.test(e)),
      JSON.stringify(entries),
    );
    assert.ok(!existsSync(join(world.runner.dataDir, '..', 'escape')));
  });

  it('CR/LF in a path or query value never becomes a response header', async () => {
    const injected = [
      '/api/v1/runners/x%0d%0aX-Injected:%20yes',
      '/api/v1/me?x=%0d%0aX-Injected:%20yes',
      `/api/v1/oauth/authorize/${world.integrationId}?returnTo=%2Fok%0d%0aX-Injected:%20yes`,
      `/api/v1/oauth/callback/${world.integrationId}?state=%0d%0aX-Injected:%20yes&code=x`,
      '/no/such%0d%0aX-Injected:%20yes',
    ];
    for (const url of injected) {
      const res = await fetch(`${world.plane.url}${url}`, { headers: { cookie: world.plane.adminBrowser.cookie }, redirect: 'manual' });
      const text = await res.text();
      const headers: Record<string, string> = {};
      res.headers.forEach((value, name) => (headers[name] = value));
      world.canaries.response(`GET ${url}`, { status: res.status, headers, body: text });
      assert.equal(res.headers.get('x-injected'), null, url);
      assert.ok(res.status < 500, `${url}: ${res.status}`);
      for (const [name, value] of Object.entries(headers)) assert.ok(!/[\r\n]/.test(value), `${url}: header ${name} carries a line break`);
    }
  });

  it('a request line or header smuggling CR/LF is refused by the HTTP parser with 400, and the plane keeps serving', async () => {
    const answers = [
      await raw(world.plane.url, 'GET /api/v1/me?x=1\rX-Injected: yes HTTP/1.1\r\nHost: keyway\r\nConnection: close\r\n\r\n'),
      await raw(world.plane.url, 'GET /healthz HTTP/1.1\r\nHost: keyway\r\nX-Test: a\rb\r\nConnection: close\r\n\r\n'),
      await raw(
        world.plane.url,
        'POST /api/v1/auth/sign-in HTTP/1.1\r\nHost: keyway\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
      ),
    ];
    for (const answer of answers) {
      assert.match(answer, /^HTTP\/1\.1 400/, answer.slice(0, 200));
      assert.ok(!/x-injected/i.test(headerBlock(answer)));
    }
    assert.equal((await fetch(`${world.plane.url}/healthz`)).status, 200);
  });

  it('an Azure DevOps name carrying CR/LF is refused before any request is built', async () => {
    const res = await world.plane.adminBrowser.request({
      method: 'POST',
      url: '/api/v1/context/parse',
      payload: { url: 'https://dev.azure.com/contoso/Web/_git/web%0d%0aHost:%20evil.test' },
    });
    world.canaries.response('context parse with CR/LF', res);
    assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${res.statusCode} ${res.body}`);
    const before = world.emu.counters();
    const listing = await world.plane.adminBrowser.request({
      method: 'GET',
      url: `/api/v1/scm/repositories?integrationId=${world.integrationId}&organization=contoso%0d%0aX-Injected:%20yes`,
    });
    assert.ok(listing.statusCode >= 400 && listing.statusCode < 500, `${listing.statusCode} ${listing.body}`);
    assert.deepEqual(world.emu.counters().restCalls, before.restCalls, 'no request reached Azure DevOps');
  });

  it('no secret canary in logs, responses or the management database', async () => {
    await world.canaries.assertClean();
  });
});
