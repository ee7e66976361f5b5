// A whole Keyway for the resilience suites: the emulator (Entra ID + Azure DevOps + git), a
// management plane on real HTTP with a signed-in admin and member, a registered runner with an
// integration (OAuth and PAT) saved and tested, and the canary scan wired to every log, the
// management database and every response the suite records.
import assert from 'node:assert/strict';
import { startEmulator } from '../../../emulator/index.ts';
import type { EmulatorHandle, User } from '../../../emulator/index.ts';
import type { DatabaseKind } from '../../../src/db/database.ts';
import type { ManagementAppOptions } from '../../../src/management/app.ts';
import type { RunnerRuntimeOptions } from '../../../src/runner/runtime.ts';
import { isPostgresAvailable } from '../../support/databases.ts';
import { startTestPlane, startTestRunner } from '../../support/plane.ts';
import type { TestPlane, TestRunner } from '../../support/plane.ts';
import { saveOAuthIntegration } from '../../support/oauth.ts';
import { CanaryScan } from './canary.ts';

export interface World {
  emu: EmulatorHandle;
  plane: TestPlane;
  runner: TestRunner;
  runnerId: string;
  integrationId: string;
  adoUser: User;
  clientId: string;
  canaries: CanaryScan;
  /** The runner options used, to start it again after a stop. */
  runnerOptions: Parameters<typeof startTestRunner>[2];
  close(): Promise<void>;
}

/** PostgreSQL when it answers (and always under CI=true, where its absence fails); SQLite otherwise. */
export async function preferredKind(): Promise<DatabaseKind> {
  return (await isPostgresAvailable()) || process.env.CI === 'true' ? 'postgres' : 'sqlite';
}

export async function startWorld(
  kind: DatabaseKind,
  options: { plane?: Partial<ManagementAppOptions>; runner?: Partial<RunnerRuntimeOptions>; runnerName?: string } = {},
): Promise<World> {
  const canaries = new CanaryScan();
  const emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
  emu.world.addOrganization('contoso');
  emu.world.addProject('contoso', 'Web');
  const adoUser = emu.world.addUser({ upn: `dev@${emu.defaultTenant.domain}` });
  emu.world.addMember('contoso', adoUser.id);
  await emu.world.createRepository('contoso', 'Web', 'web', { commits: 3, createdBy: adoUser.id });
  const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway', redirectUris: [] });
  canaries.watch(registered.clientSecret, 'oauth client secret');

  const plane = await startTestPlane(kind, { entraAuthorityUrl: emu.urls.login, ...options.plane });
  canaries.watch(plane.admin.password, 'admin password');
  canaries.watch(plane.member.password, 'member password');
  canaries.source('logs', 'management plane log', () => plane.logs.text);
  canaries.database('management database', plane.database.db as never, plane.database.schema);

  const created = await plane.adminBrowser.request({
    method: 'POST',
    url: '/api/v1/runners',
    payload: { name: options.runnerName ?? 'resilience' },
  });
  assert.equal(created.statusCode, 201, created.body);
  const runnerId = created.json().runner.id as string;
  const runnerOptions = {
    endpoints: { services: emu.urls.services, vssps: emu.urls.vssps },
    ...(options.runner ? { extra: options.runner } : {}),
  };
  const runner = await startTestRunner(plane.url, created.json().exchangeToken, runnerOptions);
  canaries.watch(runner.runtime.registration.runnerToken, 'runner token');
  canaries.source('logs', 'runner log', () => runner.logs.text);

  const { integrationId, saved } = await saveOAuthIntegration(plane, emu, runnerId, { app: registered, pat: true });
  canaries.response('POST scm-integrations', saved);

  return {
    emu,
    plane,
    runner,
    runnerId,
    integrationId,
    adoUser,
    clientId: registered.app.clientId,
    canaries,
    runnerOptions: { ...runnerOptions, dataDir: runner.dataDir },
    async close() {
      await runner.stop().catch(() => undefined);
      await plane.close();
      await emu.close();
    },
  };
}
