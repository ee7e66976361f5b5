import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { localRunnerId, signInAsAdmin, startCli } from '../../test/support/cli.ts';
import { startTestPlane, startTestRunner } from '../../test/support/plane.ts';
import { saveRegistration } from '../runner/identity.ts';
import { checkNoConflictingRegistration, defaultRunnerDataDir, runnerDataDir } from './runner.ts';

describe('Operating Keyway: runner data directories, registrations, settings that must agree, a revoked built-in runner', () => {
  it("keyway runner keeps its own default data directory, never keyway start's ./.keyway-data", () => {
    assert.equal(defaultRunnerDataDir({ XDG_DATA_HOME: '/srv/data' }), '/srv/data/keyway/runner');
    assert.equal(runnerDataDir(undefined, { XDG_DATA_HOME: '/srv/data' }), '/srv/data/keyway/runner');
    assert.equal(
      runnerDataDir(undefined, { XDG_DATA_HOME: '/srv/data', KEYWAY_DATA_DIR: '/var/lib/keyway-runner' }),
      '/var/lib/keyway-runner',
    );
    assert.equal(runnerDataDir('rel/dir', { KEYWAY_DATA_DIR: '/ignored' }), resolve('rel/dir'));
  });

  it('a data directory holding a registration refuses a new exchange token and says how to proceed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keyway-conflict-'));
    await checkNoConflictingRegistration(dir, 'kwx_new-token');
    await saveRegistration(dir, {
      serverUrl: 'http://keyway.test',
      runnerId: 'run_existing',
      runnerToken: 'kwr_secret-token',
      organizationId: 'org_1',
      name: 'local',
    });
    await checkNoConflictingRegistration(dir, undefined);
    await assert.rejects(checkNoConflictingRegistration(dir, 'kwx_new-token'), (err: Error) => {
      assert.match(
        err.message,
        /already holds runner "local" \(run_existing\) registered with http:\/\/keyway\.test, so the exchange token was not used/,
      );
      assert.match(err.message, /without --exchange-token/);
      assert.match(err.message, /--data-dir DIR/);
      assert.ok(!err.message.includes('kwr_secret-token') && !err.message.includes('kwx_new-token'));
      return true;
    });
  });

  it("a runner whose endpoint settings differ from the management plane's refuses to start and names each variable", async () => {
    const plane = await startTestPlane('sqlite', {
      entraAuthorityUrl: 'http://127.0.0.1:9/login',
      azureDevOpsServicesUrl: 'http://127.0.0.1:9/ado/',
      azureDevOpsVsspsUrl: 'https://app.vssps.visualstudio.com',
      allowInsecureHosts: true,
    });
    try {
      const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'mismatch' } });
      const settings = {
        azureDevOpsServicesUrl: 'https://dev.azure.com',
        azureDevOpsVsspsUrl: 'https://app.vssps.visualstudio.com',
        allowInsecureHosts: false,
      };
      const dataDir = mkdtempSync(join(tmpdir(), 'keyway-settings-'));
      await assert.rejects(
        startTestRunner(plane.url, created.json().exchangeToken, { dataDir, extra: { sharedSettings: settings } }),
        (err: Error) => {
          assert.match(
            err.message,
            /KEYWAY_AZURE_DEVOPS_SERVICES_URL differs: the management plane has http:\/\/127\.0\.0\.1:9\/ado\/, this runner https:\/\/dev\.azure\.com/,
          );
          assert.match(err.message, /KEYWAY_ALLOW_INSECURE_HOSTS differs: the management plane has true, this runner false/);
          assert.doesNotMatch(err.message, /KEYWAY_ENTRA_AUTHORITY_URL|VSSPS/, 'only what differs is named');
          return true;
        },
      );
      // With the same settings the runner starts, with the registration it made before the check.
      const runner = await startTestRunner(plane.url, undefined, {
        dataDir,
        extra: { sharedSettings: { ...settings, azureDevOpsServicesUrl: 'http://127.0.0.1:9/ado', allowInsecureHosts: true } },
      });
      assert.equal(runner.runtime.registration.name, 'mismatch');
      await runner.stop();
    } finally {
      await plane.close();
    }
  });

  it('keyway start after its built-in runner was revoked registers a new local runner, says so, prints a sign-in link and has a runner online', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'keyway-revoked-local-'));
    const first = startCli(['start', '--port', '0', '--data-dir', dataDir], { KEYWAY_LOG_LEVEL: 'warn' });
    let localId: string;
    try {
      const admin = await signInAsAdmin(first);
      localId = await localRunnerId(admin);
      const revoked = await fetch(`${admin.url}/api/v1/runners/${localId}`, {
        method: 'DELETE',
        headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken },
      });
      assert.equal(revoked.status, 204);
    } finally {
      await first.stop();
    }
    const second = startCli(['start', '--port', '0', '--data-dir', dataDir], { KEYWAY_LOG_LEVEL: 'warn' });
    try {
      const [, newId] = await second.waitFor(/"local" had been revoked: registered a new local runner \((run_\S+)\)/);
      const admin = await signInAsAdmin(second);
      assert.notEqual(newId, localId);
      const view = (await (await admin.get(`/api/v1/runners/${newId}`)).json()) as {
        status: string;
        local: boolean;
      };
      assert.equal(view.local, true);
      assert.equal(view.status, 'online');
      assert.equal((await fetch(`${admin.url}/readyz`)).status, 200);
    } finally {
      await second.stop();
    }
  });
});
