// The consumption limit: notice headers, then delays (on successful answers), then 429 TF400733
// with Retry-After; per identity and organization; switchable; counters over the control API.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { basic, call, startSeeded, type SeededWorld } from './test-support.ts';
import { Throttle, costRoute, mergeThrottleConfig, DEFAULT_THROTTLE_CONFIG } from './throttling.ts';
import { throttlingFromOptions } from './server.ts';

describe('throttling model (pure, fake clock)', () => {
  const setup = () => {
    let now = 1_000_000;
    const t = new Throttle(
      { enabled: true, limit: 1, windowMs: 10_000, noticeFraction: 0.5, blockFactor: 2, maxDelayMs: 1000, defaultCost: { base: 0.25 } },
      () => now,
    );
    return { t, advance: (ms: number) => (now += ms), now: () => now };
  };

  test('quiet, then notice headers, then delays with Retry-After, then a block', () => {
    const { t } = setup();
    const phases: string[] = [];
    for (let i = 0; i < 12; i++) {
      const a = t.admit('alice', 'contoso');
      if (a.action === 'block') {
        phases.push('block');
        assert.match(a.message, /^TF400733: /);
        assert.ok(a.retryAfterSeconds >= 1);
        assert.equal(a.headers['Retry-After'], String(a.retryAfterSeconds));
        continue;
      }
      phases.push(a.action === 'delay' ? 'delay' : a.headers['X-RateLimit-Limit'] ? 'notice' : 'quiet');
      if (a.action === 'delay') {
        assert.equal(a.headers['X-RateLimit-Remaining'], '0');
        assert.ok(Number(a.headers['X-RateLimit-Delay']) > 0);
        assert.ok(Number(a.headers['Retry-After']) >= 1, 'Retry-After on a delayed, successful answer');
      }
      t.charge('alice', 'contoso', 'GET _apis/projects', 0);
    }
    assert.deepEqual(phases.slice(0, 2), ['quiet', 'quiet']);
    assert.ok(phases.includes('notice') && phases.includes('delay') && phases.at(-1) === 'block', phases.join(','));
    assert.ok(phases.indexOf('notice') < phases.indexOf('delay') && phases.indexOf('delay') < phases.indexOf('block'));
  });

  test('the window slides: usage ages out and requests flow again', () => {
    const { t, advance } = setup();
    for (let i = 0; i < 10; i++) t.charge('alice', 'contoso', 'GET _apis/projects', 0);
    assert.equal(t.admit('alice', 'contoso').action, 'block');
    advance(10_001);
    const a = t.admit('alice', 'contoso');
    assert.equal(a.action, 'allow');
    assert.deepEqual(a.headers, {});
  });

  test('identities and organizations are metered apart', () => {
    const { t } = setup();
    for (let i = 0; i < 10; i++) t.charge('alice', 'contoso', 'GET _apis/projects', 0);
    assert.equal(t.admit('alice', 'contoso').action, 'block');
    assert.equal(t.admit('bob', 'contoso').action, 'allow');
    assert.equal(t.admit('alice', 'fabrikam').action, 'allow');
  });

  test('costs per route template, per item; the documented defaults', () => {
    const t = new Throttle();
    // 1,000 refs ≈ one typical user's five minutes (1 TSTU).
    assert.ok(Math.abs(t.cost('GET _apis/git/repositories/{repositoryId}/refs', 1000) - 1.02) < 1e-9);
    // A sweep of 100 groups: a filtered list (1 group) and a write each ≈ 10 TSTUs.
    const sweep =
      100 * (t.cost('GET _apis/distributedtask/variablegroups', 1) + t.cost('PUT _apis/distributedtask/variablegroups/{groupId}', 1));
    assert.ok(sweep >= 8 && sweep <= 12, String(sweep));
    assert.equal(
      costRoute('GET', '/:org/:project/_apis/git/repositories/:repositoryId/refs'),
      'GET _apis/git/repositories/{repositoryId}/refs',
    );
    assert.equal(costRoute('POST', '/:org/:project/_git/:repo/*'), 'POST _git/*');
    const custom = new Throttle({ costs: [{ route: 'GET _apis/projects', base: 5, perItem: 1 }] });
    assert.equal(custom.cost('GET _apis/projects', 2), 7);
    assert.equal(DEFAULT_THROTTLE_CONFIG.limit, 200);
    assert.equal(DEFAULT_THROTTLE_CONFIG.windowMs, 300_000);
  });

  test('bad configuration says which field to fix', () => {
    assert.throws(() => mergeThrottleConfig(DEFAULT_THROTTLE_CONFIG, { limit: -1 }), /^Error: limit /);
    assert.throws(() => mergeThrottleConfig(DEFAULT_THROTTLE_CONFIG, { costs: [{ route: 'projects', base: 1 }] }), /costs\[0\]\.route/);
    assert.throws(() => mergeThrottleConfig(DEFAULT_THROTTLE_CONFIG, { noticeFraction: 2 }), /noticeFraction/);
  });

  test('off unless asked; KEYWAY_EMULATOR_THROTTLING decides over the option', () => {
    assert.equal(throttlingFromOptions(undefined, {}).enabled, false);
    assert.equal(throttlingFromOptions(true, {}).enabled, true);
    assert.equal(throttlingFromOptions({ limit: 5 }, {}).enabled, true);
    assert.equal(throttlingFromOptions(undefined, { KEYWAY_EMULATOR_THROTTLING: 'on' }).enabled, true);
    assert.equal(throttlingFromOptions(true, { KEYWAY_EMULATOR_THROTTLING: 'off' }).enabled, false);
  });
});

describe('throttling over HTTP', () => {
  let s: SeededWorld;
  let control: string;
  before(async () => {
    s = await startSeeded({
      throttling: {
        limit: 1,
        windowMs: 60_000,
        noticeFraction: 0.5,
        blockFactor: 2,
        maxDelayMs: 20,
        defaultCost: { base: 0.25 },
        costs: [{ route: 'POST _git/git-upload-pack', base: 0.25 }],
      },
    });
    control = `Bearer ${s.emu.controlToken}`;
  });
  after(() => s?.close());

  test('REST: headers on 200s, then delayed 200s with X-RateLimit-Delay and Retry-After, then 429 TF400733', async () => {
    const seen: Array<{ status: number; delay: string | null; remaining: string | null; retry: string | null }> = [];
    for (let i = 0; i < 10; i++) {
      const r = await call(`${s.orgUrl}/_apis/projects?api-version=7.1`, { auth: basic(s.pat) });
      seen.push({
        status: r.status,
        delay: r.headers.get('x-ratelimit-delay'),
        remaining: r.headers.get('x-ratelimit-remaining'),
        retry: r.headers.get('retry-after'),
      });
      if (r.status === 429) {
        assert.match(r.json.message, /^TF400733: /);
        assert.equal(r.json.typeKey, 'RequestBlockedException');
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
        assert.equal(r.headers.get('x-ratelimit-limit'), '1');
        break;
      }
    }
    assert.equal(seen[0]!.remaining, null, 'no headers while usage is low');
    const noticed = seen.findIndex((x) => x.status === 200 && x.remaining !== null && x.delay === null);
    const delayed = seen.findIndex((x) => x.status === 200 && x.delay !== null);
    const blocked = seen.findIndex((x) => x.status === 429);
    assert.ok(noticed > 0 && delayed > noticed && blocked > delayed, JSON.stringify(seen));
    assert.ok(seen[delayed]!.retry !== null, 'Retry-After on the delayed 200');
    // Another identity is not affected.
    const other = s.emu.world.addUser({ upn: `bob@${s.emu.defaultTenant.domain}` });
    s.emu.world.addMember(s.org, other.id);
    const bobPat = s.emu.world.createPat(other.id, { scopes: ['vso.project'], orgs: [s.org] }).token;
    const bob = await call(`${s.orgUrl}/_apis/projects?api-version=7.1`, { auth: basic(bobPat) });
    assert.equal(bob.status, 200);
    assert.equal(bob.headers.get('x-ratelimit-remaining'), null);
  });

  test('counters and configuration over the control API; reset lets the identity through', async () => {
    const snap = await call(`${s.emu.urls.services}/_emulator/throttling`, { auth: control });
    assert.equal(snap.status, 200);
    assert.equal(snap.json.enabled, true);
    assert.ok(snap.json.totals.blocked >= 1 && snap.json.totals.delayed >= 1);
    const alice = snap.json.identities.find((i: { identity: string }) => i.identity === s.user.id);
    assert.equal(alice.organization, s.org);
    assert.ok(alice.usage > 1);
    const bad = await call(`${s.emu.urls.services}/_emulator/throttling`, { method: 'PUT', auth: control, body: { limit: 'many' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, 'limit');
    await call(`${s.emu.urls.services}/_emulator/throttling/reset`, { method: 'POST', auth: control });
    const again = await call(`${s.orgUrl}/_apis/projects?api-version=7.1`, { auth: basic(s.pat) });
    assert.equal(again.status, 200);
    const off = await call(`${s.emu.urls.services}/_emulator/throttling`, { method: 'PUT', auth: control, body: { enabled: false } });
    assert.equal(off.json.config.enabled, false);
    await call(`${s.emu.urls.services}/_emulator/throttling`, { method: 'PUT', auth: control, body: { enabled: true } });
  });

  test('git smart HTTP counts too, and a blocked fetch is a 429 git can print', async () => {
    await call(`${s.emu.urls.services}/_emulator/throttling/reset`, { method: 'POST', auth: control });
    const url = `${s.emu.gitUrl(s.org, s.project, s.repo)}/git-upload-pack`;
    let status = 0;
    for (let i = 0; i < 12 && status !== 429; i++) {
      const r = await fetch(url, {
        method: 'POST',
        headers: { authorization: basic(s.pat), 'content-type': 'application/x-git-upload-pack-request' },
        body: '0000',
      });
      status = r.status;
      await r.arrayBuffer();
      if (status === 429) {
        assert.ok(Number(r.headers.get('retry-after')) >= 1);
      }
    }
    assert.equal(status, 429);
  });
});
