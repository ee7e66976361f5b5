// Throttling and faults: 429 with Retry-After N times then success, rate-limit headers on a 200,
// latency, 5xx, connection reset seen as a socket error, counters per path template, PAT faults.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, call, useSeeded } from './test-support.ts';
import { pathMatches } from './faults.ts';

let projects: string;

const s = useSeeded(async () => {
  projects = `${s.orgUrl}/_apis/projects?api-version=7.1`;
});

describe('fault rules', () => {
  test('glob patterns: * within a segment, ** across segments', () => {
    assert.ok(pathMatches('/contoso/_apis/projects', '/contoso/_apis/projects'));
    assert.ok(pathMatches('/*/_apis/projects', '/contoso/_apis/projects'));
    assert.ok(!pathMatches('/*/projects', '/contoso/_apis/projects'));
    assert.ok(pathMatches('/contoso/**', '/contoso/Web/_apis/git/repositories'));
    assert.ok(pathMatches(/repositories$/, '/contoso/Web/_apis/git/repositories'));
  });

  test('429 with Retry-After and TF400733 twice, then success; counters count every attempt', async () => {
    s.emu.resetCounters();
    const id = s.emu.faults.add({
      listener: 'services',
      method: 'GET',
      path: `/${s.org}/_apis/projects`,
      action: 'throttle',
      retryAfterSeconds: 3,
      times: 2,
    });
    for (let i = 0; i < 2; i++) {
      const r = await call(projects, { auth: basic(s.pat) });
      assert.equal(r.status, 429);
      assert.equal(r.headers.get('retry-after'), '3');
      assert.equal(r.headers.get('x-ratelimit-resource'), 'Core');
      assert.equal(r.headers.get('x-ratelimit-remaining'), '0');
      assert.match(r.json.message, /^TF400733/);
    }
    const ok = await call(projects, { auth: basic(s.pat) });
    assert.equal(ok.status, 200);
    assert.ok(ok.headers.get('x-ratelimit-limit'), 'rate-limit headers stay on while the throttling rule exists');
    assert.equal(s.emu.counters().restCalls['GET /{org}/_apis/projects'], 3);
    s.emu.faults.remove(id);
    const after = await call(projects, { auth: basic(s.pat) });
    assert.equal(after.headers.get('x-ratelimit-limit'), null);
  });

  test('rate-limit headers can arrive on a 200 before any throttling', async () => {
    s.emu.faults.add({ path: '/**', rateLimitHeaders: true, latencyMs: 20 });
    const r = await call(projects, { auth: basic(s.pat) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-ratelimit-delay'), '0.020');
    assert.ok(Number(r.headers.get('x-ratelimit-reset')) > Date.now() / 1000);
    s.emu.faults.clear();
  });

  test('latency delays the answer: a request sent after the delayed one is answered first', async () => {
    // Once: the first request takes the latency, the second (same path) none.
    const id = s.emu.faults.add({ path: `/${s.org}/_apis/projects`, latencyMs: 2000, times: 1 });
    const answered: string[] = [];
    const delayed = call(projects, { auth: basic(s.pat) }).then((r) => (answered.push('delayed'), r));
    for (let i = 0; i < 200 && s.emu.faults.list().find((r) => r.id === id)?.fired !== 1; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.emu.faults.list().find((r) => r.id === id)?.fired, 1, 'the first request took the latency');
    const prompt = await call(projects, { auth: basic(s.pat) });
    answered.push('prompt');
    assert.equal(prompt.status, 200);
    assert.equal((await delayed).status, 200, 'then the real answer');
    assert.deepEqual(answered, ['prompt', 'delayed']);
    s.emu.faults.clear();
  });

  test('5xx once, then the real answer; probability 0 never fires', async () => {
    s.emu.faults.add({ path: `/${s.org}/**`, action: 'status', status: 503, times: 1 });
    s.emu.faults.add({ path: '/**', action: 'status', status: 500, probability: 0 });
    const first = await call(projects, { auth: basic(s.pat) });
    assert.equal(first.status, 503);
    assert.equal(first.json.$id, '1');
    assert.equal((await call(projects, { auth: basic(s.pat) })).status, 200);
    s.emu.faults.clear();
  });

  test('connection reset is a socket error for the client', async () => {
    s.emu.faults.add({ path: `/${s.org}/_apis/projects`, action: 'reset', times: 1 });
    await assert.rejects(fetch(projects, { headers: { authorization: basic(s.pat) } }), (e: Error & { cause?: { code?: string } }) => {
      assert.match(String(e.cause?.code ?? e.message), /ECONNRESET|UND_ERR_SOCKET|other side closed|fetch failed/);
      return true;
    });
    assert.equal((await call(projects, { auth: basic(s.pat) })).status, 200);
  });

  test('faults on the login listener answer in the Entra error shape', async () => {
    s.emu.faults.add({ listener: 'login', path: '/*/oauth2/v2.0/token', action: 'status', status: 503, times: 1 });
    const r = await call(`${s.emu.urls.login}/${s.emu.defaultTenant.id}/oauth2/v2.0/token`, { method: 'POST', body: {} });
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'temporarily_unavailable');
    s.emu.faults.clear();
  });

  test('git requests are counted and can be faulted too', async () => {
    s.emu.resetCounters();
    s.emu.faults.add({ path: '/**/_git/**', action: 'status', status: 500, times: 1 });
    const url = `${s.emu.gitUrl(s.org, s.project, s.repo)}/info/refs?service=git-upload-pack`;
    assert.equal((await call(url, { auth: basic(s.pat) })).status, 500);
    assert.equal((await call(url, { auth: basic(s.pat) })).status, 200);
    assert.equal(s.emu.counters().gitRequests, 2);
    s.emu.faults.clear();
  });
});
