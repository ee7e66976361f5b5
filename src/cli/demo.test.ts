import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, runCli } from '../../test/support/cli.ts';

/** A port whose next three are free too, as far as one can tell without holding them. */
async function freePortRun(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const ok = await Promise.all([0, 1, 2, 3].map((i) => new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(base + i, '127.0.0.1', () => server.close(() => resolve(true)));
    })));
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no four free consecutive ports');
}

describe('keyway start --demo: everything a newcomer needs to walk every journey', () => {
  it('prints and keeps (demo.txt, 0600) the emulator URLs and control token, the OAuth app and a working service principal; --emulator-port picks the ports; PAT links point at the emulator', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyway-demo-'));
    const port = await freePortRun();
    let memberPassword: string | undefined;
    const run = startCli(['start', '--demo', '--port', '0', '--emulator-port', String(port), '--data-dir', dataDir], { KEYWAY_LOG_LEVEL: 'warn' });
    try {
      const [, url] = await run.waitFor(/is running at (http:\/\/\S+)/);
      const [, link] = await run.waitFor(/\/sign-in\/link#token=(kwl_\S+)/);
      const [, services, controlToken] = await run.waitFor(/control API {7}(http:\/\/\S+)\/_emulator\/info {3}Authorization: Bearer (\S+)/);
      const [, spTenant, spClient, spSecret] = await run.waitFor(/service principal tenant (\S+), client id (\S+), client secret (\S+) \(a member of/);
      await run.waitFor(/also in \S+demo\.txt/);
      assert.match(run.output(), new RegExp(`login \\(Entra ID\\) {2}http://127\\.0\\.0\\.1:${port}\\b`));
      assert.equal(new URL(services!).port, String(port + 1));
      const info = await fetch(`${services}/_emulator/info`, { headers: { authorization: `Bearer ${controlToken}` } });
      assert.equal(info.status, 200, 'the control token opens the control API');
      const file = join(dataDir, 'demo.txt');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok(readFileSync(file, 'utf8').includes(spSecret!));

      // Sign in as the admin; the service principal makes a working client-secret app connection.
      const signIn = await fetch(`${url}/api/v1/auth/link`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: link }) });
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
      const { csrfToken } = (await signIn.json()) as { csrfToken: string };
      const post = (path: string, body: unknown) => fetch(`${url}${path}`, { method: 'POST', headers: { cookie, 'x-csrf-token': csrfToken, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const project = (await (await post('/api/v1/projects', { name: 'Demo project' })).json()) as { id: string };
      const runners = (await (await fetch(`${url}/api/v1/runners`, { headers: { cookie } })).json()) as { runners: { id: string; local: boolean }[] };
      const runnerId = runners.runners.find((r) => r.local)!.id;
      const saved = await post(`/api/v1/projects/${project.id}/app-connections`, { name: 'sp', runnerId, method: 'client-secret', organization: 'keyway-demo', tenantId: spTenant, clientId: spClient, clientSecret: spSecret });
      const body = (await saved.json()) as { validation: { valid: boolean } };
      assert.equal(saved.status, 201, JSON.stringify(body));
      assert.equal(body.validation.valid, true);

      const integrations = (await (await fetch(`${url}/api/v1/runners/${runnerId}/scm-integrations`, { headers: { cookie } })).json()) as { integrations: { id: string }[] };
      const auth = (await (await fetch(`${url}/api/v1/scm/authentication?integrationId=${integrations.integrations[0]!.id}&organization=keyway-demo`, { headers: { cookie } })).json()) as { supportsPat: { createUrl: string } };
      assert.equal(auth.supportsPat.createUrl, `${services}/keyway-demo/_usersSettings/tokens`, 'the PAT link goes to the emulator, not dev.azure.com');
      memberPassword = /Keyway member: dev@keyway\.local \/ (\S+)/.exec(run.output())?.[1];
      assert.ok(memberPassword);
    } finally {
      await run.stop();
    }
    // A restart keeps the member's password.
    const again = startCli(['start', '--demo', '--port', '0', '--data-dir', dataDir], { KEYWAY_LOG_LEVEL: 'warn' });
    try {
      const [, password] = await again.waitFor(/Keyway member: dev@keyway\.local \/ (\S+)/);
      assert.equal(password, memberPassword);
    } finally {
      await again.stop();
    }
  });

  it('--emulator-port without --demo is a usage error', () => {
    const result = runCli(['start', '--emulator-port', '4000', '--data-dir', mkdtempSync(join(tmpdir(), 'keyway-demo-'))]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--emulator-port needs --demo/);
  });
});
