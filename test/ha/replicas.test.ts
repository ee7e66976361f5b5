import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { POSTGRES_URL, databaseKinds } from '../support/databases.ts';
import { Browser, LogCapture, TEST_PASSWORD_PARAMS } from '../support/management.ts';
import { eventually, settledEnvironment, startTestPlane, startTestRunner } from '../support/plane.ts';
import type { TestPlane, TestRunner } from '../support/plane.ts';
import { consentAtEntra, deliverCallback, saveOAuthIntegration, startConnect } from '../support/oauth.ts';
import { startEmulator } from '../../emulator/index.ts';
import { seedWebRepository } from '../support/integration-bed.ts';
import type { EmulatorHandle, User } from '../../emulator/index.ts';
import { openDatabase } from '../../src/db/database.ts';
import type { Database } from '../../src/db/database.ts';
import type { ManagementDB } from '../../src/db/management-schema.ts';
import { buildManagementApp } from '../../src/management/app.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { runnerPaths } from '../../src/runner/identity.ts';
import type { ControlRequest } from '../../src/control/protocol.ts';
import { expireStoredAccessToken } from '../support/runner-credentials.ts';

// The layout the README's "High availability" section describes: two management-plane servers on
// one PostgreSQL database, and one runner as two replicas that share its identity (key file,
// registration, data keys) and its PostgreSQL credential store, each talking to its own server.

const kinds = (await databaseKinds()).filter((k) => k.kind === 'postgres');

for (const { kind, skip } of kinds) {
  describe('High availability: two servers, two runner replicas of one runner', { skip }, () => {
    let emu: EmulatorHandle;
    let server1: TestPlane;
    let server2: { app: FastifyInstance; url: string; database: Database<ManagementDB> };
    let replica1: TestRunner;
    let replica2: TestRunner;
    let runnerId: string;
    let integrationId: string;
    let member: User;
    let member2: Browser;
    const storeSchema = `r_${randomBytes(5).toString('hex')}`;
    const store = { url: POSTGRES_URL, schema: storeSchema };
    const webUrl = 'https://dev.azure.com/fabrikam/Web/_git/web';
    // environment id → the replicas that took a request about it, in order.
    const handledBy = new Map<string, string[]>();
    const observe = (name: string) => (request: ControlRequest) => {
      const id = (request.payload as { environmentId?: string } | null)?.environmentId;
      if (id && request.kind.startsWith('environment-')) handledBy.set(id, [...(handledBy.get(id) ?? []), `${name}:${request.kind}`]);
    };

    /** Marks a replica as if its last poll was long ago (the online window has passed). */
    const lastSeenLongAgo = (replicaId: string) =>
      server1.database.db
        .updateTable('runner_replicas')
        .set({ last_seen_at: new Date(Date.now() - 120_000).toISOString() })
        .where('replica_id', '=', replicaId)
        .execute();

    /** A new data directory holding replica 1's runner key, registration and data keys. */
    function copyRunnerIdentity(prefix: string): string {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      for (const file of [
        runnerPaths(replica1.dataDir).key,
        runnerPaths(replica1.dataDir).registration,
        join(replica1.dataDir, 'encryption-keys'),
      ]) {
        copyFileSync(file, join(dir, file.split('/').pop()!));
      }
      return dir;
    }

    before(async () => {
      emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
      member = await seedWebRepository(emu, 'fabrikam', { commits: 5, user: 'member' });
      const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway', redirectUris: [] });
      const settings = { entraAuthorityUrl: emu.urls.login, azureDevOpsServicesUrl: emu.urls.services };

      // Server 1 creates the schema; server 2 is another process's view of the same database.
      server1 = await startTestPlane(kind, settings);
      const database = await openDatabase<ManagementDB>(POSTGRES_URL, { schema: server1.database.schema });
      const built = await buildManagementApp({
        database,
        logger: createLogger('warn', new LogCapture()),
        publicUrl: 'http://keyway.test',
        trustProxy: false,
        version: 'test',
        allowInsecureHosts: true,
        controlPollIntervalMs: 50,
        identity: { sessionTtlHours: 1, signInMaxFailures: 5, signInWindowMinutes: 15, passwordParams: TEST_PASSWORD_PARAMS },
        ...settings,
      });
      const url = await built.app.listen({ port: 0, host: '127.0.0.1' });
      built.core.publicUrl = url;
      server2 = { app: built.app, url, database };
      member2 = new Browser(server2.app);
      await member2.signIn(server1.member.email, server1.member.password);

      // The first replica registers with its exchange token (through server 1).
      const created = await server1.adminBrowser.request({ method: 'POST', url: '/api/v1/runners', payload: { name: 'ha' } });
      runnerId = created.json().runner.id;
      const endpoints = { services: emu.urls.services, vssps: emu.urls.vssps };
      replica1 = await startTestRunner(server1.url, created.json().exchangeToken, {
        endpoints,
        store,
        extra: { environmentOptions: { progressIntervalMs: 0 }, observeRequests: observe('replica1') },
      });

      // The documented procedure: copy runner-key.json, runner-registration.json and the data keys
      // into the second replica's data directory, point it at the shared store, start with --replica.
      const dir2 = copyRunnerIdentity('keyway-replica-2-');
      replica2 = await startTestRunner(server2.url, undefined, {
        dataDir: dir2,
        endpoints,
        store,
        extra: { replica: true, environmentOptions: { progressIntervalMs: 0 }, observeRequests: observe('replica2') },
      });

      ({ integrationId } = await saveOAuthIntegration(server1, emu, runnerId, { app: registered }));
      const { callback } = await consentAtEntra(emu, await startConnect(server1.memberBrowser, integrationId), member.upn);
      assert.equal((await deliverCallback(server1.memberBrowser, callback)).ok, true);
    });

    after(async () => {
      await sql`drop schema if exists ${sql.id(storeSchema)} cascade`.execute(replica1.store.database.db).catch(() => undefined);
      await replica2?.stop().catch(() => undefined);
      await replica1?.stop();
      await server2?.app.close();
      await server2?.database.close();
      await server1?.close();
      await emu?.close();
    });

    it('both replicas poll under one runner identity; a third process without --replica is refused', async () => {
      await eventually(async () => (await server1.core.control.replicas(runnerId)).length === 2, 'two replicas seen');
      assert.notEqual(replica1.runtime.replicaId, replica2.runtime.replicaId);
      assert.equal(replica1.runtime.registration.runnerId, replica2.runtime.registration.runnerId);
      const dir3 = copyRunnerIdentity('keyway-replica-3-');
      await assert.rejects(
        startTestRunner(server1.url, undefined, { dataDir: dir3, store }),
        /another replica of runner "ha" is running .*start this one with --replica/,
      );
      const stranger = mkdtempSync(join(tmpdir(), 'keyway-replica-4-'));
      copyFileSync(runnerPaths(replica1.dataDir).registration, join(stranger, 'runner-registration.json'));
      copyFileSync(join(replica1.dataDir, 'encryption-keys'), join(stranger, 'encryption-keys'));
      await assert.rejects(
        startTestRunner(server1.url, undefined, { dataDir: stranger, store, extra: { replica: true } }),
        /runner-key\.json is not the key runner "ha" uses/,
      );
    });

    it('a refresh storm across both replicas causes exactly one token request', async () => {
      const record = await replica1.runtime.credentials.findForIntegration({ type: 'user', id: server1.member.id }, integrationId);
      assert.ok(record);
      await expireStoredAccessToken(replica1.store.database.db, record.id);
      emu.entra.faults.expireAccessTokensNow();
      const refreshes = () => emu.entra.counters().byGrant.refresh_token ?? 0;
      const before = refreshes();
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          (i % 2 ? replica2 : replica1).runtime.tokens.getAccessToken(server1.member.id, integrationId),
        ),
      );
      assert.equal(refreshes() - before, 1);
      assert.equal(new Set(results.map((r) => r.token)).size, 1);
    });

    it('environment requests go to the replica that holds the workspace, through either server', async () => {
      const browsers = [server1.memberBrowser, member2];
      const environments: { id: string; workspacePath: string; owner: TestRunner; other: TestRunner }[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await browsers[i % 2]!.request({
          method: 'POST',
          url: '/api/v1/environments',
          payload: { contextUrl: webUrl, runnerId },
        });
        assert.equal(res.statusCode, 201, res.body);
        const id = res.json().id as string;
        const env = await settledEnvironment(browsers[(i + 1) % 2]!, id, `environment ${id} ready`);
        assert.equal(env.status, 'ready', JSON.stringify(env.error));
        const owner = env.workspacePath.startsWith(replica1.dataDir) ? replica1 : replica2;
        assert.deepEqual(handledBy.get(id), [`${owner === replica1 ? 'replica1' : 'replica2'}:environment-create`]);
        environments.push({ id, workspacePath: env.workspacePath, owner, other: owner === replica1 ? replica2 : replica1 });
        assert.ok(existsSync(env.workspacePath));
      }
      assert.ok(
        environments.some((e) => e.owner === replica1) && environments.some((e) => e.owner === replica2),
        'both replicas cloned some (any replica takes a create)',
      );
      // Deleting through the other server reaches the owner: its workspace is gone from its disk.
      for (const [i, env] of environments.slice(0, 4).entries()) {
        const res = await browsers[(i + 1) % 2]!.request({ method: 'DELETE', url: `/api/v1/environments/${env.id}` });
        assert.ok([202, 204].includes(res.statusCode), res.body);
        await eventually(async () => !existsSync(env.workspacePath), `workspace of ${env.id} removed by its replica`);
        const name = env.owner === replica1 ? 'replica1' : 'replica2';
        assert.deepEqual(
          handledBy.get(env.id),
          [`${name}:environment-create`, `${name}:environment-delete`],
          'create and delete were handled by the same replica',
        );
      }
    });

    it('a replica that died: requests for what it held are answered by the other from the shared store, not held until the deadline', async () => {
      const res = await member2.request({ method: 'POST', url: '/api/v1/environments', payload: { contextUrl: webUrl, runnerId } });
      const id = res.json().id as string;
      await eventually(
        async () => (await member2.request({ method: 'GET', url: `/api/v1/environments/${id}` })).json().status === 'ready',
        'ready',
      );
      const affinity = await server1.database.db
        .selectFrom('runner_affinities')
        .select('replica_id')
        .where('affinity_key', '=', `environment:${id}`)
        .executeTakeFirstOrThrow();
      const [dead, alive] = affinity.replica_id === replica2.runtime.replicaId ? [replica2, replica1] : [replica1, replica2];
      await dead.runtime.stop();
      await lastSeenLongAgo(dead.runtime.replicaId);
      const deleted = await server1.memberBrowser.request({ method: 'DELETE', url: `/api/v1/environments/${id}` });
      assert.ok([202, 204].includes(deleted.statusCode), deleted.body);
      await eventually(
        async () => (await server1.memberBrowser.request({ method: 'GET', url: `/api/v1/environments/${id}` })).statusCode === 404,
        'environment gone',
      );
      const aliveName = alive === replica1 ? 'replica1' : 'replica2';
      assert.equal(handledBy.get(id)?.at(-1), `${aliveName}:environment-delete`, 'the live replica answered for the dead one');
    });

    it('a replica that dies mid-clone: the environment is reported failed (clone_interrupted) by a live one, and can be deleted', async () => {
      // Two live replicas again: the one left by the previous case and a new one joining.
      const dir = copyRunnerIdentity('keyway-replica-5-');
      const joined = await startTestRunner(server1.url, undefined, {
        dataDir: dir,
        endpoints: { services: emu.urls.services, vssps: emu.urls.vssps },
        store,
        extra: { replica: true, environmentOptions: { progressIntervalMs: 0 }, observeRequests: observe('replica5') },
      });
      // Git answers slowly, so the clone is still running when its replica dies.
      const slow = emu.faults.add({ listener: 'services', path: /git-upload-pack$/, latencyMs: 4_000 });
      try {
        const res = await member2.request({ method: 'POST', url: '/api/v1/environments', payload: { contextUrl: webUrl, runnerId } });
        assert.equal(res.statusCode, 201, res.body);
        const id = res.json().id as string;
        const affinity = await eventually(
          () =>
            server1.database.db
              .selectFrom('runner_affinities')
              .select('replica_id')
              .where('affinity_key', '=', `environment:${id}`)
              .executeTakeFirst(),
          'a replica took the creation',
        );
        assert.equal((await member2.request({ method: 'GET', url: `/api/v1/environments/${id}` })).json().status, 'cloning');
        const owner = [replica1, replica2, joined].find((r) => r.runtime.replicaId === affinity.replica_id);
        assert.ok(owner, `the owner ${affinity.replica_id} is one of the replicas`);
        await owner.runtime.stop();
        await lastSeenLongAgo(owner.runtime.replicaId);

        const failed = await eventually(
          async () => {
            const got = (await server1.memberBrowser.request({ method: 'GET', url: `/api/v1/environments/${id}` })).json();
            return got.status === 'failed' ? got : undefined;
          },
          'the environment reported failed by a live replica',
          20_000,
        );
        assert.equal(failed.error?.code, 'clone_interrupted', JSON.stringify(failed.error));
        assert.match(failed.error?.message ?? '', /delete the environment and create it again/);

        const deleted = await server1.memberBrowser.request({ method: 'DELETE', url: `/api/v1/environments/${id}` });
        assert.ok([202, 204].includes(deleted.statusCode), deleted.body);
        await eventually(
          async () => (await server1.memberBrowser.request({ method: 'GET', url: `/api/v1/environments/${id}` })).statusCode === 404,
          'environment gone',
        );
      } finally {
        emu.faults.remove(slow);
        await joined.stop().catch(() => undefined);
      }
    });
  });
}
