// The managed-identity client: exactly one request shape (the fixed IMDS path, Metadata: true,
// the resource, a GUID client id as a query value), tokens reused until shortly before expiry,
// IMDS's own refusals and its absence each said in words; and its base URL only from the operator.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createManagedIdentityClient, ManagedIdentityError, parseImdsUrl } from './managed-identity.ts';

describe('managed identity (IMDS) client', () => {
  let server: Server;
  let base = '';
  const requests: { url: string; metadata: string | undefined; forwarded: string | undefined }[] = [];
  let answer: { status: number; body: unknown } = { status: 200, body: {} };

  before(async () => {
    server = createServer((req, res) => {
      requests.push({
        url: req.url ?? '',
        metadata: req.headers.metadata as string | undefined,
        forwarded: req.headers['x-forwarded-for'] as string | undefined,
      });
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('asks the fixed path with Metadata: true and reuses the token until shortly before it expires', async () => {
    let clock = Date.now();
    const mi = createManagedIdentityClient({ baseUrl: base, now: () => clock });
    answer = {
      status: 200,
      body: {
        access_token: 'token-one',
        expires_on: String(Math.floor(clock / 1000) + 3600),
        expires_in: '3600',
        client_id: 'c',
        token_type: 'Bearer',
      },
    };
    requests.length = 0;
    const clientId = '11111111-2222-3333-4444-555555555555';
    const [a, b] = await Promise.all([
      mi.token('499b84ac-1321-427f-aa17-267ca6975798', clientId),
      mi.token('499b84ac-1321-427f-aa17-267ca6975798', clientId),
    ]);
    assert.equal(a.accessToken, 'token-one');
    assert.equal(b.accessToken, 'token-one');
    assert.equal(requests.length, 1, 'concurrent callers share one request');
    const url = new URL(requests[0]!.url, base);
    assert.equal(url.pathname, '/metadata/identity/oauth2/token');
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      'api-version': '2018-02-01',
      resource: '499b84ac-1321-427f-aa17-267ca6975798',
      client_id: clientId,
    });
    assert.equal(requests[0]!.metadata, 'true');
    assert.equal(requests[0]!.forwarded, undefined);
    await mi.token('499b84ac-1321-427f-aa17-267ca6975798', clientId);
    assert.equal(requests.length, 1, 'reused');
    clock += 56 * 60_000;
    await mi.token('499b84ac-1321-427f-aa17-267ca6975798', clientId);
    assert.equal(requests.length, 2, 'renewed within five minutes of expiry');
    await mi.close();
  });

  it('never builds a URL from input: a client id that is not a GUID is refused before any request', async () => {
    const mi = createManagedIdentityClient({ baseUrl: base });
    requests.length = 0;
    await assert.rejects(
      mi.token('x', '../../other?resource=y'),
      (err) => err instanceof ManagedIdentityError && err.problem === 'identity_not_found',
    );
    assert.equal(requests.length, 0);
    await mi.close();
  });

  it("IMDS's refusals and its absence, in words", async () => {
    const mi = createManagedIdentityClient({ baseUrl: base });
    answer = { status: 400, body: { error: 'invalid_request', error_description: 'Identity not found' } };
    await assert.rejects(
      mi.token('r'),
      (err) =>
        err instanceof ManagedIdentityError &&
        err.problem === 'identity_not_found' &&
        /system-assigned managed identity is not assigned/.test(err.message),
    );
    answer = { status: 500, body: { error: 'server_error' } };
    await assert.rejects(mi.token('r2'), (err) => err instanceof ManagedIdentityError && err.problem === 'imds_refused');
    answer = { status: 200, body: { expires_in: '3600' } };
    await assert.rejects(mi.token('r3'), (err) => err instanceof ManagedIdentityError && err.problem === 'imds_bad_answer');
    await mi.close();
    const closed = createManagedIdentityClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 2000 });
    await assert.rejects(
      closed.token('r'),
      (err) => err instanceof ManagedIdentityError && err.problem === 'imds_unreachable' && /unreachable from the runner/.test(err.message),
    );
    await closed.close();
  });

  it('KEYWAY_IMDS_URL is an origin: no path, query or credentials', () => {
    assert.equal(parseImdsUrl('http://169.254.169.254'), 'http://169.254.169.254');
    assert.equal(parseImdsUrl('http://127.0.0.1:8080/'), 'http://127.0.0.1:8080');
    for (const bad of ['ftp://x', 'http://x/metadata', 'http://u:p@x', 'http://x?a=1', 'not a url'])
      assert.throws(() => parseImdsUrl(bad), bad);
  });
});
