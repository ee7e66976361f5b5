import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { DatabaseKind } from '../../src/db/database.ts';
import { startSeeded } from '../../emulator/test-support.ts';
import type { SeededWorld } from '../../emulator/test-support.ts';
import { Browser } from './management.ts';
import { startTestPlane, startTestRunner } from './plane.ts';
import type { TestPlane, TestRunner } from './plane.ts';
import type { RunnerRuntimeOptions } from '../../src/runner/runtime.ts';

/**
 * An emulator with an organization, a management plane on real HTTP with a runner, and two projects:
 * "Payments" (the admin owns it, the member is a member) and "Other" (an outsider's own project,
 * of which nobody else is a member).
 */
export interface AutomationWorld {
  seeded: SeededWorld;
  plane: TestPlane;
  runner: TestRunner;
  runnerId: string;
  projectId: string;
  otherProjectId: string;
  outsider: Browser;
  close(): Promise<void>;
}

export async function startAutomationWorld(
  kind: DatabaseKind,
  extra: Parameters<typeof startTestPlane>[1] = {},
  runnerExtra: Partial<RunnerRuntimeOptions> | ((seeded: SeededWorld) => Partial<RunnerRuntimeOptions>) = {},
): Promise<AutomationWorld> {
  const seeded = await startSeeded();
  const plane = await startTestPlane(kind, { entraAuthorityUrl: seeded.emu.urls.login, ...extra });
  const created = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'automation' } });
  assert.equal(created.statusCode, 201, created.body);
  const runnerId = created.json().runner.id as string;
  const runner = await startTestRunner(plane.url, created.json().exchangeToken, {
    endpoints: { services: seeded.emu.urls.services, vssps: seeded.emu.urls.vssps },
    extra: typeof runnerExtra === 'function' ? runnerExtra(seeded) : runnerExtra,
  });

  const project = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/projects', payload: { name: 'Payments' } });
  assert.equal(project.statusCode, 201, project.body);
  const projectId = project.json().id as string;
  const added = await plane.adminBrowser.request({
    method: 'POST',
    url: `/api/v1/projects/${projectId}/members`,
    payload: { userId: plane.member.id, role: 'member' },
  });
  assert.equal(added.statusCode, 200, added.body);

  const outsiderPassword = 'outsider-password-long';
  const outsiderUser = await plane.core.identity.createUser({
    email: 'outsider@acme.test',
    password: outsiderPassword,
    organizationId: plane.organizationId,
    role: 'member',
  });
  const other = await plane.adminBrowser.request({ method: 'POST', url: '/api/v1/projects', payload: { name: 'Other' } });
  const otherProjectId = other.json().id as string;
  await plane.adminBrowser.request({
    method: 'POST',
    url: `/api/v1/projects/${otherProjectId}/members`,
    payload: { userId: outsiderUser.id, role: 'owner' },
  });
  const outsider = new Browser(plane.app);
  await outsider.signIn('outsider@acme.test', outsiderPassword);

  return {
    seeded,
    plane,
    runner,
    runnerId,
    projectId,
    otherProjectId,
    outsider,
    async close() {
      await runner.stop();
      await plane.close();
      await seeded.close();
    },
  };
}

export function expectStatus(res: LightMyRequestResponse, status: number): LightMyRequestResponse {
  assert.equal(res.statusCode, status, `${res.statusCode}: ${res.body.slice(0, 600)}`);
  return res;
}

/**
 * An owner's access-token app connection to the seeded organization, in the world's project;
 * `fields` gives its name and the token (in the clear or sealed), and may override the rest.
 */
export async function saveAccessTokenConnection(w: AutomationWorld, fields: Record<string, unknown>, status = 201) {
  return expectStatus(
    await w.plane.adminBrowser.request({
      method: 'POST',
      url: `/api/v1/projects/${w.projectId}/app-connections`,
      payload: { runnerId: w.runnerId, method: 'access-token', organization: w.seeded.org, ...fields },
    }),
    status,
  ).json();
}

/**
 * A variable-group sync through an app connection into the world's "Payments" project, created by
 * the admin; `run()` runs it now and returns the run.
 */
export async function createSync(
  w: AutomationWorld,
  options: { name: string; connectionId: string; groupName: string; variables: { name: string; value: string; isSecret?: boolean }[] },
) {
  const created = expectStatus(
    await w.plane.adminBrowser.request({
      method: 'POST',
      url: `/api/v1/projects/${w.projectId}/syncs`,
      payload: { ...options, project: w.seeded.project },
    }),
    201,
  ).json();
  const syncId = created.sync.id as string;
  const run = async () =>
    expectStatus(
      await w.plane.adminBrowser.request({ method: 'POST', url: `/api/v1/projects/${w.projectId}/syncs/${syncId}/run` }),
      200,
    ).json();
  return { syncId, run };
}

/** The two variables a sync through a connection is tried with: one plain, one secret whose value is new each time. */
export function plainAndSecretVariables(): { name: string; value: string; isSecret?: boolean }[] {
  return [
    { name: 'HELLO', value: 'world' },
    { name: 'TOKEN', value: `sec-${randomUUID()}`, isSecret: true },
  ];
}

/** Every row of every management-plane table, as one string (canary checks). */
export async function dumpManagementTables(plane: TestPlane): Promise<string> {
  const tables = await plane.database.db.introspection.getTables();
  const parts: string[] = [];
  for (const t of tables.filter((t) => !plane.database.schema || t.schema === plane.database.schema)) {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- every table, whatever its shape
    const rows = await (plane.database.db as any).selectFrom(t.name).selectAll().execute();
    parts.push(`${t.name}:${JSON.stringify(rows)}`);
  }
  return parts.join('\n');
}
