import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli, runCli, signInAsAdmin } from '../../test/support/cli.ts';
import { consentAtEntra } from '../../test/support/oauth.ts';

/** A port whose next three are free too, as far as one can tell without holding them. */
async function freePortRun(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const ok = await Promise.all(
      [0, 1, 2, 3].map(
        (i) =>
          new Promise<boolean>((resolve) => {
            const server = createServer();
            server.once('error', () => resolve(false));
            server.listen(base + i, '127.0.0.1', () => server.close(() => resolve(true)));
          }),
      ),
    );
    if (ok.every(Boolean)) return base;
  }
  throw new Error('no four free consecutive ports');
}

const DEMO_REPOSITORY = 'https://dev.azure.com/keyway-demo/Demo/_git/demo-app';

describe('keyway start --demo: everything a newcomer needs to walk every journey', () => {
  it('prints and keeps (demo.txt, 0600) the emulator URLs and control token, the OAuth app and a working service principal; --emulator-port picks the ports; PAT links point at the emulator; a restart keeps all of it, and what users did with it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyway-demo-'));
    const port = await freePortRun();
    let memberPassword: string | undefined;
    let demoDetails = '';
    let projectId = '';
    let connectionId = '';
    const run = startCli(['start', '--demo', '--port', '0', '--emulator-port', String(port), '--data-dir', dataDir], {
      KEYWAY_LOG_LEVEL: 'warn',
    });
    try {
      const [, services, controlToken] = await run.waitFor(/control API {7}(http:\/\/\S+)\/_emulator\/info {3}Authorization: Bearer (\S+)/);
      const [, spTenant, spClient, spSecret] = await run.waitFor(
        /service principal tenant (\S+), client id (\S+), client secret (\S+) \(a member of/,
      );
      await run.waitFor(/also in \S+demo\.txt/);
      assert.match(run.output(), new RegExp(`login \\(Entra ID\\) {2}http://127\\.0\\.0\\.1:${port}\\b`));
      assert.equal(new URL(services!).port, String(port + 1));
      const info = await fetch(`${services}/_emulator/info`, { headers: { authorization: `Bearer ${controlToken}` } });
      assert.equal(info.status, 200, 'the control token opens the control API');
      const file = join(dataDir, 'demo.txt');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok(readFileSync(file, 'utf8').includes(spSecret!));

      // Sign in as the admin; the service principal makes a working client-secret app connection.
      const { url, cookie, post } = await signInAsAdmin(run);
      const project = (await (await post('/api/v1/projects', { name: 'Demo project' })).json()) as { id: string };
      const runners = (await (await fetch(`${url}/api/v1/runners`, { headers: { cookie } })).json()) as {
        runners: { id: string; local: boolean }[];
      };
      const runnerId = runners.runners.find((r) => r.local)!.id;
      const saved = await post(`/api/v1/projects/${project.id}/app-connections`, {
        name: 'sp',
        runnerId,
        method: 'client-secret',
        organization: 'keyway-demo',
        tenantId: spTenant,
        clientId: spClient,
        clientSecret: spSecret,
      });
      const body = (await saved.json()) as { connection: { id: string }; validation: { valid: boolean } };
      assert.equal(saved.status, 201, JSON.stringify(body));
      assert.equal(body.validation.valid, true);
      projectId = project.id;
      connectionId = body.connection.id;

      const integrations = (await (await fetch(`${url}/api/v1/runners/${runnerId}/scm-integrations`, { headers: { cookie } })).json()) as {
        integrations: { id: string }[];
      };
      const auth = (await (
        await fetch(`${url}/api/v1/scm/authentication?integrationId=${integrations.integrations[0]!.id}&organization=keyway-demo`, {
          headers: { cookie },
        })
      ).json()) as { supportsPat: { createUrl: string } };
      assert.equal(
        auth.supportsPat.createUrl,
        `${services}/keyway-demo/_usersSettings/tokens`,
        'the PAT link goes to the emulator, not dev.azure.com',
      );
      memberPassword = /Keyway member: dev@keyway\.local \/ (\S+)/.exec(run.output())?.[1];
      assert.ok(memberPassword);
      assert.match(run.output(), /Save & Test: valid/);

      // The admin authorizes Keyway at the emulator's Entra ID (Connect), and then has access.
      const [, upn, entraPassword] = /Entra ID user \(pick it on the emulator's sign-in page\): (\S+) \/ (\S+)/.exec(run.output()) ?? [];
      const start = await fetch(`${url}/api/v1/oauth/authorize/${integrations.integrations[0]!.id}`, {
        headers: { cookie },
        redirect: 'manual',
      });
      assert.equal(start.status, 302);
      const login = /login \(Entra ID\) {2}(http:\/\/\S+)/.exec(run.output())![1]!;
      const { callback } = await consentAtEntra({ urls: { login } }, start.headers.get('location')!, upn!, 'accept', entraPassword);
      const delivered = await (await fetch(callback, { headers: { cookie } })).text();
      assert.match(delivered, /data-ok="true"/, delivered.slice(0, 500));
      const access = (await (await post('/api/v1/context/access', { url: DEMO_REPOSITORY })).json()) as {
        hasAccess: boolean;
        reason: string | null;
      };
      assert.equal(access.hasAccess, true, JSON.stringify(access));
      demoDetails = readFileSync(file, 'utf8');
    } finally {
      await run.stop();
    }

    // A restart (without --emulator-port) keeps the emulator's state in {dataDir}/emulator: the same
    // URLs, control token, app and service principal; the integration is kept and still tests valid;
    // the member's password, the admin's authorization and the app connection all still work.
    const again = startCli(['start', '--demo', '--port', '0', '--data-dir', dataDir], { KEYWAY_LOG_LEVEL: 'warn' });
    try {
      const [, password] = await again.waitFor(/Keyway member: dev@keyway\.local \/ (\S+)/);
      assert.equal(password, memberPassword);
      await again.waitFor(/also in \S+demo\.txt/);
      assert.equal(
        readFileSync(join(dataDir, 'demo.txt'), 'utf8'),
        demoDetails,
        'the same emulator URLs, control token, OAuth app and service principal',
      );
      assert.match(again.output(), /kept in \S+emulator and was restored/);
      assert.match(again.output(), /\(kept; Save & Test: valid\)/);
      const admin = await signInAsAdmin(again);
      const access = (await (await admin.post('/api/v1/context/access', { url: DEMO_REPOSITORY })).json()) as {
        hasAccess: boolean;
        reason: string | null;
      };
      assert.equal(
        access.hasAccess,
        true,
        `the authorization made before the restart still yields a credential: ${JSON.stringify(access)}`,
      );
      const connection = (await (await admin.post(`/api/v1/projects/${projectId}/app-connections/${connectionId}/test`, {})).json()) as {
        valid: boolean;
      };
      assert.equal(connection.valid, true, JSON.stringify(connection));
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
