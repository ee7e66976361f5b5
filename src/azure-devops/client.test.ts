import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { createServer, type AddressInfo } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import fc from 'fast-check';
import { createAzureDevOpsClient, pages, probeAzureDevOpsHost, type AzureDevOpsClientOptions } from './client.ts';
import { createRatePacer } from './pacing.ts';
import { buildUrl, collectionUrl, resolveEndpoints, type AzureDevOpsTarget } from './endpoints.ts';
import { AzureDevOpsError } from './errors.ts';
import type { RateLimitInfo } from './retry.ts';

// ---- scripted stub ---------------------------------------------------------------------------------

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}
type Handler = (req: FastifyRequest, reply: FastifyReply) => unknown;

async function startStub() {
  const app = Fastify({ forceCloseConnections: true });
  const seen: Seen[] = [];
  let handlers: Handler[] = [];
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, body ? JSON.parse(body as string) : undefined);
    } catch {
      done(null, body);
    }
  });
  app.route({
    method: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD'],
    url: '/*',
    handler: async (req, reply) => {
      seen.push({ method: req.method, url: req.url, headers: { ...req.headers }, body: req.body });
      const h = handlers[Math.min(seen.length - 1, handlers.length - 1)];
      if (!h) return reply.code(599).send();
      return h(req, reply);
    },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  if (!addr || typeof addr === 'string') throw new Error('no address');
  return {
    origin: `http://127.0.0.1:${addr.port}`,
    seen,
    /** The i-th request gets handlers[i]; the last one repeats. */
    script(...hs: Handler[]) {
      handlers = hs;
      seen.length = 0;
    },
    close: () => app.close(),
  };
}

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, reply) =>
    reply.code(status).headers(headers).type('application/json; charset=utf-8').send(JSON.stringify(body));

const adoError = (status: number, message: string, typeKey: string, headers: Record<string, string> = {}): Handler =>
  json(
    status,
    { $id: '1', innerException: null, message, typeName: `Microsoft.TeamFoundation.${typeKey}, x`, typeKey, errorCode: 0, eventId: 3000 },
    headers,
  );

const list = (value: unknown[], headers: Record<string, string> = {}): Handler => json(200, { count: value.length, value }, headers);

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';

// Generated at run time: test fixtures must not contain secret-looking strings (conventions.md).
const canary = (): string => `canary${randomBytes(16).toString('hex')}`;
const patShaped = (): string => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  return Array.from(randomBytes(52), (b) => alphabet[b % 32]).join('');
};

async function rejects(p: Promise<unknown>): Promise<AzureDevOpsError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof AzureDevOpsError, `expected AzureDevOpsError, got ${inspect(e)}`);
    return e;
  }
  assert.fail('expected the call to fail');
}

function assertNoSecret(err: unknown, ...secrets: string[]): void {
  const e = err as AzureDevOpsError;
  const views = [JSON.stringify(e), e.message, e.stack ?? '', inspect(e, { depth: 10, showHidden: true }), e.describe(), String(e)];
  for (const s of secrets) {
    for (const v of views) assert.ok(!v.includes(s), `secret leaked in: ${v}`);
  }
}

describe('Azure DevOps client', () => {
  let stub: Awaited<ReturnType<typeof startStub>>;
  let sleeps: number[];
  const token = canary();

  before(async () => {
    stub = await startStub();
  });
  after(async () => {
    await stub.close();
  });
  beforeEach(() => {
    sleeps = [];
  });

  const client = (over: Partial<AzureDevOpsClientOptions> = {}) =>
    createAzureDevOpsClient({
      target: { kind: 'services', organization: 'fabrikam' },
      // The stub is on 127.0.0.1: Server targets may use it as KEYWAY_ALLOW_INSECURE_HOSTS permits.
      endpoints: { services: stub.origin, vssps: `${stub.origin}/vssps`, allowInsecureServerHosts: true },
      credential: { kind: 'pat', token },
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      // Each client its own pacer: one test's Retry-After must not slow the next test down.
      pacer: createRatePacer(),
      ...over,
    });

  describe('URLs', () => {
    it('Services with an emulator-style base: every segment percent-encoded, api-version 7.1', async () => {
      stub.script(json(200, { id: 'r1', name: 'Repo #1', project: { id: 'p', name: 'Proj ü' } }));
      const c = client({ target: { kind: 'services', organization: 'My Org' } });
      assert.equal(c.collectionUrl, `${stub.origin}/My%20Org`);
      const repo = await c.getRepository('Proj ü/x', 'Repo #1?');
      assert.equal(repo.name, 'Repo #1');
      assert.equal(stub.seen[0]!.url, '/My%20Org/Proj%20%C3%BC%2Fx/_apis/git/repositories/Repo%20%231%3F?api-version=7.1');
    });

    it('Server: origin, virtual directory and collection', async () => {
      stub.script(list([{ id: 'p1', name: 'Alpha' }]));
      const c = client({ target: { kind: 'server', origin: stub.origin, virtualDirectory: '/tfs/', collection: 'Default Collection' } });
      assert.equal(c.collectionUrl, `${stub.origin}/tfs/Default%20Collection`);
      const page = await c.listProjects({ top: 5, skip: 10 });
      assert.deepEqual(
        page.items.map((p) => p.name),
        ['Alpha'],
      );
      assert.equal(stub.seen[0]!.url, '/tfs/Default%20Collection/_apis/projects?$top=5&$skip=10&api-version=7.1');
      assert.equal(
        collectionUrl({ kind: 'server', origin: 'https://tfs.example.com', virtualDirectory: '', collection: 'Käse' }, resolveEndpoints()),
        'https://tfs.example.com/K%C3%A4se',
      );
    });

    it('defaults: dev.azure.com, app.vssps, vssps.dev.azure.com; patsBase follows an overridden vssps', () => {
      assert.equal(collectionUrl({ kind: 'services', organization: 'fabrikam' }), 'https://dev.azure.com/fabrikam');
      assert.deepEqual(resolveEndpoints(), {
        services: 'https://dev.azure.com',
        vssps: 'https://app.vssps.visualstudio.com',
        patsBase: 'https://vssps.dev.azure.com',
        allowInsecureServerHosts: false,
      });
      assert.equal(resolveEndpoints({ vssps: 'http://127.0.0.1:9/' }).patsBase, 'http://127.0.0.1:9');
      assert.equal(resolveEndpoints({ vssps: 'http://127.0.0.1:9', patsBase: 'http://127.0.0.1:8' }).patsBase, 'http://127.0.0.1:8');
      assert.throws(() => resolveEndpoints({ services: 'ftp://x' }));
      assert.throws(() => resolveEndpoints({ services: 'https://user:pw@dev.azure.com' }));
      assert.throws(() =>
        createAzureDevOpsClient({ target: { kind: 'services', organization: '..' }, credential: { kind: 'pat', token } }),
      );
    });

    it('any name survives as exactly one path segment', () => {
      fc.assert(
        fc.property(
          fc.string({ minLength: 1 }).filter((s) => s !== '.' && s !== '..'),
          (name) => {
            const url = buildUrl('https://dev.azure.com', [name, '_apis', 'projects']);
            const segs = new URL(url).pathname.split('/').slice(1);
            assert.equal(segs.length, 3);
            assert.equal(decodeURIComponent(segs[0]!), name);
            assert.ok(!/[\s+]/.test(segs[0]!), 'spaces are %20, never +');
          },
        ),
      );
    });

    it('operations hit the paths and parameters of the 7.1 specs', async () => {
      stub.script(
        list([]),
        list([]),
        list([]),
        json(200, { commitId: 'abc', treeId: 't' }),
        json(200, { pullRequestId: 7, status: 'active' }),
        list([]),
        list([]),
        json(200, { id: 3, name: 'g', variables: {} }),
        json(200, { id: 'me', displayName: 'Me' }),
        list([{ accountId: 'a', accountName: 'fabrikam' }]),
        (_req, reply) => reply.code(200).type('application/octet-stream').send(Buffer.from('hello\n')),
        list([]),
      );
      const c = client();
      await c.listRepositories();
      await c.listRefs('P', 'R', { filter: 'refs/heads/feature/', top: 2, continuationToken: 'abc' });
      await c.listCommits('P', 'R', { branch: 'refs/heads/main', top: 10, skip: 20 });
      await c.getCommit('P', 'R', 'abc');
      await c.getPullRequest('P', 7);
      await c.listPullRequests('P', 'R', { status: 'all', top: 3, skip: 1 });
      await c.listVariableGroups('P', { groupName: 'kw-*', top: 50 });
      await c.getVariableGroup('P', 3);
      const me = await c.getProfile();
      assert.equal(me.displayName, 'Me');
      const accounts = await c.listAccounts('me-id');
      assert.equal(accounts.items[0]!.accountName, 'fabrikam');
      const item = await c.getItemContent('P', 'R', 'dir/a b.yml', { type: 'branch', value: 'feature/x' });
      assert.equal(item.text, 'hello\n');
      assert.equal(item.path, '/dir/a b.yml');
      await c.listRepositories('P', { includeHidden: true });
      assert.deepEqual(
        stub.seen.map((s) => `${s.method} ${s.url}`),
        [
          'GET /fabrikam/_apis/git/repositories?api-version=7.1',
          'GET /fabrikam/P/_apis/git/repositories/R/refs?filter=heads%2Ffeature%2F&$top=2&continuationToken=abc&api-version=7.1',
          'GET /fabrikam/P/_apis/git/repositories/R/commits?searchCriteria.itemVersion.version=main&searchCriteria.itemVersion.versionType=branch&searchCriteria.$top=10&searchCriteria.$skip=20&api-version=7.1',
          'GET /fabrikam/P/_apis/git/repositories/R/commits/abc?api-version=7.1',
          'GET /fabrikam/P/_apis/git/pullrequests/7?api-version=7.1',
          'GET /fabrikam/P/_apis/git/repositories/R/pullrequests?searchCriteria.status=all&$top=3&$skip=1&api-version=7.1',
          'GET /fabrikam/P/_apis/distributedtask/variablegroups?groupName=kw-*&$top=50&api-version=7.1',
          'GET /fabrikam/P/_apis/distributedtask/variablegroups/3?api-version=7.1',
          'GET /vssps/_apis/profile/profiles/me?api-version=7.1',
          'GET /vssps/_apis/accounts?memberId=me-id&api-version=7.1',
          'GET /fabrikam/P/_apis/git/repositories/R/items?path=%2Fdir%2Fa%20b.yml&$format=octetStream&download=false&versionDescriptor.version=feature%2Fx&versionDescriptor.versionType=branch&api-version=7.1',
          'GET /fabrikam/P/_apis/git/repositories?includeHidden=true&api-version=7.1',
        ],
      );
    });

    it('variable group writes: POST at organization level, PUT, DELETE with projectIds', async () => {
      stub.script(json(200, { id: 9, name: 'kw', variables: {} }), json(200, { id: 9, name: 'kw2', variables: {} }), (_req, reply) =>
        reply.code(204).send(),
      );
      const c = client();
      const body = {
        name: 'kw',
        variables: { A: { value: '1' }, S: { value: 'x', isSecret: true } },
        variableGroupProjectReferences: [{ name: 'kw', projectReference: { id: 'p-id', name: 'P' } }],
      };
      assert.equal((await c.addVariableGroup(body)).id, 9);
      assert.equal((await c.updateVariableGroup(9, { ...body, name: 'kw2' })).name, 'kw2');
      await c.deleteVariableGroup(9, ['p-id', 'q-id']);
      assert.deepEqual(
        stub.seen.map((s) => `${s.method} ${s.url}`),
        [
          'POST /fabrikam/_apis/distributedtask/variablegroups?api-version=7.1',
          'PUT /fabrikam/_apis/distributedtask/variablegroups/9?api-version=7.1',
          'DELETE /fabrikam/_apis/distributedtask/variablegroups/9?projectIds=p-id%2Cq-id&api-version=7.1',
        ],
      );
      assert.deepEqual(stub.seen[0]!.body, { type: 'Vsts', ...body });
      assert.match(String(stub.seen[0]!.headers['content-type']), /^application\/json/);
      await assert.rejects(c.deleteVariableGroup(9, []), TypeError);
    });
  });

  describe('headers', () => {
    it('PAT → Basic with an empty user name; suppress headers; User-Agent', async () => {
      stub.script(list([]));
      await client().listProjects();
      const h = stub.seen[0]!.headers;
      assert.equal(h.authorization, `Basic ${Buffer.from(`:${token}`).toString('base64')}`);
      assert.equal(h['x-tfs-fedauthredirect'], 'Suppress');
      assert.equal(h['x-vss-reauthenticationaction'], 'Suppress');
      assert.match(String(h['user-agent']), /^Keyway\/\d+\.\d+\.\d+/);
      assert.equal(h.accept, 'application/json');
    });

    it('bearer → Authorization: Bearer, whatever the token looks like', async () => {
      // A PAT-shaped value sent as bearer stays bearer: the method travels with the credential.
      const shaped = patShaped();
      stub.script(list([]));
      await client({ credential: { kind: 'bearer', token: shaped } }).listProjects();
      assert.equal(stub.seen[0]!.headers.authorization, `Bearer ${shaped}`);
    });

    it('userAgent override', async () => {
      stub.script(list([]));
      await client({ userAgent: 'Keyway/test' }).listProjects();
      assert.equal(stub.seen[0]!.headers['user-agent'], 'Keyway/test');
    });
  });

  describe('error mapping', () => {
    it('203 with the HTML sign-in page → unauthenticated, never success', async () => {
      stub.script((_req, reply) =>
        reply
          .code(203)
          .type('text/html; charset=utf-8')
          .send('<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head></html>'),
      );
      const err = await rejects(client().listProjects());
      assert.equal(err.kind, 'unauthenticated');
      assert.equal(err.status, 203);
      assert.match(err.describe(), /wrong, expired or revoked/);
      assert.equal(stub.seen.length, 1, 'not retried');
    });

    it('302 with X-TFS-FedAuthRedirect → unauthenticated, redirect not followed', async () => {
      const signIn = `${stub.origin}/_signin?realm=dev.azure.com`;
      stub.script((_req, reply) => reply.code(302).header('Location', signIn).header('X-TFS-FedAuthRedirect', signIn).send());
      const err = await rejects(client().getProject('P'));
      assert.equal(err.kind, 'unauthenticated');
      assert.equal(err.status, 302);
      assert.equal(stub.seen.length, 1);
    });

    it('other redirects are not followed (the credential would travel along)', async () => {
      stub.script((_req, reply) => reply.code(301).header('Location', 'https://elsewhere.example/').send());
      const err = await rejects(client().getProject('P'));
      assert.equal(err.kind, 'unexpected-response');
      assert.equal(stub.seen.length, 1);
    });

    it('401 → unauthenticated with the resource tenant and authorization_uri', async () => {
      stub.script((_req, reply) =>
        reply
          .code(401)
          .header('WWW-Authenticate', [
            `Bearer authorization_uri=https://login.microsoftonline.com/${TENANT}`,
            'Basic realm="https://dev.azure.com/"',
            'TFS-Federated',
          ])
          .header('X-VSS-ResourceTenant', TENANT)
          .type('application/json')
          .send({
            $id: '1',
            innerException: null,
            message: 'TF400813: Resource not available for anonymous access. Client authentication required.',
            typeName: 'x',
            typeKey: 'UnauthorizedRequestException',
            errorCode: 0,
            eventId: 3000,
          }),
      );
      const err = await rejects(client().connectionData());
      assert.equal(err.kind, 'unauthenticated');
      assert.equal(err.status, 401);
      assert.equal(err.resourceTenantId, TENANT);
      assert.equal(err.authorizationUri, `https://login.microsoftonline.com/${TENANT}`);
      assert.equal(err.tfCode, 'TF400813');
      assert.equal(err.typeKey, 'UnauthorizedRequestException');
      assert.equal(stub.seen[0]!.url, '/fabrikam/_apis/connectionData', 'connectionData takes no api-version');
    });

    it('401 without X-VSS-ResourceTenant: tenant from WWW-Authenticate', async () => {
      stub.script((_req, reply) =>
        reply
          .code(401)
          .header('WWW-Authenticate', `Bearer authorization_uri=https://login.microsoftonline.com/${TENANT.toUpperCase()}`)
          .send(),
      );
      const err = await rejects(client().listProjects());
      assert.equal(err.resourceTenantId, TENANT);
    });

    it('404 TF401019 → not-found with the service text', async () => {
      const msg =
        'TF401019: The Git repository with name or identifier nope does not exist or you do not have permissions for the operation you are attempting.';
      stub.script(adoError(404, msg, 'GitRepositoryNotFoundException'));
      const err = await rejects(client().getRepository('P', 'nope'));
      assert.equal(err.kind, 'not-found');
      assert.equal(err.tfCode, 'TF401019');
      assert.equal(err.adoMessage, msg);
      assert.equal(err.typeKey, 'GitRepositoryNotFoundException');
      assert.equal(err.operation, 'getRepository');
      assert.ok(err.describe().includes(msg));
      assert.equal(stub.seen.length, 1, '4xx is not retried');
    });

    for (const [status, kind] of [
      [400, 'bad-request'],
      [403, 'forbidden'],
      [409, 'conflict'],
      [418, 'unexpected-response'],
    ] as const) {
      it(`${status} → ${kind}`, async () => {
        stub.script(adoError(status, 'VS402371: something', 'SomeException'));
        const err = await rejects(client().listProjects());
        assert.equal(err.kind, kind);
        assert.equal(err.status, status);
        assert.equal(err.tfCode, 'VS402371');
      });
    }

    it('200 with HTML, non-JSON and malformed JSON → unexpected-response', async () => {
      stub.script(
        (_req, reply) => reply.code(200).type('text/html').send('<html><body>Corporate proxy</body></html>'),
        (_req, reply) => reply.code(200).type('text/plain').send('ok'),
        (_req, reply) => reply.code(200).type('application/json').send('{"value": ['),
        json(200, { not: 'a list' }),
      );
      for (let i = 0; i < 4; i++) {
        const err = await rejects(client().listProjects());
        assert.equal(err.kind, 'unexpected-response', err.message);
      }
    });

    it('an answer larger than maxResponseBytes → unexpected-response', async () => {
      stub.script(list(Array.from({ length: 200 }, (_, i) => ({ id: String(i), name: 'x'.repeat(50) }))));
      const err = await rejects(client({ maxResponseBytes: 1024 }).listProjects());
      assert.equal(err.kind, 'unexpected-response');
      assert.match(err.message, /larger than 1024 bytes/);
    });

    it('PAT lifecycle: unsupported with a PAT and on Server, before any request', async () => {
      stub.script(json(200, {}));
      const withPat = await rejects(client().listPats());
      assert.equal(withPat.kind, 'unsupported');
      assert.match(withPat.describe(), /Entra ID user access token/);
      const server = client({
        target: { kind: 'server', origin: stub.origin, virtualDirectory: '', collection: 'c' },
        credential: { kind: 'bearer', token },
      });
      assert.equal((await rejects(server.revokePat('x'))).kind, 'unsupported');
      assert.equal((await rejects(server.getProfile())).kind, 'unsupported');
      assert.equal(stub.seen.length, 0);
    });

    it('PAT lifecycle with a bearer token: vssps org URL and 7.1-preview.1; refusal hints at Entra user tokens', async () => {
      stub.script(
        json(200, {
          continuationToken: '',
          patTokens: [{ authorizationId: 'a1', displayName: 'x', scope: 'vso.code', validTo: '2030-01-01T00:00:00Z' }],
        }),
        json(200, {
          patToken: { authorizationId: 'a2', displayName: 'kw', scope: 'vso.code', validTo: '2030-01-01T00:00:00Z', token: 'new-secret' },
          patTokenError: 'none',
        }),
        (_req, reply) => reply.code(204).send(),
        json(200, { patToken: null, patTokenError: 'invalidScope' }),
        adoError(401, 'TF400813: The user is not authorized to access this resource.', 'UnauthorizedRequestException'),
      );
      const c = client({
        credential: { kind: 'bearer', token },
        endpoints: { services: stub.origin, vssps: `${stub.origin}/vssps`, patsBase: `${stub.origin}/pats` },
      });
      const listed = await c.listPats({ top: 10 });
      assert.deepEqual(
        listed.items.map((p) => p.authorizationId),
        ['a1'],
      );
      assert.equal(listed.continuationToken, undefined);
      const created = await c.createPat({ displayName: 'kw', scope: 'vso.code', validTo: '2030-01-01T00:00:00Z', allOrgs: false });
      assert.equal(created.token, 'new-secret');
      await c.revokePat('a2');
      assert.equal(
        (await rejects(c.createPat({ displayName: 'kw', scope: 'bad', validTo: '2030-01-01T00:00:00Z', allOrgs: false }))).adoMessage,
        'invalidScope',
      );
      const refused = await rejects(c.listPats());
      assert.equal(refused.kind, 'unauthenticated');
      assert.match(refused.describe(), /only an Entra ID user token/);
      assert.deepEqual(
        stub.seen.slice(0, 3).map((s) => `${s.method} ${s.url}`),
        [
          'GET /pats/fabrikam/_apis/tokens/pats?$top=10&api-version=7.1-preview.1',
          'POST /pats/fabrikam/_apis/tokens/pats?api-version=7.1-preview.1',
          'DELETE /pats/fabrikam/_apis/tokens/pats?authorizationId=a2&api-version=7.1-preview.1',
        ],
      );
      assert.deepEqual(stub.seen[1]!.body, { displayName: 'kw', scope: 'vso.code', validTo: '2030-01-01T00:00:00Z', allOrgs: false });
    });
  });

  describe('throttling and retries', () => {
    it('429: waits exactly Retry-After, then succeeds', async () => {
      stub.script(
        adoError(
          429,
          'TF400733: The request has been canceled: Request was blocked due to exceeding usage of resource.',
          'RequestBlockedException',
          { 'Retry-After': '7' },
        ),
        list([{ id: '1', name: 'A' }]),
      );
      const c = client();
      const page = await c.listProjects();
      assert.equal(page.items.length, 1);
      assert.deepEqual(sleeps, [7000]);
      assert.deepEqual(c.stats(), { requests: 2, retries: 1 });
    });

    it('429 on a POST is retried too (the service refused it before running it)', async () => {
      stub.script(
        adoError(429, 'TF400733: blocked', 'RequestBlockedException', { 'Retry-After': '2' }),
        json(200, { id: 1, name: 'g', variables: {} }),
      );
      const c = client();
      await c.addVariableGroup({ name: 'g', variables: {}, variableGroupProjectReferences: [] });
      assert.deepEqual(sleeps, [2000]);
      assert.equal(c.stats().requests, 2);
    });

    it('429 without Retry-After: X-RateLimit-Delay', async () => {
      stub.script(
        adoError(429, 'TF400733: blocked', 'RequestBlockedException', { 'X-RateLimit-Delay': '1.5', 'X-RateLimit-Resource': 'Core' }),
        list([]),
      );
      await client().listProjects();
      assert.deepEqual(sleeps, [1500]);
    });

    it('429 asking for longer than maxRetryDelayMs fails at once with retryAfterSeconds', async () => {
      stub.script(adoError(429, 'TF400733: blocked', 'RequestBlockedException', { 'Retry-After': '3600' }), list([]));
      const c = client({ maxRetryDelayMs: 10_000 });
      const err = await rejects(c.listProjects());
      assert.equal(err.kind, 'throttled');
      assert.equal(err.retryAfterSeconds, 3600);
      assert.equal(err.tfCode, 'TF400733');
      assert.match(err.describe(), /retry in 3600 s/);
      assert.deepEqual(sleeps, []);
      assert.deepEqual(c.stats(), { requests: 1, retries: 0 });
    });

    it('429 every time: throttled after maxThrottledRetries (counted apart from 5xx retries)', async () => {
      stub.script(adoError(429, 'TF400733: blocked', 'RequestBlockedException', { 'Retry-After': '1' }));
      const c = client({ maxRetries: 0, maxThrottledRetries: 2 });
      const err = await rejects(c.listProjects());
      assert.equal(err.kind, 'throttled');
      assert.equal(err.attempts, 3);
      assert.deepEqual(sleeps, [1000, 1000]);
    });

    it('429s do not use up the 5xx retries: a burst that meets the block several times still gets through', async () => {
      const blocked = () => adoError(429, 'TF400733: blocked', 'RequestBlockedException', { 'Retry-After': '1' });
      stub.script(blocked(), blocked(), blocked(), blocked(), adoError(503, 'TF400898', 'X'), list([]));
      const c = client({ maxRetries: 1 });
      await c.listProjects();
      assert.deepEqual(c.stats().requests, 6, 'four blocked answers and one 5xx, then the answer');
    });

    it('5xx: retried with exponential backoff and full jitter, then success', async () => {
      stub.script(
        adoError(503, 'TF400898: An Internal Error Occurred.', 'InternalServerErrorException'),
        adoError(500, 'TF400898', 'X'),
        list([]),
      );
      const c = client({ baseRetryDelayMs: 1000 });
      await c.listProjects();
      // random() = 0.5: half of 1000·2^0, then half of 1000·2^1.
      assert.deepEqual(sleeps, [500, 1000]);
      assert.deepEqual(c.stats(), { requests: 3, retries: 2 });
    });

    it('backoff never exceeds maxRetryDelayMs', async () => {
      stub.script(adoError(503, 'x', 'X'));
      const c = client({ baseRetryDelayMs: 1000, maxRetryDelayMs: 1500, maxRetries: 4, random: () => 0.999 });
      await rejects(c.listProjects());
      assert.equal(sleeps.length, 4);
      for (const s of sleeps) assert.ok(s <= 1500, `slept ${s}`);
    });

    it('5xx beyond maxRetries fails with server', async () => {
      stub.script(adoError(502, 'bad gateway', 'X'));
      const c = client({ maxRetries: 2 });
      const err = await rejects(c.getProject('P'));
      assert.equal(err.kind, 'server');
      assert.equal(err.status, 502);
      assert.equal(err.attempts, 3);
      assert.deepEqual(c.stats(), { requests: 3, retries: 2 });
    });

    it('POST is not retried after a 5xx; PUT is', async () => {
      const body = { name: 'g', variables: {}, variableGroupProjectReferences: [] };
      stub.script(adoError(503, 'x', 'X'), json(200, { id: 1, name: 'g', variables: {} }));
      const c = client();
      assert.equal((await rejects(c.addVariableGroup(body))).kind, 'server');
      assert.deepEqual(c.stats(), { requests: 1, retries: 0 });

      stub.script(adoError(503, 'x', 'X'), json(200, { id: 1, name: 'g', variables: {} }));
      const c2 = client();
      await c2.updateVariableGroup(1, body);
      assert.deepEqual(c2.stats(), { requests: 2, retries: 1 });
    });

    it('connection reset → network (retried for GET)', async () => {
      stub.script((req, reply) => {
        reply.hijack();
        req.raw.socket.destroy();
      });
      const c = client({ maxRetries: 1 });
      const err = await rejects(c.listProjects());
      assert.equal(err.kind, 'network');
      assert.ok(err.networkCode && err.networkCode !== 'timeout', err.networkCode);
      assert.deepEqual(c.stats(), { requests: 2, retries: 1 });
      assert.match(err.describe(), /Could not reach 127\.0\.0\.1/);
    });

    it('connection refused → network', async () => {
      const c = client({ endpoints: { services: `http://127.0.0.1:${await closedPort()}` }, maxRetries: 0 });
      const err = await rejects(c.listProjects());
      assert.equal(err.kind, 'network');
      assert.equal(err.networkCode, 'ECONNREFUSED');
    });

    it('timeout → network with networkCode timeout', async () => {
      stub.script(() => new Promise(() => undefined));
      const c = client({ timeoutMs: 150, maxRetries: 0 });
      const err = await rejects(c.listProjects());
      assert.equal(err.kind, 'network');
      assert.equal(err.networkCode, 'timeout');
      assert.match(err.describe(), /did not answer in time/);
    });

    it('a body that stalls after the headers also times out', async () => {
      stub.script((_req, reply) => {
        reply.hijack();
        reply.raw.writeHead(200, { 'content-type': 'application/json' });
        reply.raw.write('{"count": 1, "value": [');
      });
      const c = client({ timeoutMs: 150, maxRetries: 1 });
      const err = await rejects(c.listProjects());
      assert.equal(err.kind, 'network');
      assert.equal(err.networkCode, 'timeout');
      assert.deepEqual(c.stats(), { requests: 2, retries: 1 });
    });

    it('a caller AbortSignal cancels the wait between retries', async () => {
      stub.script(adoError(503, 'x', 'X'));
      const ac = new AbortController();
      const c = client({
        sleep: (ms, signal) =>
          new Promise((_resolve, reject) => {
            sleeps.push(ms);
            signal?.addEventListener('abort', () => reject(signal.reason));
            ac.abort();
          }),
      });
      const err = await rejects(c.listProjects({ signal: ac.signal }));
      assert.equal(err.kind, 'aborted');
      assert.deepEqual(c.stats(), { requests: 1, retries: 0 });
    });

    it('an already aborted signal sends nothing', async () => {
      stub.script(list([]));
      const c = client();
      const err = await rejects(c.listProjects({ signal: AbortSignal.abort() }));
      assert.equal(err.kind, 'aborted');
      assert.equal(c.stats().requests, 0);
    });

    it('X-RateLimit-* values are reported, also on a 200', async () => {
      stub.script(
        list([], {
          'X-RateLimit-Resource': 'Core',
          'X-RateLimit-Delay': '0.5',
          'X-RateLimit-Limit': '200',
          'X-RateLimit-Remaining': '42',
          'X-RateLimit-Reset': '1700000000',
        }),
      );
      const seen: RateLimitInfo[] = [];
      const c = client({ onRateLimit: (i) => seen.push(i) });
      await c.listProjects();
      const expected = { resource: 'Core', delaySeconds: 0.5, limit: 200, remaining: 42, resetEpochSeconds: 1700000000 };
      assert.deepEqual(seen, [expected]);
      assert.deepEqual(c.lastRateLimit(), expected);
    });

    it('a throwing onRateLimit does not fail the call', async () => {
      stub.script(list([], { 'X-RateLimit-Remaining': '1' }));
      const c = client({
        onRateLimit: () => {
          throw new Error('observer bug');
        },
      });
      await c.listProjects();
    });
  });

  describe('paging and conditional GET', () => {
    it('continuation tokens, followed by a caller', async () => {
      stub.script(
        list([{ name: 'refs/heads/a', objectId: '1' }], { 'x-ms-continuationtoken': 'tok 1' }),
        list([{ name: 'refs/heads/b', objectId: '2' }], { 'x-ms-continuationtoken': 'tok2' }),
        list([{ name: 'refs/heads/c', objectId: '3' }]),
      );
      const c = client();
      const names: string[] = [];
      for await (const ref of pages((continuationToken) =>
        c.listRefs('P', 'R', { filter: 'heads/', top: 1, ...(continuationToken ? { continuationToken } : {}) }),
      )) {
        names.push(ref.name);
      }
      assert.deepEqual(names, ['refs/heads/a', 'refs/heads/b', 'refs/heads/c']);
      assert.deepEqual(
        stub.seen.map((s) => new URL(s.url, 'http://x').searchParams.get('continuationToken')),
        [null, 'tok 1', 'tok2'],
      );
      assert.match(stub.seen[1]!.url, /continuationToken=tok%201/);
    });

    it('a repeated continuation token stops the loop', async () => {
      stub.script(list([{ id: '1', name: 'a' }], { 'x-ms-continuationtoken': 'same' }));
      const c = client();
      await assert.rejects(async () => {
        for await (const _ of pages((t) => c.listProjects(t ? { continuationToken: t } : {}))) void _;
      }, /repeated a continuation token/);
    });

    it('ifNoneMatch: 304 → notModified; otherwise the value with its ETag', async () => {
      stub.script(json(200, { id: 'r', name: 'R', project: { id: 'p', name: 'P' } }, { ETag: '"v1"' }), (req, reply) =>
        req.headers['if-none-match'] === '"v1"' ? reply.code(304).header('ETag', '"v1"').send() : reply.code(500).send(),
      );
      const c = client();
      const first = await c.ifNoneMatch(null).getRepository('P', 'R');
      assert.equal(first.notModified, false);
      assert.ok(!first.notModified && first.value.name === 'R' && first.etag === '"v1"');
      assert.equal(stub.seen[0]!.headers['if-none-match'], undefined);
      const second = await c.ifNoneMatch('"v1"').getRepository('P', 'R');
      assert.deepEqual(second, { notModified: true, etag: '"v1"' });
    });

    it('a 304 nobody asked for is unexpected', async () => {
      stub.script((_req, reply) => reply.code(304).send());
      assert.equal((await rejects(client().getProject('P'))).kind, 'unexpected-response');
    });
  });

  describe('the credential never leaks', () => {
    // The stub echoes the credential everywhere it can: error messages, HTML, headers.
    const echo =
      (status: number): Handler =>
      (req, reply) => {
        const auth = String(req.headers.authorization ?? '');
        const raw = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString().slice(1) : auth.slice(7);
        return reply
          .code(status)
          .header('X-Echo', auth)
          .header('Retry-After', '99999')
          .type('application/json')
          .send({
            $id: '1',
            innerException: null,
            message: `TF400813: token ${raw} (${auth}) is bad`,
            typeName: 'x',
            typeKey: 'UnauthorizedRequestException',
            errorCode: 0,
            eventId: 3000,
          });
      };

    for (const [name, credential] of [
      ['PAT canary', () => ({ kind: 'pat' as const, token: canary() })],
      ['PAT-shaped canary', () => ({ kind: 'pat' as const, token: patShaped() })],
      ['bearer canary', () => ({ kind: 'bearer' as const, token: canary() })],
    ] as const) {
      it(`${name}: not in JSON.stringify, message, stack, util.inspect or describe()`, async () => {
        const cred = credential();
        const basic = Buffer.from(`:${cred.token}`).toString('base64');
        const c = client({ credential: cred, maxRetries: 0, timeoutMs: 200, maxRetryDelayMs: 10 });
        const errors: unknown[] = [];
        for (const status of [400, 401, 403, 404, 409, 429, 500]) {
          stub.script(echo(status));
          errors.push(await rejects(c.listProjects()));
        }
        stub.script((_req, reply) => reply.code(203).type('text/html').send(`<html>${cred.token}</html>`));
        errors.push(await rejects(c.getRepository('P', 'R')));
        stub.script((req, reply) =>
          reply
            .code(200)
            .type('text/html')
            .send(`<html>${String(req.headers.authorization)}</html>`),
        );
        errors.push(await rejects(c.getRepository('P', 'R')));
        stub.script((req, reply) => {
          reply.hijack();
          req.raw.socket.destroy();
        });
        errors.push(await rejects(c.getRepository('P', 'R')));
        stub.script(() => new Promise(() => undefined));
        errors.push(await rejects(c.getRepository('P', 'R')));
        errors.push(await rejects(c.createPat({ displayName: 'x', scope: 'vso.code', validTo: '2030-01-01T00:00:00Z', allOrgs: false })));
        for (const err of errors) assertNoSecret(err, cred.token, basic);
        assert.ok(!inspect(c, { depth: 10, showHidden: true }).includes(cred.token), 'not on the client object');
        assert.ok(!JSON.stringify(c).includes(cred.token));
        // The echo did reach the message (redacted), so the test would catch a leak.
        const first = errors[1] as AzureDevOpsError;
        assert.match(first.adoMessage ?? '', /\[redacted\]/);
      });
    }
  });

  describe('probeHost', () => {
    const probe = (t?: AzureDevOpsTarget) =>
      probeAzureDevOpsHost({
        target: t ?? { kind: 'services', organization: 'fabrikam' },
        endpoints: { services: stub.origin, allowInsecureServerHosts: true },
        timeoutMs: 2000,
      });

    it('a plain web server is not Azure DevOps', async () => {
      stub.script((_req, reply) => reply.code(200).type('text/html').send('<html>hello</html>'));
      const r = await probe();
      assert.equal(r.isAzureDevOps, false);
      assert.equal(r.status, 200);
      stub.script((_req, reply) => reply.code(404).type('text/plain').send('not found'));
      assert.equal((await probe()).isAzureDevOps, false);
      stub.script((_req, reply) => reply.code(401).header('WWW-Authenticate', 'Basic realm="intranet"').send());
      assert.equal((await probe()).isAzureDevOps, false);
    });

    it('an ADO-like 401 with X-TFS headers is Azure DevOps; the tenant is captured; no credential sent', async () => {
      stub.script((_req, reply) =>
        reply
          .code(401)
          .header('X-TFS-ProcessId', '6b4ac5fe-0000-0000-0000-000000000000')
          .header('X-VSS-ResourceTenant', TENANT)
          .header('WWW-Authenticate', [`Bearer authorization_uri=https://login.microsoftonline.com/${TENANT}`, 'TFS-Federated'])
          .send(),
      );
      const r = await client().probeHost();
      assert.equal(r.isAzureDevOps, true);
      assert.equal(r.resourceTenantId, TENANT);
      assert.equal(stub.seen[0]!.headers.authorization, undefined);
      assert.equal(stub.seen[0]!.url, '/fabrikam/_apis/connectionData');
    });

    it("a 401 with only Basic but the service's error body is Azure DevOps (Azure DevOps Server)", async () => {
      stub.script(
        adoError(
          401,
          'TF400813: Resource not available for anonymous access. Client authentication required.',
          'UnauthorizedRequestException',
          { 'WWW-Authenticate': 'Basic realm="x"' },
        ),
      );
      const r = await probe();
      assert.equal(r.isAzureDevOps, true);
      assert.match(r.reason, /TF400813/);
      // A JSON 401 from some other API is not enough.
      stub.script(json(401, { error: 'unauthorized', message: 'TF400813: lookalike' }));
      assert.equal((await probe()).isAzureDevOps, false);
    });

    it('connectionData JSON gives the deployment type', async () => {
      stub.script(json(200, { authenticatedUser: { id: 'anon' }, instanceId: 'i', deploymentType: 'onPremises' }));
      const r = await probe({ kind: 'server', origin: stub.origin, virtualDirectory: '/tfs', collection: 'DefaultCollection' });
      assert.deepEqual({ is: r.isAzureDevOps, t: r.deploymentType }, { is: true, t: 'onPremises' });
      assert.equal(stub.seen[0]!.url, '/tfs/DefaultCollection/_apis/connectionData');
    });

    it('an unreachable host answers false with a reason', async () => {
      const r = await probeAzureDevOpsHost({
        target: { kind: 'services', organization: 'x' },
        endpoints: { services: `http://127.0.0.1:${await closedPort()}` },
      });
      assert.equal(r.isAzureDevOps, false);
      assert.match(r.reason, /ECONNREFUSED/);
    });
  });
});
