// The /_emulator control API: guarded by the control token, mirrors the handle's seed, fault and
// counter methods, answers errors in Keyway's {"error":{code,message,field?}} shape.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, call } from './test-support.ts';
import { startEmulator, type EmulatorHandle } from './server.ts';

let emu: EmulatorHandle;
let ctl: (path: string, body?: unknown, method?: string) => ReturnType<typeof call>;

before(async () => {
  emu = await startEmulator();
  ctl = (path, body, method) =>
    call(`${emu.urls.services}/_emulator${path}`, {
      method: method ?? (body === undefined ? 'GET' : 'POST'),
      auth: `Bearer ${emu.controlToken}`,
      ...(body !== undefined ? { body } : {}),
    });
});
after(async () => {
  await emu?.close();
});

describe('control API', () => {
  test('refuses callers without the control token', async () => {
    const r = await call(`${emu.urls.services}/_emulator/info`);
    assert.equal(r.status, 401);
    assert.equal(r.json.error.code, 'unauthorized');
    assert.equal((await call(`${emu.urls.services}/_emulator/info`, { auth: 'Bearer wrong' })).status, 401);
  });

  test('seeds a world that the REST API and git then serve', async () => {
    assert.equal((await ctl('/organizations', { name: 'acme' })).status, 200);
    assert.equal((await ctl('/organizations/acme/projects', { name: 'Shop' })).status, 200);
    const user = await ctl('/users', { upn: 'erin@acme.example', displayName: 'Erin', orgs: ['acme'] });
    assert.equal(user.status, 200);
    assert.equal(user.json.password, undefined);
    const repo = await ctl('/organizations/acme/projects/Shop/repositories', { name: 'shop', commits: 3, branches: ['dev'] });
    assert.equal(repo.status, 200, repo.text);
    const commit = await ctl('/organizations/acme/projects/Shop/repositories/shop/commits', {
      branch: 'dev',
      files: { 'app.txt': 'v2\n' },
    });
    assert.match(commit.json.commitId, /^[0-9a-f]{40}$/);
    const pr = await ctl('/organizations/acme/projects/Shop/repositories/shop/pullrequests', { sourceRefName: 'dev', title: 'Dev' });
    assert.equal(pr.json.mergeStatus, 'succeeded');
    const pat = await ctl(`/users/${user.json.id}/pats`, { scopes: ['vso.code', 'vso.project'], orgs: ['acme'] });
    assert.match(pat.json.token, /^.{76}AZDO.{4}$/);
    const projects = await call(`${emu.urls.services}/acme/_apis/projects?api-version=7.1`, { auth: basic(pat.json.token) });
    assert.equal(projects.json.value[0].name, 'Shop');
    const prs = await call(`${emu.urls.services}/acme/Shop/_apis/git/pullrequests/${pr.json.pullRequestId}?api-version=7.1`, {
      auth: basic(pat.json.token),
    });
    assert.equal(prs.json.title, 'Dev');

    const vg = await ctl('/organizations/acme/projects/Shop/variablegroups', {
      name: 'cfg',
      variables: { a: { value: '1' }, s: { value: 'canary-vg-secret', isSecret: true } },
    });
    assert.equal(vg.status, 200, vg.text);
    const groups = await call(`${emu.urls.services}/acme/Shop/_apis/distributedtask/variablegroups?api-version=7.1`, {
      auth: basic((await ctl(`/users/${user.json.id}/pats`, { scopes: ['vso.variablegroups_read'], orgs: ['acme'] })).json.token),
    });
    assert.equal(groups.json.value[0].variables.a.value, '1');
    assert.ok(!groups.text.includes('canary-vg-secret'));

    assert.equal((await ctl(`/pats/${pat.json.authorizationId}/revoke`, {})).status, 200);
    const revoked = await call(`${emu.urls.services}/acme/_apis/projects?api-version=7.1`, { auth: basic(pat.json.token) });
    assert.equal(revoked.status, 203);
  });

  test('app registrations, test tokens, OAuth policy and service principals', async () => {
    const app = await ctl(`/tenants/${emu.defaultTenant.id}/apps`, { displayName: 'Keyway', redirectUris: ['http://localhost:9/cb'] });
    assert.equal(app.status, 200);
    assert.equal(app.json.issuer, `${emu.urls.login}/${emu.defaultTenant.id}/v2.0`);
    assert.ok(app.json.clientSecret.length >= 30);
    const sp = await ctl('/tokens', { clientId: app.json.clientId });
    assert.equal(sp.status, 200);
    const url = `${emu.urls.services}/acme/_apis/projects?api-version=7.1`;
    assert.equal(
      (await call(url, { auth: `Bearer ${sp.json.accessToken}`, headers: { 'X-TFS-FedAuthRedirect': 'Suppress' } })).status,
      401,
    );
    assert.equal((await ctl('/organizations/acme/service-principals', { clientId: app.json.clientId })).status, 200);
    assert.equal((await call(url, { auth: `Bearer ${sp.json.accessToken}` })).status, 200);
    assert.equal((await ctl('/organizations/acme/oauth-policy', { allowed: false }, 'PUT')).status, 200);
    assert.equal(
      (await call(url, { auth: `Bearer ${sp.json.accessToken}`, headers: { 'X-TFS-FedAuthRedirect': 'Suppress' } })).status,
      200,
      'the OAuth policy concerns user tokens of third-party apps',
    );
  });

  test('faults and counters over HTTP', async () => {
    await ctl('/counters/reset', {});
    const rule = await ctl('/faults', { path: '/acme/**', action: 'throttle', times: 1, retryAfterSeconds: 2 });
    assert.match(rule.json.id, /^fault-/);
    const listed = await ctl('/faults');
    assert.equal(listed.json.rules.length, 1);
    const user = await ctl('/users', { upn: 'frank@acme.example', orgs: ['acme'] });
    const pat = await ctl(`/users/${user.json.id}/pats`, { scopes: ['vso.project'], orgs: ['acme'] });
    const url = `${emu.urls.services}/acme/_apis/projects?api-version=7.1`;
    assert.equal((await call(url, { auth: basic(pat.json.token) })).status, 429);
    assert.equal((await call(url, { auth: basic(pat.json.token) })).status, 200);
    const counters = await ctl('/counters');
    assert.equal(counters.json.restCalls['GET /{org}/_apis/projects'], 2);
    assert.equal((await ctl('/faults', undefined, 'DELETE')).status, 200);
    assert.equal((await ctl('/faults')).json.rules.length, 0);
    assert.equal((await ctl('/faults/entra', { expireAccessTokensNow: true })).status, 200);
  });

  test('errors name the field to fix', async () => {
    const r = await ctl('/organizations', {});
    assert.equal(r.status, 400);
    assert.deepEqual(r.json, { error: { code: 'missing_field', message: "'name' is required", field: 'name' } });
    const dup = await ctl('/organizations', { name: 'acme' });
    assert.equal(dup.status, 400);
    assert.match(dup.json.error.message, /already exists/);
    assert.equal((await ctl('/nothing')).status, 404);
  });
});
