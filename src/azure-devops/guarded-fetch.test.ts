// Server hosts are checked where the runner connects: a name resolving to a loopback or private
// address is refused unless KEYWAY_ALLOW_INSECURE_HOSTS, metadata and link-local addresses always,
// and nothing is sent to a refused address. (The management plane's static checks of what admins
// type are in src/management/scm-integrations/host-policy.test.ts.)
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAzureDevOpsClient, probeAzureDevOpsHost } from './client.ts';
import { AzureDevOpsError } from './errors.ts';
import { resolveEndpoints } from './endpoints.ts';

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
      await assert.rejects(client(host, true).listProjects({ top: 1 }), (err: unknown) => err instanceof AzureDevOpsError && /link-local|metadata/.test(err.describe()), host);
    }
    const probe = await probeAzureDevOpsHost({ target: { kind: 'server', origin: 'http://169.254.169.254', virtualDirectory: '', collection: 'x' }, endpoints: resolveEndpoints({ allowInsecureServerHosts: true }), timeoutMs: 2000 });
    assert.equal(probe.isAzureDevOps, false);
    assert.match(probe.reason ?? '', /link-local/);
  });

  it('leaves Services hosts (Keyway configuration, not admin input) alone', async () => {
    const services = createAzureDevOpsClient({ target: { kind: 'services', organization: 'fabrikam' }, endpoints: resolveEndpoints({ services: `http://localhost:${port}` }), credential: { kind: 'pat', token: 'x' }, maxRetries: 0 });
    const before = requests;
    await services.listProjects({ top: 1 });
    assert.equal(requests, before + 1);
  });
});
