// A runner process killed (SIGKILL) and started again: mid-clone and mid-refresh. Figures: what
// the callers saw (clear errors, no hang), what was lost (target: nothing), and how long until
// the runner served again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '../../emulator/index.ts';
import { seedWebRepository } from '../support/integration-bed.ts';
import type { EmulatorHandle, User } from '../../emulator/index.ts';
import { openDatabase } from '../../src/db/database.ts';
import type { RunnerDB } from '../../src/db/runner-schema.ts';
import { startCli } from '../support/cli.ts';
import type { RunningCli } from '../support/cli.ts';
import { consentAtEntra, deliverCallback, saveOAuthIntegration, startConnect } from '../support/oauth.ts';
import { eventually, startTestPlane } from '../support/plane.ts';
import type { TestPlane } from '../support/plane.ts';
import { CanaryScan } from './support/canary.ts';
import { preferredKind } from './support/world.ts';
import { expireStoredAccessToken } from '../support/runner-credentials.ts';

const figures: string[] = [];

const kind = await preferredKind();
describe(`a runner process killed and restarted (${kind})`, () => {
  let emu: EmulatorHandle;
  let plane: TestPlane;
  let adoUser: User;
  let runnerId: string;
  let integrationId: string;
  let runner: RunningCli;
  const dataDir = mkdtempSync(join(tmpdir(), 'keyway-killed-runner-'));
  const canaries = new CanaryScan();
  const outputs: string[] = [];
  let env: Record<string, string>;

  function startRunner(args: string[]): RunningCli {
    const cli = startCli(['runner', '--data-dir', dataDir, ...args], env);
    canaries.source('logs', `runner process ${outputs.length + 1}`, () => cli.output());
    outputs.push('');
    return cli;
  }

  async function kill(cli: RunningCli) {
    cli.child.kill('SIGKILL');
    await new Promise((r) => cli.child.once('exit', r));
  }

  /** SIGKILLs the runner mid-operation, lifts the fault that held it there, and starts it again; when each happened. */
  async function killAndRestartRunner(slow: string) {
    const killedAt = Date.now();
    await kill(runner);
    emu.faults.remove(slow);
    runner = startRunner([]);
    await runner.waitFor(/connected to/);
    return { killedAt, upAt: Date.now() };
  }

  before(async () => {
    emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
    adoUser = await seedWebRepository(emu, 'contoso', { commits: 200, user: 'dev' });
    const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway', redirectUris: [] });
    canaries.watch(registered.clientSecret, 'oauth client secret');
    // The runner process below checks at start that it uses the management plane's Azure DevOps endpoints.
    plane = await startTestPlane(kind, {
      entraAuthorityUrl: emu.urls.login,
      azureDevOpsServicesUrl: emu.urls.services,
      azureDevOpsVsspsUrl: emu.urls.vssps,
    });
    canaries.source('logs', 'management plane log', () => plane.logs.text);
    canaries.database('management database', plane.database.db as never, plane.database.schema);
    env = {
      KEYWAY_ALLOW_INSECURE_HOSTS: 'true',
      KEYWAY_AZURE_DEVOPS_SERVICES_URL: emu.urls.services,
      KEYWAY_AZURE_DEVOPS_VSSPS_URL: emu.urls.vssps,
      KEYWAY_LOG_LEVEL: 'info',
      KEYWAY_DATA_DIR: dataDir,
    };

    const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'killed' } });
    runnerId = created.json().runner.id;
    runner = startRunner(['--server', plane.url, '--exchange-token', created.json().exchangeToken]);
    await runner.waitFor(/connected to/);
    ({ integrationId } = await saveOAuthIntegration(plane, emu, runnerId, { app: registered, pat: true }));
  });
  after(async () => {
    console.log(['# runner kill figures:', ...figures.map((f) => `#   ${f}`)].join('\n'));
    if (runner && runner.child.exitCode === null) await runner.stop();
    await plane?.close();
    await emu?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const environment = async (id: string) =>
    (await plane.memberBrowser.request({ method: 'GET', url: `/api/v1/environments/${id}` })).json() as {
      status: string;
      error?: { code: string; message: string };
    };

  it('killed mid-clone: after the restart the environment says the clone was interrupted, the authorization is intact, and a new clone works', async () => {
    const pat = emu.world.createPat(adoUser.id, { scopes: ['vso.code_write'], orgs: ['contoso'] }).token;
    canaries.watch(pat, 'member PAT');
    const stored = await plane.memberBrowser.request({
      method: 'POST',
      url: '/api/v1/scm/pat',
      payload: { integrationId, organization: 'contoso', token: pat },
    });
    assert.equal(stored.statusCode, 201, stored.body);

    const slow = emu.faults.add({ listener: 'services', path: '/**/git-upload-pack', latencyMs: 4000 });
    const created = await plane.memberBrowser.request({
      method: 'POST',
      url: '/api/v1/environments',
      payload: { contextUrl: 'https://dev.azure.com/contoso/Web/_git/web', runnerId },
    });
    assert.equal(created.statusCode, 201, created.body);
    const id = created.json().id as string;
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal((await environment(id)).status, 'cloning');
    const { killedAt, upAt } = await killAndRestartRunner(slow);
    const settled = await eventually(
      async () => {
        const e = await environment(id);
        return e.status !== 'cloning' && e;
      },
      'the interrupted environment to settle',
      60_000,
    );
    const settledAt = Date.now();
    assert.equal(settled.status, 'failed');
    assert.equal(settled.error?.code, 'clone_interrupted', JSON.stringify(settled));

    const listed = (await plane.memberBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' })).json();
    const authorization = listed.authorizations.find((a: { method: string }) => a.method === 'pat');
    assert.equal(authorization?.status, 'active', 'the PAT survived the kill');

    const again = await plane.memberBrowser.request({
      method: 'POST',
      url: '/api/v1/environments',
      payload: { contextUrl: 'https://dev.azure.com/contoso/Web/_git/web', runnerId },
    });
    assert.equal(again.statusCode, 201, again.body);
    const ready = await eventually(
      async () => {
        const e = await environment(again.json().id);
        return e.status !== 'cloning' && e;
      },
      'the new clone',
      60_000,
    );
    assert.equal(ready.status, 'ready', JSON.stringify(ready));
    figures.push(
      `mid-clone kill: runner connected again ${upAt - killedAt} ms after the kill; the environment reported clone_interrupted ${settledAt - upAt} ms later (clear error, no hang); authorizations lost: 0; a new clone is ready ${Date.now() - settledAt} ms after that`,
    );
  });

  it('killed mid-refresh: the callers get clear errors, nothing is lost, and the authorization refreshes again once the dead lease expires', async () => {
    const authorizeUrl = await startConnect(plane.adminBrowser, integrationId);
    const { callback } = await consentAtEntra(emu, authorizeUrl, adoUser.upn);
    const connected = await deliverCallback(plane.adminBrowser, callback);
    assert.equal(connected.ok, true, connected.message);

    // Expire the stored access token (the runner store is a SQLite file in WAL mode: a second
    // connection may write beside the runner).
    const store = await openDatabase<RunnerDB>(`sqlite:${join(dataDir, 'runner.db')}`);
    try {
      const row = await store.db
        .selectFrom('credentials')
        .select('id')
        .where('subject_id', '=', plane.admin.id)
        .where('method', '=', 'oauth')
        .executeTakeFirstOrThrow();
      await expireStoredAccessToken(store.db, row.id);
    } finally {
      await store.close();
    }
    const refreshesBefore = emu.entra.counters().byGrant.refresh_token ?? 0;
    const slow = emu.faults.add({ listener: 'login', path: '/*/oauth2/v2.0/token', latencyMs: 3000 });
    const access = () =>
      plane.adminBrowser.request({
        method: 'POST',
        url: '/api/v1/context/access',
        payload: { url: 'https://dev.azure.com/contoso/Web/_git/web', integrationId },
      });
    const started = Date.now();
    const inFlight = access();
    await eventually(
      async () => (emu.entra.counters().byGrant.refresh_token ?? 0) > refreshesBefore || (emu.counters().tokenRequests ?? 0) > 0,
      'the refresh to reach Entra',
      10_000,
    ).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    // Started again at once, as a supervisor would, while the caller still waits.
    const { killedAt, upAt } = await killAndRestartRunner(slow);
    const first = await inFlight;
    const firstMs = Date.now() - started;
    const answers: number[] = [];
    const ok = await eventually(
      async () => {
        const res = await access();
        answers.push(res.statusCode);
        return res.statusCode === 200 && res.json().hasAccess === true && res;
      },
      'a refreshed token after the restart',
      120_000,
    );
    const recoveredAt = Date.now();
    assert.ok(ok);
    // The request in flight either failed clearly or, redelivered to the restarted runner, was answered.
    const firstBody = first.json() as { hasAccess?: boolean; reason?: string | null; error?: { code: string } };
    assert.ok(first.statusCode === 200 ? typeof firstBody.hasAccess === 'boolean' : typeof firstBody.error?.code === 'string', first.body);
    const listed = (await plane.adminBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' })).json();
    assert.equal(
      listed.authorizations.find((a: { method: string }) => a.method === 'oauth')?.status,
      'active',
      'no re-authorization needed',
    );
    figures.push(
      `mid-refresh kill: the request in flight ended with ${first.statusCode} ${firstBody.error?.code ?? `hasAccess=${firstBody.hasAccess}${firstBody.reason ? ` (${firstBody.reason})` : ''}`} after ${firstMs} ms (no hang); runner connected again ${upAt - killedAt} ms after the kill; access worked again ${recoveredAt - upAt} ms after the restart (answers on the way: ${JSON.stringify(answers.slice(0, 10))}${answers.length > 10 ? '…' : ''}); authorizations lost: 0`,
    );
  });

  it("no secret canary in the runner processes' output, the management plane log or its database", async () => {
    await canaries.assertClean();
  });
});
