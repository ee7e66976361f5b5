// `keyway emulator`: starts, prints the hosts and demo values, and the printed values work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runEmulatorCommand } from './cli.ts';
import { basic, call } from './test-support.ts';

test('runEmulatorCommand prints URLs, demo organization, user, PAT and app registration, then closes', async () => {
  const lines: string[] = [];
  const run = await runEmulatorCommand({ handleSignals: false, out: (l) => lines.push(l) });
  try {
    const text = lines.join('\n');
    const { urls } = run.handle;
    for (const u of [urls.login, urls.services, urls.vssps, urls.server]) assert.ok(text.includes(u), `prints ${u}`);
    assert.ok(text.includes(run.demo.cloneUrl));
    assert.ok(text.includes(run.demo.user.upn));
    assert.ok(text.includes(run.demo.pat));
    assert.ok(text.includes(run.demo.app.clientId));
    assert.ok(text.includes(run.demo.app.clientSecret));
    assert.ok(text.includes(run.demo.app.issuer));
    assert.ok(text.includes(run.handle.controlToken));
    assert.match(run.demo.pat, /^.{76}AZDO.{4}$/);

    const auth = basic(run.demo.pat);
    const repos = await call(`${urls.services}/${run.demo.organization}/${run.demo.project}/_apis/git/repositories?api-version=7.1`, {
      auth,
    });
    assert.equal(repos.json.value[0].name, run.demo.repository);
    const server = await call(`${urls.server}/${run.demo.serverCollection}/_apis/projects?api-version=7.1`, { auth });
    assert.equal(server.status, 200);
    const discovery = await call(`${run.demo.app.issuer}/.well-known/openid-configuration`);
    assert.equal(discovery.json.issuer, run.demo.app.issuer);
    // Metered like the real service (docs/throttling.md), with the documented limit.
    assert.equal(run.handle.throttle.enabled, process.env.KEYWAY_EMULATOR_THROTTLING !== 'off');
    assert.equal(run.handle.throttle.config().limit, 200);
  } finally {
    await run.close();
  }
  await run.closed;
  await assert.rejects(fetch(`${run.handle.urls.services}/`));
});
