import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { clientCredentialsToken, createDiscoveryCache, entraConfiguration, withClientAuth } from './client.ts';
import { describeEntraFailure, EntraDiscoveryError } from './errors.ts';
import { entraMetrics } from './metrics.ts';
import { createManagedIdentityClient } from './managed-identity.ts';
import { probeAuthorizeEndpoint } from './redirect-probe.ts';

/**
 * A stand-in issuer: tenants under /{tenant}/v2.0 answer discovery (counted), `broken` answers 500
 * until fixed, `unknown` answers Entra's invalid_tenant; the token endpoint takes client secret `s3cret`.
 */
async function startIssuer() {
  const discoveries: string[] = [];
  const state = { broken: true };
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const discovery = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
    if (discovery) {
      const tenant = discovery[1]!;
      discoveries.push(tenant);
      if (tenant === 'unknown') {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'invalid_tenant', error_description: "AADSTS90002: Tenant 'unknown' not found." }));
        return;
      }
      if (tenant === 'broken' && state.broken) {
        res.writeHead(500).end('down');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          issuer: `${origin}/${tenant}/v2.0`,
          authorization_endpoint: `${origin}/${tenant}/oauth2/v2.0/authorize`,
          token_endpoint: `${origin}/${tenant}/oauth2/v2.0/token`,
          jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
        }),
      );
      return;
    }
    if (url.pathname.endsWith('/oauth2/v2.0/token')) {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        res.writeHead(form.get('client_secret') === 's3cret' ? 200 : 401, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify(
            form.get('client_secret') === 's3cret'
              ? { access_token: 'at', token_type: 'Bearer', expires_in: 3600 }
              : { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' },
          ),
        );
      });
      return;
    }
    if (url.pathname.endsWith('/oauth2/v2.0/authorize')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(
        url.searchParams.get('redirect_uri') === 'https://keyway.example/cb'
          ? '<html>sign in</html>'
          : '<html>AADSTS50011: redirect</html>',
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, discoveries, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

async function count(operation: string, outcome: string): Promise<number> {
  const metric = await entraMetrics.requests.get();
  return metric.values.find((v) => v.labels.operation === operation && v.labels.outcome === outcome)?.value ?? 0;
}

describe('src/entra: one discovery cache for every caller', () => {
  let issuer: Awaited<ReturnType<typeof startIssuer>>;
  before(async () => {
    issuer = await startIssuer();
  });
  after(() => issuer.close());
  const insecure = { allowInsecure: true };

  it('discovers an issuer once for many calls, concurrent or not; every call gets its own configuration', async () => {
    const cache = createDiscoveryCache();
    const before = issuer.discoveries.length;
    const app = { issuerUrl: `${issuer.origin}/t1/v2.0`, clientId: 'app-1', credential: 's3cret' };
    const configs = await Promise.all([1, 2, 3].map(() => entraConfiguration(app, { ...insecure, cache })));
    configs.push(await entraConfiguration(app, { ...insecure, cache }));
    assert.equal(issuer.discoveries.length - before, 1);
    assert.equal(new Set(configs).size, 4);
    for (const c of configs) assert.equal(c.serverMetadata().issuer, app.issuerUrl);
    assert.equal(cache.size, 1);
  });

  it('another issuer is discovered on its own; another app or credential of one issuer reuses the discovery with its own authentication', async () => {
    const cache = createDiscoveryCache();
    const before = issuer.discoveries.length;
    const a = await entraConfiguration(
      { issuerUrl: `${issuer.origin}/t1/v2.0`, clientId: 'app-1', credential: 's3cret' },
      { ...insecure, cache },
    );
    const b = await entraConfiguration(
      { issuerUrl: `${issuer.origin}/t2/v2.0`, clientId: 'app-1', credential: 's3cret' },
      { ...insecure, cache },
    );
    const c = await entraConfiguration(
      { issuerUrl: `${issuer.origin}/t1/v2.0`, clientId: 'app-2', credential: 'wrong' },
      { ...insecure, cache },
    );
    assert.deepEqual(issuer.discoveries.slice(before), ['t1', 't2']);
    assert.equal(b.serverMetadata().issuer, `${issuer.origin}/t2/v2.0`);
    assert.equal(a.clientMetadata().client_id, 'app-1');
    assert.equal(c.clientMetadata().client_id, 'app-2');
    // Each configuration authenticates with its own credential.
    assert.equal((await clientCredentialsToken(a, { scope: 'x/.default' })).access_token, 'at');
    await assert.rejects(clientCredentialsToken(c, { scope: 'x/.default' }), (err: unknown) => {
      assert.match(describeEntraFailure(err, { issuerUrl: `${issuer.origin}/t1/v2.0` }).message, /AADSTS7000215/);
      return true;
    });
    // A pinned credential (a certificate under test) needs no discovery either.
    const pinned = withClientAuth(c, 'app-2', 's3cret', insecure);
    assert.equal((await clientCredentialsToken(pinned, { scope: 'x/.default' })).access_token, 'at');
    assert.equal(issuer.discoveries.length - before, 2);
  });

  it('insecure requests allowed or not are cached apart: an http issuer is refused without the allowance', async () => {
    const cache = createDiscoveryCache();
    const app = { issuerUrl: `${issuer.origin}/t3/v2.0`, clientId: 'app-1', credential: 's3cret' };
    await entraConfiguration(app, { ...insecure, cache });
    await assert.rejects(entraConfiguration(app, { cache }));
    assert.equal(cache.size, 1);
  });

  it('a failed discovery is not kept: the next call discovers again', async () => {
    const cache = createDiscoveryCache();
    const before = issuer.discoveries.length;
    const app = { issuerUrl: `${issuer.origin}/broken/v2.0`, clientId: 'app-1', credential: 's3cret' };
    const failures = await Promise.allSettled([
      entraConfiguration(app, { ...insecure, cache }),
      entraConfiguration(app, { ...insecure, cache }),
    ]);
    assert.deepEqual(
      failures.map((f) => f.status),
      ['rejected', 'rejected'],
    );
    assert.equal(issuer.discoveries.length - before, 1, 'concurrent callers share one discovery');
    assert.equal(cache.size, 0);
    issuer.state.broken = false;
    const config = await entraConfiguration(app, { ...insecure, cache });
    assert.equal(config.serverMetadata().issuer, app.issuerUrl);
    assert.equal(issuer.discoveries.length - before, 2);
  });

  it('an expired discovery is done again, and the cache holds a bounded number of issuers', async () => {
    let now = 0;
    const cache = createDiscoveryCache({ ttlMs: 1000, maxEntries: 2, now: () => now });
    const before = issuer.discoveries.length;
    const app = (t: string) => ({ issuerUrl: `${issuer.origin}/${t}/v2.0`, clientId: 'app-1', credential: 's3cret' });
    await entraConfiguration(app('t1'), { ...insecure, cache });
    now = 999;
    await entraConfiguration(app('t1'), { ...insecure, cache });
    now = 1000;
    await entraConfiguration(app('t1'), { ...insecure, cache });
    assert.equal(issuer.discoveries.length - before, 2);
    await entraConfiguration(app('t2'), { ...insecure, cache });
    await entraConfiguration(app('t3'), { ...insecure, cache });
    assert.equal(cache.size, 2);
  });

  it("Entra's own answer to discovery is read (AADSTS90002), not 'unexpected HTTP response status code'", async () => {
    const cache = createDiscoveryCache();
    const issuerUrl = `${issuer.origin}/unknown/v2.0`;
    await assert.rejects(
      entraConfiguration({ issuerUrl, clientId: 'app-1', credential: 's3cret' }, { ...insecure, cache }),
      (err: unknown) => {
        assert.ok(err instanceof EntraDiscoveryError);
        assert.equal(err.error, 'invalid_tenant');
        const failure = describeEntraFailure(err, { issuerUrl });
        assert.equal(failure.aadsts, 90002);
        assert.match(failure.message, /no tenant with this ID \(AADSTS90002\)/);
        return true;
      },
    );
  });

  it('counts every call by operation and outcome (keyway_entra_requests_total) and times it', async () => {
    const cache = createDiscoveryCache();
    const issuerUrl = `${issuer.origin}/t4/v2.0`;
    const [discoveries, refusedDiscoveries, grants, refusals, probes, mismatches] = await Promise.all([
      count('discovery', 'success'),
      count('discovery', 'invalid_tenant'),
      count('client_credentials', 'success'),
      count('client_credentials', 'invalid_client'),
      count('redirect_probe', 'success'),
      count('redirect_probe', 'callback_mismatch'),
    ]);
    const good = await entraConfiguration({ issuerUrl, clientId: 'app-1', credential: 's3cret' }, { ...insecure, cache });
    await clientCredentialsToken(good, { scope: 'x/.default' });
    const bad = await entraConfiguration({ issuerUrl, clientId: 'app-1', credential: 'nope' }, { ...insecure, cache });
    await assert.rejects(clientCredentialsToken(bad, { scope: 'x/.default' }));
    await assert.rejects(
      entraConfiguration({ issuerUrl: `${issuer.origin}/unknown/v2.0`, clientId: 'a', credential: 's' }, { ...insecure, cache }),
    );
    const authorize = `${issuer.origin}/t4/oauth2/v2.0/authorize`;
    assert.equal(await probeAuthorizeEndpoint(authorize, { clientId: 'a', redirectUri: 'https://keyway.example/cb' }, insecure), 'ok');
    assert.equal(
      await probeAuthorizeEndpoint(authorize, { clientId: 'a', redirectUri: 'https://elsewhere/cb' }, insecure),
      'callback_mismatch',
    );

    assert.equal((await count('discovery', 'success')) - discoveries, 1);
    assert.equal((await count('discovery', 'invalid_tenant')) - refusedDiscoveries, 1);
    assert.equal((await count('client_credentials', 'success')) - grants, 1);
    assert.equal((await count('client_credentials', 'invalid_client')) - refusals, 1);
    assert.equal((await count('redirect_probe', 'success')) - probes, 1);
    assert.equal((await count('redirect_probe', 'callback_mismatch')) - mismatches, 1);
    const durations = await entraMetrics.duration.get();
    const observed = durations.values.find(
      (v) =>
        v.metricName === 'keyway_entra_request_duration_seconds_count' &&
        v.labels.operation === 'client_credentials' &&
        v.labels.outcome === 'success',
    );
    assert.ok(observed && observed.value >= 1);
  });

  it("counts the machine's managed identity's token requests by IMDS's answer", async () => {
    let status = 400;
    const imds = createServer((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          status === 200
            ? { access_token: 'mi-token', expires_in: '3600' }
            : { error: 'invalid_request', error_description: 'Identity not found' },
        ),
      );
    });
    await new Promise<void>((resolve) => imds.listen(0, '127.0.0.1', resolve));
    const mi = createManagedIdentityClient({ baseUrl: `http://127.0.0.1:${(imds.address() as AddressInfo).port}` });
    try {
      const [notFound, ok] = await Promise.all([count('managed_identity', 'identity_not_found'), count('managed_identity', 'success')]);
      await assert.rejects(mi.token('https://management.azure.com/'));
      status = 200;
      assert.equal((await mi.token('https://management.azure.com/')).accessToken, 'mi-token');
      assert.equal((await count('managed_identity', 'identity_not_found')) - notFound, 1);
      assert.equal((await count('managed_identity', 'success')) - ok, 1);
    } finally {
      await mi.close();
      await new Promise<void>((r) => imds.close(() => r()));
    }
  });
});
