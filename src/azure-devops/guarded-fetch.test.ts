// Server hosts are checked where the runner connects: a name resolving to a loopback or private
// address is refused unless KEYWAY_ALLOW_INSECURE_HOSTS, metadata and link-local addresses always,
// and nothing is sent to a refused address. (The management plane's static checks of what admins
// type are in test/resilience/ssrf.test.ts.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAzureDevOpsClient, probeAzureDevOpsHost } from './client.ts';
import { AzureDevOpsError } from './errors.ts';
import { resolveEndpoints } from './endpoints.ts';
import { pinnedFetch, vetHost } from './guarded-fetch.ts';
import { createManagedIdentityClient } from '../entra/managed-identity.ts';

describe('connections to Azure DevOps Server hosts', () => {
  let server: Server;
  let port: number;
  let requests = 0;

  before(async () => {
    server = createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json', 'x-tfs-processid': '00000000-0000-0000-0000-000000000000' });
      res.end(JSON.stringify({ count: 0, value: [] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const client = (host: string, allowInsecureServerHosts: boolean) =>
    createAzureDevOpsClient({
      target: { kind: 'server', origin: `http://${host}:${port}`, virtualDirectory: '', collection: 'DefaultCollection' },
      endpoints: resolveEndpoints({ allowInsecureServerHosts }),
      credential: { kind: 'pat', token: 'not-a-real-token' },
      maxRetries: 0,
    });

  it('refuses a name that resolves to a loopback address, before anything is sent, and says which address', async () => {
    const before = requests;
    await assert.rejects(client('localhost', false).listProjects({ top: 1 }), (err: unknown) => {
      assert.ok(err instanceof AzureDevOpsError);
      assert.equal(err.kind, 'network');
      assert.match(err.describe(), /localhost resolves to (127\.0\.0\.1|::1): .*loopback or private address/);
      return true;
    });
    assert.equal(requests, before, 'a request reached the refused address');
  });

  it('connects to the same name when KEYWAY_ALLOW_INSECURE_HOSTS permits private addresses', async () => {
    const before = requests;
    const page = await client('localhost', true).listProjects({ top: 1 });
    assert.deepEqual(page.items, []);
    assert.equal(requests, before + 1);
  });

  it('refuses link-local and metadata addresses even when private addresses are allowed', async () => {
    for (const host of ['169.254.169.254', '[fd00:ec2::254]']) {
      await assert.rejects(
        client(host, true).listProjects({ top: 1 }),
        (err: unknown) => err instanceof AzureDevOpsError && /link-local|metadata/.test(err.describe()),
        host,
      );
    }
    const probe = await probeAzureDevOpsHost({
      target: { kind: 'server', origin: 'http://169.254.169.254', virtualDirectory: '', collection: 'x' },
      endpoints: resolveEndpoints({ allowInsecureServerHosts: true }),
      timeoutMs: 2000,
    });
    assert.equal(probe.isAzureDevOps, false);
    assert.match(probe.reason ?? '', /link-local/);
  });

  it('leaves Services hosts (Keyway configuration, not admin input) alone', async () => {
    const services = createAzureDevOpsClient({
      target: { kind: 'services', organization: 'fabrikam' },
      endpoints: resolveEndpoints({ services: `http://localhost:${port}` }),
      credential: { kind: 'pat', token: 'x' },
      maxRetries: 0,
    });
    const before = requests;
    await services.listProjects({ top: 1 });
    assert.equal(requests, before + 1);
  });

  it('a name that rebinds is judged at every connection: the second answer, a metadata address, is refused', async () => {
    const answers = [['127.0.0.1'], ['169.254.169.254']];
    let calls = 0;
    const serverHostLookup = async () => (answers[Math.min(calls++, answers.length - 1)] ?? []).map((address) => ({ address }));
    const rebinding = () =>
      createAzureDevOpsClient({
        target: { kind: 'server', origin: `http://tfs.rebind.test:${port}`, virtualDirectory: '', collection: 'DefaultCollection' },
        endpoints: resolveEndpoints({ allowInsecureServerHosts: true, serverHostLookup }),
        credential: { kind: 'pat', token: 'not-a-real-token' },
        maxRetries: 0,
      });
    const before = requests;
    await rebinding().listProjects({ top: 1 });
    assert.equal(requests, before + 1);
    await assert.rejects(
      rebinding().listProjects({ top: 1 }),
      (err: unknown) =>
        err instanceof AzureDevOpsError && /tfs\.rebind\.test resolves to 169\.254\.169\.254: link-local/.test(err.describe()),
    );
    assert.equal(requests, before + 1, 'nothing reached the rebound address');
  });

  it('vetHost checks every address once; a pinned fetch connects only there and to no other host', async () => {
    const lookup = async (name: string) =>
      name === 'tfs.pinned.test'
        ? [{ address: '127.0.0.1' }]
        : name === 'mixed.test'
          ? [{ address: '127.0.0.1' }, { address: '0.0.0.0' }]
          : [];
    assert.deepEqual(await vetHost('tfs.pinned.test', true, lookup), ['127.0.0.1']);
    await assert.rejects(vetHost('tfs.pinned.test', false, lookup), /loopback or private/);
    await assert.rejects(vetHost('mixed.test', true, lookup), /mixed\.test resolves to 0\.0\.0\.0/);
    await assert.rejects(vetHost('metadata.google.internal', true, lookup), /metadata endpoint/);
    await assert.rejects(vetHost('nowhere.test', true, lookup), /does not resolve/);
    assert.deepEqual(await vetHost('[::1]', true, lookup), ['::1']);

    const pinned = pinnedFetch('tfs.pinned.test', ['127.0.0.1'], true);
    try {
      const before = requests;
      const res = await pinned.fetch(`http://tfs.pinned.test:${port}/DefaultCollection/_apis/projects`, {});
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.equal(requests, before + 1);
      await assert.rejects(pinned.fetch(`http://localhost:${port}/x`, {}), (err: Error) =>
        /not the host this work was checked for/.test(String((err.cause as Error)?.message)),
      );
      assert.equal(requests, before + 1);
    } finally {
      await pinned.close();
    }
    // Pinned to a refused address (a stale pin), it still refuses.
    const stale = pinnedFetch('tfs.pinned.test', ['169.254.169.254'], true);
    await assert.rejects(stale.fetch(`http://tfs.pinned.test:${port}/x`, {}), (err: Error) =>
      /link-local/.test(String((err.cause as Error)?.message)),
    );
    await stale.close();
  });

  it('the managed-identity client reaching its configured metadata service opens nothing for admin-configured hosts: 169.254.169.254 stays refused there', async () => {
    // The IMDS client of this process, pointed (as KEYWAY_IMDS_URL does in tests) at a local stand-in.
    const imds = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: 'mi-token', expires_in: '3600' }));
    });
    await new Promise<void>((r) => imds.listen(0, '127.0.0.1', () => r()));
    const mi = createManagedIdentityClient({ baseUrl: `http://127.0.0.1:${(imds.address() as AddressInfo).port}` });
    try {
      assert.equal((await mi.token('499b84ac-1321-427f-aa17-267ca6975798')).accessToken, 'mi-token');
      // An admin naming the metadata address as a Server host, or a name resolving to it, is refused as before.
      await assert.rejects(
        client('169.254.169.254', true).listProjects({ top: 1 }),
        (err: unknown) => err instanceof AzureDevOpsError && /link-local|metadata/.test(err.describe()),
      );
      await assert.rejects(vetHost('169.254.169.254', true), /link-local|metadata/);
      await assert.rejects(
        vetHost('imds.rebind.test', true, async () => [{ address: '169.254.169.254' }]),
        /resolves to 169\.254\.169\.254/,
      );
      // The client itself only ever takes an origin: a path or query cannot be smuggled into its base URL.
      assert.throws(
        () => createManagedIdentityClient({ baseUrl: 'http://127.0.0.1/metadata/instance?api-version=2021-02-01' }),
        /scheme, host and port only/,
      );
    } finally {
      await mi.close();
      await new Promise<void>((r) => imds.close(() => r()));
    }
  });
});
