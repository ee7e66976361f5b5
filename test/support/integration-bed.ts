// Keyway in front of the emulator with what the credential-healing and configuration suites need:
// a management plane, a runner whose store can be shared with a second replica (on PostgreSQL a
// schema both open, on SQLite one file), an integration with OAuth (its callback registered in the
// app before it is saved, as an admin would) and PATs, and helpers for the audit log.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { DatabaseKind } from '../../src/db/database.ts';
import type { ManagementAppOptions } from '../../src/management/app.ts';
import type { RunnerRuntimeOptions } from '../../src/runner/runtime.ts';
import { startEmulator } from '../../emulator/index.ts';
import type { EmulatorHandle, User } from '../../emulator/index.ts';
import { POSTGRES_URL } from './databases.ts';
import type { Browser } from './management.ts';
import { eventually, startTestPlane, startTestRunner } from './plane.ts';
import type { TestPlane, TestRunner } from './plane.ts';
import { consentAtEntra, deliverCallback, saveOAuthIntegration, startConnect } from './oauth.ts';

export interface AuditEventView {
  id: string;
  actor: { type: string; id: string | null; label: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  outcome: string;
  details: Record<string, unknown>;
}

export interface IntegrationBed {
  kind: DatabaseKind;
  emu: EmulatorHandle;
  plane: TestPlane;
  runner: TestRunner;
  runnerId: string;
  integrationId: string;
  clientId: string;
  clientSecret: string;
  /** The integration's app registration in the emulator (its redirect URIs can be changed). */
  app: { redirectUris: string[] };
  /** The runner store's location, for replicas. */
  store: { url: string; schema?: string };
  /** A second process-equivalent of the same runner (same key, registration and store). */
  startReplica(extra?: Partial<RunnerRuntimeOptions>): Promise<TestRunner>;
  /** Connects the browser's user through the emulator's Entra ID as `upn`. */
  connectOAuth(browser: Browser, upn: string): Promise<void>;
  /** The organization's audit events with this action, newest first. */
  audit(action: string): Promise<AuditEventView[]>;
  /** Waits until an audit event with this action satisfies `match`. */
  auditEventually(action: string, match?: (e: AuditEventView) => boolean): Promise<AuditEventView>;
  refreshRequests(): number;
  close(): Promise<void>;
}

export async function startIntegrationBed(
  kind: DatabaseKind,
  seed: (emu: EmulatorHandle) => Promise<void> | void,
  options: { plane?: Partial<ManagementAppOptions>; runner?: Partial<RunnerRuntimeOptions> } = {},
): Promise<IntegrationBed> {
  const emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
  await seed(emu);
  const plane = await startTestPlane(kind, {
    entraAuthorityUrl: emu.urls.login,
    azureDevOpsServicesUrl: emu.urls.services,
    ...options.plane,
  });
  const created = await plane.adminBrowser.request({
    method: 'POST',
    url: '/api/v1/runners',
    payload: { name: `bed-${randomBytes(3).toString('hex')}` },
  });
  assert.equal(created.statusCode, 201, created.body);
  const runnerId = created.json().runner.id as string;
  const endpoints = { services: emu.urls.services, vssps: emu.urls.vssps };
  const firstDir = mkdtempSync(join(tmpdir(), 'keyway-bed-runner-'));
  const store =
    kind === 'postgres'
      ? { url: POSTGRES_URL, schema: `r_${randomBytes(5).toString('hex')}` }
      : { url: `sqlite:${join(firstDir, 'runner.db')}` };
  const runner = await startTestRunner(plane.url, created.json().exchangeToken, {
    dataDir: firstDir,
    endpoints,
    store,
    ...(options.runner ? { extra: options.runner } : {}),
  });

  const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway', redirectUris: [], requirePkce: true });
  const { integrationId } = await saveOAuthIntegration(plane, emu, runnerId, { app: registered, pat: true });

  const replicas: TestRunner[] = [];
  const bed: IntegrationBed = {
    kind,
    emu,
    plane,
    runner,
    runnerId,
    integrationId,
    clientId: registered.app.clientId,
    clientSecret: registered.clientSecret,
    app: registered.app,
    store,
    async startReplica(extra) {
      const dir = mkdtempSync(join(tmpdir(), 'keyway-bed-replica-'));
      for (const file of ['runner-key.json', 'runner-registration.json', 'encryption-keys'])
        copyFileSync(join(firstDir, file), join(dir, file));
      // A replica joins the runner's identity explicitly (a second process without it is refused).
      const replica = await startTestRunner(plane.url, undefined, {
        dataDir: dir,
        endpoints,
        store,
        extra: { replica: true, ...options.runner, ...extra },
      });
      replicas.push(replica);
      return replica;
    },
    async connectOAuth(browser, upn) {
      const { callback } = await consentAtEntra(emu, await startConnect(browser, integrationId), upn);
      const result = await deliverCallback(browser, callback);
      assert.equal(result.ok, true, result.message);
    },
    async audit(action) {
      const res = await plane.adminBrowser.request({
        method: 'GET',
        url: `/api/v1/audit-events?limit=500&action=${encodeURIComponent(action)}`,
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json().events as AuditEventView[];
    },
    auditEventually(action, match = () => true) {
      return eventually(async () => (await bed.audit(action)).find(match), `audit event ${action}`);
    },
    refreshRequests: () => emu.entra.counters().byGrant.refresh_token ?? 0,
    async close() {
      for (const r of replicas) await r.stop().catch(() => undefined);
      if (store.schema)
        await sql`drop schema if exists ${sql.id(store.schema)} cascade`.execute(runner.store.database.db).catch(() => undefined);
      await runner.stop().catch(() => undefined);
      await plane.close();
      await emu.close();
    },
  };
  return bed;
}

/**
 * Seeds `organization` with a "Web" project holding a "web" repository (`commits` of Alice's, default 2), Alice a member; returns her.
 * `user` names her otherwise (the local part of her UPN).
 */
export async function seedWebRepository(
  emu: EmulatorHandle,
  organization: string,
  options: { commits?: number; user?: string } = {},
): Promise<User> {
  emu.world.addOrganization(organization);
  emu.world.addProject(organization, 'Web');
  const alice = emu.world.addUser({ upn: `${options.user ?? 'alice'}@${emu.defaultTenant.domain}` });
  emu.world.addMember(organization, alice.id);
  await emu.world.createRepository(organization, 'Web', 'web', { commits: options.commits ?? 2, createdBy: alice.id });
  return alice;
}
