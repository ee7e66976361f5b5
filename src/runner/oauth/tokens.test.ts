import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { POSTGRES_URL, databaseKinds } from '../../../test/support/databases.ts';
import { startPlaneWithRunner } from '../../../test/support/plane.ts';
import type { TestPlane, TestRunner } from '../../../test/support/plane.ts';
import { consentAtEntra, deliverCallback, saveOAuthIntegration, startConnect } from '../../../test/support/oauth.ts';
import { startEmulator } from '../../../emulator/index.ts';
import type { EmulatorHandle, User } from '../../../emulator/index.ts';
import { openDatabase } from '../../db/database.ts';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { createCredentialStore } from '../credentials/store.ts';
import { createFieldCrypto } from '../keys/field-crypto.ts';
import { createTokenService } from './tokens.ts';
import { integrationConfigForRecord } from './integration-config.ts';
import type { TokenService } from './tokens.ts';
import type { OAuthTokenSet } from './flow.ts';
import { expireStoredAccessToken } from '../../../test/support/runner-credentials.ts';

const LOGIN_TOKEN_PATH = '/*/oauth2/v2.0/token';

for (const { kind, skip } of await databaseKinds()) {
  describe(
    `fresh tokens: one refresh however many ask, rotation that loses nothing, failures handled (${kind}: management plane and runner store)`,
    { skip },
    () => {
      let plane: TestPlane;
      let emu: EmulatorHandle;
      let runner: TestRunner;
      let integrationId: string;
      let adoUser: User;
      // On PostgreSQL the runner store is there too, as runner replicas would share it.
      const storeSchema = `r_${randomBytes(5).toString('hex')}`;
      const store = kind === 'postgres' ? { url: POSTGRES_URL, schema: storeSchema } : undefined;

      before(async () => {
        emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
        emu.world.addOrganization('contoso');
        adoUser = emu.world.addUser({ upn: `dev@${emu.defaultTenant.domain}` });
        emu.world.addMember('contoso', adoUser.id);
        const registered = emu.entra.addApp(emu.defaultTenant.id, { displayName: 'Keyway' });
        const started = await startPlaneWithRunner(kind, emu, { name: 'tokens', runner: { store } });
        ({ plane, runner } = started);
        ({ integrationId } = await saveOAuthIntegration(plane, emu, started.runnerId, { app: registered }));
      });
      after(async () => {
        if (store) await sql`drop schema if exists ${sql.id(storeSchema)} cascade`.execute(runner.store.database.db).catch(() => undefined);
        await runner?.stop();
        await plane?.close();
        await emu?.close();
      });

      /** Connects the member through the real flow, then makes the stored access token look expired. */
      async function connectedAndExpired(): Promise<string> {
        const authorizeUrl = await startConnect(plane.memberBrowser, integrationId);
        const { callback } = await consentAtEntra(emu, authorizeUrl, adoUser.upn);
        const result = await deliverCallback(plane.memberBrowser, callback);
        assert.equal(result.ok, true, result.message);
        const record = await runner.runtime.credentials.findForIntegration({ type: 'user', id: plane.member.id }, integrationId);
        assert.ok(record);
        await expire(record.id);
        return record.id;
      }

      async function expire(credentialId: string) {
        await expireStoredAccessToken(runner.store.database.db, credentialId);
        emu.entra.faults.expireAccessTokensNow();
      }

      function service(overrides: Partial<Parameters<typeof createTokenService>[0]> = {}): TokenService {
        return createTokenService({
          credentials: runner.runtime.credentials,
          configForRecord: integrationConfigForRecord(runner.runtime.integrations, runner.runtime.configFor),
          ...overrides,
        });
      }

      const refreshRequests = () => emu.entra.counters().byGrant.refresh_token ?? 0;

      it('200 concurrent requests for an expired token cause exactly one token request; the new token works', async () => {
        await connectedAndExpired();
        const before = refreshRequests();
        const tokens = service();
        const results = await Promise.all(Array.from({ length: 200 }, () => tokens.getAccessToken(plane.member.id, integrationId)));
        assert.equal(refreshRequests() - before, 1);
        assert.equal(new Set(results.map((r) => r.token)).size, 1);
        await emu.entra.verifyAccessToken(results[0]?.token ?? '');
      });

      it('two runner replicas sharing the store: 100 + 100 concurrent requests, still exactly one refresh', async () => {
        await connectedAndExpired();
        // A second, independent connection to the same runner store, as another replica would have.
        const second = store
          ? await openDatabase<RunnerDB>(store.url, { schema: store.schema })
          : await openDatabase<RunnerDB>(runner.store.database.label);
        try {
          const replica = createTokenService({
            credentials: createCredentialStore(second.db, createFieldCrypto(runner.store.keys)),
            configForRecord: integrationConfigForRecord(runner.runtime.integrations, runner.runtime.configFor),
            owner: 'replica-2',
          });
          const first = service({ owner: 'replica-1' });
          const before = refreshRequests();
          const all = await Promise.all(
            Array.from({ length: 200 }, (_, i) => (i % 2 ? replica : first).getAccessToken(plane.member.id, integrationId)),
          );
          assert.equal(refreshRequests() - before, 1);
          assert.equal(new Set(all.map((r) => r.token)).size, 1);
        } finally {
          await second.close();
        }
      });

      it('a replica that died holding the lease (before the upstream answer) delays, but does not block, the refresh', async () => {
        const id = await connectedAndExpired();
        const record = await runner.runtime.credentials.get(id);
        assert.ok(await runner.runtime.credentials.acquireLease(id, record?.version ?? 0, 'dead-replica', 600));
        const before = refreshRequests();
        // Each pause of the service while the lease is someone else's: how many refreshes had happened by then.
        const refreshesAtEachWait: number[] = [];
        const waiting = service({
          sleep: (ms) => {
            refreshesAtEachWait.push(refreshRequests() - before);
            return new Promise<void>((r) => setTimeout(r, ms));
          },
        });
        const token = await waiting.getAccessToken(plane.member.id, integrationId);
        assert.ok(refreshesAtEachWait.length > 0, 'waited for the dead lease');
        assert.ok(
          refreshesAtEachWait.every((n) => n === 0),
          'no refresh while the lease was held',
        );
        assert.equal(refreshRequests() - before, 1);
        await emu.entra.verifyAccessToken(token.token);
      });

      it('a live lease holder keeps its lease through slow retries: the other replica waits for its result instead of refreshing too', async () => {
        await connectedAndExpired();
        const before = refreshRequests();
        // Entra throttles the first attempt; the holder sleeps three lease lifetimes before retrying.
        const throttle = emu.faults.add({
          listener: 'login',
          method: 'POST',
          path: LOGIN_TOKEN_PATH,
          action: 'throttle',
          retryAfterSeconds: 1,
          times: 1,
        });
        try {
          const holder = service({
            owner: 'slow-holder',
            leaseTtlMs: 300,
            sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 900))),
          });
          const waiter = service({ owner: 'waiter', leaseTtlMs: 300 });
          const first = holder.getAccessToken(plane.member.id, integrationId);
          await new Promise((r) => setTimeout(r, 450));
          const [a, b] = await Promise.all([first, waiter.getAccessToken(plane.member.id, integrationId)]);
          assert.equal(a.token, b.token, "both got the holder's refreshed token");
          // The throttled attempt is refused before a grant is counted: one refresh, the holder's retry.
          assert.equal(refreshRequests() - before, 1, 'only the holder refreshed');
        } finally {
          emu.faults.remove(throttle);
        }
      });

      it('a crash after the upstream answer but before the commit: Entra keeps the old refresh token valid, so nothing is lost', async () => {
        const id = await connectedAndExpired();
        const stored = JSON.parse((await runner.runtime.credentials.readSecret(id)) ?? '{}') as OAuthTokenSet;
        const integration = await runner.runtime.integrations.get(integrationId);
        // The "crashed" replica's refresh reached Entra; its answer was never committed.
        await client.refreshTokenGrant(await runner.runtime.configFor(integration), stored.refresh_token ?? '');
        const token = await service().getAccessToken(plane.member.id, integrationId);
        await emu.entra.verifyAccessToken(token.token);
      });

      it('… and with a provider that revokes on rotation, the authorization is clearly marked for re-authorization, never silently broken', async () => {
        const id = await connectedAndExpired();
        const stored = JSON.parse((await runner.runtime.credentials.readSecret(id)) ?? '{}') as OAuthTokenSet;
        const integration = await runner.runtime.integrations.get(integrationId);
        emu.entra.faults.setRefreshReuseFails(true);
        try {
          await client.refreshTokenGrant(await runner.runtime.configFor(integration), stored.refresh_token ?? '');
          await assert.rejects(
            service().getAccessToken(plane.member.id, integrationId),
            (err: Error & { code?: string }) => err.code === 'reauthorization_required',
          );
          const listed = (await plane.memberBrowser.request({ method: 'GET', url: '/api/v1/scm/authorizations' })).json();
          const auth = listed.authorizations.find((a: { id: string }) => a.id === id);
          assert.equal(auth.status, 'needs-reauthorization');
          assert.ok(auth.warnings.includes('needs-reauthorization'));
          assert.match(auth.reauthorizationReason, /connect again|AADSTS/);
        } finally {
          emu.entra.faults.setRefreshReuseFails(false);
        }
      });

      it('invalid_grant marks the authorization for re-authorization and is never retried', async () => {
        await connectedAndExpired();
        emu.entra.faults.revokeRefreshTokens({ userOid: adoUser.oid });
        const before = refreshRequests();
        const tokens = service();
        await assert.rejects(
          tokens.getAccessToken(plane.member.id, integrationId),
          (err: Error & { code?: string }) => err.code === 'reauthorization_required' && /AADSTS50173|revoked/.test(err.message),
        );
        await assert.rejects(
          tokens.getAccessToken(plane.member.id, integrationId),
          (err: Error & { code?: string }) => err.code === 'reauthorization_required',
        );
        assert.equal(refreshRequests() - before, 1, 'one attempt, no loop');
        const check = await plane.memberBrowser.request({
          method: 'GET',
          url: `/api/v1/scm/authentication?integrationId=${integrationId}`,
        });
        assert.equal(check.json().authenticated, false);
        assert.equal(check.json().authorization.status, 'needs-reauthorization');
      });

      it('429 with Retry-After is honoured; 5xx is retried a bounded number of times', async () => {
        await connectedAndExpired();
        const slept: number[] = [];
        const sleep = async (ms: number) => {
          slept.push(ms);
        };
        const throttle = emu.faults.add({
          listener: 'login',
          method: 'POST',
          path: LOGIN_TOKEN_PATH,
          action: 'throttle',
          retryAfterSeconds: 2,
          times: 1,
        });
        const token = await service({ sleep }).getAccessToken(plane.member.id, integrationId);
        emu.faults.remove(throttle);
        assert.ok(slept.includes(2000), `slept ${JSON.stringify(slept)}`);
        await emu.entra.verifyAccessToken(token.token);

        const record = await runner.runtime.credentials.findForIntegration({ type: 'user', id: plane.member.id }, integrationId);
        await expire(record?.id ?? '');
        const outage = emu.faults.add({ listener: 'login', method: 'POST', path: LOGIN_TOKEN_PATH, action: 'status', status: 503 });
        const before = emu.counters().tokenRequests;
        const sleeps: number[] = [];
        try {
          await assert.rejects(
            service({ sleep: async (ms) => void sleeps.push(ms), maxRetries: 3 }).getAccessToken(plane.member.id, integrationId),
            (err: Error & { code?: string }) => {
              assert.equal(err.code, 'refresh_unavailable');
              assert.match(err.message, /HTTP 503/, 'the message names what Entra answered');
              return true;
            },
          );
        } finally {
          emu.faults.remove(outage);
        }
        assert.equal(sleeps.length, 3, 'three retries, then a clear failure');
        assert.ok(emu.counters().tokenRequests - before <= 4);
        // The authorization survives the outage.
        const after = await service().getAccessToken(plane.member.id, integrationId);
        await emu.entra.verifyAccessToken(after.token);
      });
    },
  );
}
