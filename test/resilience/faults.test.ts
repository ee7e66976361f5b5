// Faults, with figures. Azure DevOps / Entra ID (the emulator) slow (5 s), answering 5xx bursts and
// 429 storms, resetting connections and finally down — during Save & Test and during token refresh:
// every request ends with an answer (success, or a clear error) within its deadline, never a hang,
// and works again once the fault is gone (recovery time measured). The management plane restarted
// while the runner long-polls: the runner reconnects and the next request succeeds. PostgreSQL
// connections killed under load (pg_terminate_backend on this suite's own pool connections; the
// server is shared, so it is not restarted): failures are clear, nothing acknowledged is lost, and
// the pool recovers.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { FastifyInstance } from 'fastify';
import { buildManagementApp } from '../../src/management/app.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { POSTGRES_URL, isPostgresAvailable } from '../support/databases.ts';
import { Browser, TEST_PASSWORD_PARAMS } from '../support/management.ts';
import { consentAtEntra, deliverCallback, startConnect } from '../support/oauth.ts';
import { eventually } from '../support/plane.ts';
import { openRunnerPieces, randomEncryptionKeys, servicesIntegration } from '../../bench/support/runner-fixture.ts';
import { preferredKind, startWorld } from './support/world.ts';
import type { World } from './support/world.ts';
import { expireStoredAccessToken } from '../support/runner-credentials.ts';

const TOKEN_PATH = '/*/oauth2/v2.0/token';
/** Save & Test waits this long for the runner (the default). */
const SAVE_AND_TEST_DEADLINE_MS = 30_000;
const REFRESH_DEADLINE_MS = 30_000;

interface Figure {
  scenario: string;
  outcome: 'succeeded' | 'clear error' | 'hung';
  ms: number;
  detail: string;
  recoveryMs?: number;
}

const figures: Figure[] = [];

function report() {
  const lines = figures.map(
    (f) =>
      `#   ${f.scenario}: ${f.outcome} after ${Math.round(f.ms)} ms${f.detail ? ` (${f.detail})` : ''}${f.recoveryMs !== undefined ? `; recovered ${Math.round(f.recoveryMs)} ms after the fault ended` : ''}`,
  );
  const hung = figures.filter((f) => f.outcome === 'hung').length;
  console.log(
    [
      `# fault figures: ${figures.length} scenarios, ${figures.filter((f) => f.outcome === 'clear error').length} clear errors, ${figures.filter((f) => f.outcome === 'succeeded').length} succeeded, ${hung} hung`,
      ...lines,
    ].join('\n'),
  );
}

/** Runs `fn` with a deadline; a miss is a hang. */
async function within<T>(ms: number, fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown; hung: boolean }> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'hung'>((r) => (timer = setTimeout(() => r('hung'), ms)));
  try {
    const settled = await Promise.race([
      fn().then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      ),
      deadline,
    ]);
    if (settled === 'hung') return { ms: Date.now() - start, hung: true };
    return { ms: Date.now() - start, ...settled, hung: false };
  } finally {
    clearTimeout(timer);
  }
}

const kind = await preferredKind();
const postgresUp = await isPostgresAvailable();
describe(`faults (${kind})`, () => {
  let world: World;
  let app: FastifyInstance;
  let admin: Browser;
  let rebuiltApp: FastifyInstance | undefined;

  before(async () => {
    world = await startWorld(kind, { runnerName: 'faults' });
    app = world.plane.app;
    admin = world.plane.adminBrowser;
    // The member connects through OAuth, so there is a token to refresh.
    const authorizeUrl = await startConnect(world.plane.memberBrowser, world.integrationId);
    const { callback } = await consentAtEntra(world.emu, authorizeUrl, world.adoUser.upn);
    const connected = await deliverCallback(world.plane.memberBrowser, callback);
    assert.equal(connected.ok, true, connected.message);
  });
  after(async () => {
    report();
    // After the restart test the plane is an app of this suite's own making: world.close() would
    // close only the first one.
    await rebuiltApp?.close().catch(() => undefined);
    await world?.close();
  });

  async function saveAndTest() {
    const res = await admin.request({
      method: 'POST',
      url: `/api/v1/runners/${world.runnerId}/scm-integrations/${world.integrationId}/test`,
    });
    world.canaries.response('Save & Test', res);
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { valid: boolean; hostError?: string; oauthError?: string; runnerError?: string };
  }

  async function expireMembersToken() {
    const record = await world.runner.runtime.credentials.findForIntegration(
      { type: 'user', id: world.plane.member.id },
      world.integrationId,
    );
    assert.ok(record);
    await expireStoredAccessToken(world.runner.store.database.db, record.id);
  }

  /** Polls until `ok()` holds; the time it took. */
  async function recovery(ok: () => Promise<boolean>, timeoutMs = 30_000): Promise<number> {
    const start = Date.now();
    await eventually(async () => (await ok()) || undefined, 'recovery', timeoutMs);
    return Date.now() - start;
  }

  const FAULTS: { name: string; rule: Parameters<World['emu']['faults']['add']>[0] }[] = [
    { name: 'Entra ID slow (5 s per request)', rule: { listener: 'login', latencyMs: 5000 } },
    { name: 'Entra ID 5xx burst (503 on every request)', rule: { listener: 'login', action: 'status', status: 503 } },
    { name: 'Entra ID 429 storm (Retry-After: 1)', rule: { listener: 'login', action: 'throttle', retryAfterSeconds: 1 } },
    { name: 'Entra ID connection resets', rule: { listener: 'login', action: 'reset' } },
    { name: 'Azure DevOps 5xx burst (host probe)', rule: { listener: 'services', action: 'status', status: 500 } },
    { name: 'Azure DevOps connection resets (host probe)', rule: { listener: 'services', action: 'reset' } },
  ];

  for (const fault of FAULTS) {
    it(`Save & Test with ${fault.name}: an answer within the deadline, then recovery`, async () => {
      assert.equal((await saveAndTest()).valid, true);
      const id = world.emu.faults.add(fault.rule);
      let outcome;
      try {
        outcome = await within(SAVE_AND_TEST_DEADLINE_MS, saveAndTest);
      } finally {
        world.emu.faults.remove(id);
      }
      const answer = outcome.value;
      const message = answer?.oauthError ?? answer?.hostError ?? answer?.runnerError ?? '';
      figures.push({
        scenario: `Save & Test, ${fault.name}`,
        outcome: outcome.hung ? 'hung' : answer?.valid ? 'succeeded' : 'clear error',
        ms: outcome.ms,
        detail: message.slice(0, 110),
        recoveryMs: await recovery(async () => (await saveAndTest()).valid),
      });
      assert.equal(outcome.hung, false, 'Save & Test hung');
      assert.ok(outcome.error === undefined, String(outcome.error));
      if (!answer?.valid) assert.ok(message.length > 20, `an error an admin can act on: ${JSON.stringify(answer)}`);
    });
  }

  for (const fault of FAULTS.filter((f) => f.rule.listener === 'login')) {
    it(`token refresh with ${fault.name}: a token or a clear error within the deadline; the authorization survives`, async () => {
      await expireMembersToken();
      const tokens = world.runner.runtime.tokens;
      const id = world.emu.faults.add({ ...fault.rule, path: TOKEN_PATH });
      let outcome;
      try {
        outcome = await within(REFRESH_DEADLINE_MS, () => tokens.getAccessToken(world.plane.member.id, world.integrationId));
      } finally {
        world.emu.faults.remove(id);
      }
      const error = outcome.error as { code?: string; message?: string } | undefined;
      const recoveryMs = await recovery(async () => {
        const token = await tokens.getAccessToken(world.plane.member.id, world.integrationId).catch(() => undefined);
        return (
          token !== undefined &&
          (await world.emu.entra.verifyAccessToken(token.token).then(
            () => true,
            () => false,
          ))
        );
      });
      figures.push({
        scenario: `token refresh, ${fault.name}`,
        outcome: outcome.hung ? 'hung' : error ? 'clear error' : 'succeeded',
        ms: outcome.ms,
        detail: error ? `${error.code}: ${error.message?.slice(0, 90)}` : '',
        recoveryMs,
      });
      assert.equal(outcome.hung, false, 'the refresh hung');
      if (error) assert.equal(error.code, 'refresh_unavailable', error.message);
      // Nothing lost: the same authorization still works, no re-authorization needed.
      const record = await world.runner.runtime.credentials.findForIntegration(
        { type: 'user', id: world.plane.member.id },
        world.integrationId,
      );
      assert.equal(record?.status, 'active');
    });
  }

  it('the management plane restarted while the runner long-polls: the runner reconnects and the next Save & Test succeeds', async () => {
    assert.equal((await saveAndTest()).valid, true);
    const port = Number(new URL(world.plane.url).port);
    const down = Date.now();
    await app.close();
    // Down for a moment, as a rolling restart would be.
    await new Promise((r) => setTimeout(r, 1000));
    const rebuilt = await buildManagementApp({
      database: world.plane.database,
      logger: createLogger('info', world.plane.logs),
      publicUrl: world.plane.url,
      trustProxy: false,
      version: 'test',
      identity: { sessionTtlHours: 1, signInMaxFailures: 5, signInWindowMinutes: 15, passwordParams: TEST_PASSWORD_PARAMS },
      allowInsecureHosts: true,
      controlPollIntervalMs: 50,
      entraAuthorityUrl: world.emu.urls.login,
    });
    rebuiltApp = rebuilt.app;
    await rebuilt.app.listen({ port, host: '127.0.0.1' });
    const up = Date.now();
    app = rebuilt.app;
    world.plane.app = rebuilt.app;
    world.plane.core = rebuilt.core;
    // The sessions live in the database: the same cookie works against the new process.
    const again = new Browser(app);
    again.cookie = admin.cookie;
    again.csrfToken = admin.csrfToken;
    admin = again;
    world.plane.adminBrowser = again;
    const first = await within(SAVE_AND_TEST_DEADLINE_MS, saveAndTest);
    if (!first.value?.valid) await recovery(async () => (await saveAndTest()).valid);
    const recoveredAt = Date.now();
    figures.push({
      scenario: 'management plane restarted under a long-polling runner',
      outcome: first.hung ? 'hung' : first.value?.valid ? 'succeeded' : 'clear error',
      ms: first.ms,
      detail: `down ${up - down} ms; the first Save & Test after the restart was ${first.value?.valid ? 'valid' : JSON.stringify(first.value)}`,
      recoveryMs: recoveredAt - up,
    });
    assert.equal(first.hung, false);
    assert.ok(first.value?.valid || first.value?.runnerError, JSON.stringify(first.value));
    const runner = await admin.request({ method: 'GET', url: `/api/v1/runners/${world.runnerId}` });
    assert.equal(runner.json().status, 'online');
  });

  it(
    'PostgreSQL connections of the management plane killed under load: clear failures, nothing acknowledged is lost, the pool recovers',
    { skip: kind !== 'postgres' && 'needs PostgreSQL' },
    async () => {
      const db = world.plane.database.db as Kysely<unknown>;
      const acked: string[] = [];
      const statuses: Record<string, number> = {};
      let hung = 0;
      let firstSuccessAfterKill = 0;
      let killAt = 0;
      const stopAt = Date.now() + 3000;
      const worker = async (w: number) => {
        for (let i = 0; Date.now() < stopAt; i++) {
          const write = i % 2 === 0;
          const started = Date.now();
          const res = await within(10_000, () =>
            app.inject({
              method: write ? 'POST' : 'GET',
              url: write ? '/api/v1/api-tokens' : '/api/v1/runners',
              headers: { cookie: admin.cookie, 'x-csrf-token': admin.csrfToken },
              remoteAddress: `10.30.${w}.${i % 250}`,
              ...(write ? { payload: { name: `load-${w}-${i}` } } : {}),
            }),
          );
          if (res.hung) {
            hung++;
            continue;
          }
          const r = res.value!;
          statuses[r.statusCode] = (statuses[r.statusCode] ?? 0) + 1;
          if (r.statusCode >= 500) {
            // A clear failure: the error shape, and it says the database went away and to retry.
            assert.match(r.body, /"error":\{"code":"database_unavailable"/, r.body);
            assert.equal(r.statusCode, 503);
          } else if (killAt && started > killAt && !firstSuccessAfterKill) firstSuccessAfterKill = Date.now();
          if (write && r.statusCode === 201) acked.push(r.json().id ?? r.json().token?.id);
        }
      };
      const load = Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));
      await new Promise((r) => setTimeout(r, 1000));
      killAt = Date.now();
      const terminated = await killPoolConnections(db);
      await load;
      // A stale pooled connection may fail one more query before the pool drops it: ask until it answers.
      const present = await eventually(
        () =>
          world.plane.database.db
            .selectFrom('api_tokens')
            .select('id')
            .where('id', 'in', acked.filter(Boolean))
            .execute()
            .catch(() => undefined),
        'the database answers again',
      );
      const failed = Object.entries(statuses)
        .filter(([s]) => Number(s) >= 500)
        .reduce((a, [, n]) => a + n, 0);
      const total = Object.values(statuses).reduce((a, b) => a + b, 0) + hung;
      figures.push({
        scenario: `PostgreSQL: ${terminated.length} management pool connections terminated under load`,
        outcome: hung ? 'hung' : failed ? 'clear error' : 'succeeded',
        ms: 3000,
        detail: `${total} requests, ${failed} failed with the error shape, ${hung} hung; ${acked.length} writes acknowledged, ${acked.length - present.length} lost; statuses ${JSON.stringify(statuses)}`,
        recoveryMs: firstSuccessAfterKill ? Math.max(0, firstSuccessAfterKill - killAt) : undefined,
      });
      assert.equal(hung, 0);
      assert.equal(present.length, acked.length, 'every acknowledged write is in the database');
      assert.ok(terminated.length > 0, 'connections were terminated');
      assert.ok(firstSuccessAfterKill > 0, 'requests succeed again after the kill');
      assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
    },
  );

  it(
    'PostgreSQL connections of a runner store killed under token load: clear failures, then tokens again',
    { skip: !postgresUp && 'needs PostgreSQL' },
    async () => {
      const schema = `r_${randomBytes(5).toString('hex')}`;
      const integration = servicesIntegration('int_faults');
      const pieces = await openRunnerPieces({
        storeUrl: POSTGRES_URL,
        schema,
        encryptionKeys: randomEncryptionKeys(),
        privateKey: '',
        integration,
      });
      try {
        const token = randomBytes(24).toString('base64url');
        world.canaries.watch(token, 'runner-store token');
        await pieces.credentials.insert({
          subject: { type: 'user', id: 'u1' },
          integrationId: integration.id,
          host: 'dev.azure.com',
          method: 'oauth',
          secret: JSON.stringify({ access_token: token, refresh_token: 'r'.repeat(20) }),
          metadata: { issuer: 'x', clientId: 'c', scopes: [], accessTokenExpiresAt: new Date(Date.now() + 3600_000).toISOString() },
        });
        const tokens = pieces.tokens();
        let ok = 0;
        let failed = 0;
        let hung = 0;
        let killAt = 0;
        let firstOkAfterKill = 0;
        const codes = new Set<string>();
        const stopAt = Date.now() + 2500;
        const load = Promise.all(
          Array.from({ length: 8 }, async () => {
            while (Date.now() < stopAt) {
              const started = Date.now();
              const r = await within(10_000, () => tokens.getAccessToken('u1', integration.id));
              if (r.hung) hung++;
              else if (r.error) {
                failed++;
                codes.add((r.error as { code?: string }).code ?? (r.error as Error).message.slice(0, 60));
              } else {
                ok++;
                if (killAt && started > killAt && !firstOkAfterKill) firstOkAfterKill = Date.now();
              }
            }
          }),
        );
        await new Promise((r) => setTimeout(r, 800));
        killAt = Date.now();
        const terminated = await killPoolConnections(pieces.store.database.db as Kysely<unknown>);
        await load;
        figures.push({
          scenario: `PostgreSQL: ${terminated.length} runner-store connections terminated under token load`,
          outcome: hung ? 'hung' : failed ? 'clear error' : 'succeeded',
          ms: 2500,
          detail: `${ok} tokens served, ${failed} failed (${[...codes].join(', ')}), ${hung} hung`,
          recoveryMs: firstOkAfterKill ? firstOkAfterKill - killAt : undefined,
        });
        assert.equal(hung, 0);
        assert.ok(firstOkAfterKill > 0);
        const after = await eventually(() => tokens.getAccessToken('u1', integration.id).catch(() => undefined), 'a token again');
        assert.equal(after.token, token, 'the credential is intact');
      } finally {
        await sql`drop schema if exists ${sql.id(schema)} cascade`.execute(pieces.store.database.db).catch(() => undefined);
        await pieces.close();
      }
    },
  );

  it('Entra ID and Azure DevOps down entirely: Save & Test and refresh answer with clear errors at once', async () => {
    await expireMembersToken();
    await world.emu.close();
    const test = await within(SAVE_AND_TEST_DEADLINE_MS, saveAndTest);
    const refresh = await within(REFRESH_DEADLINE_MS, () =>
      world.runner.runtime.tokens.getAccessToken(world.plane.member.id, world.integrationId),
    );
    const saveMessage = test.value?.oauthError ?? test.value?.hostError ?? '';
    figures.push({
      scenario: 'Save & Test, emulator down (connection refused)',
      outcome: test.hung ? 'hung' : test.value?.valid ? 'succeeded' : 'clear error',
      ms: test.ms,
      detail: saveMessage.slice(0, 110),
    });
    const refreshError = refresh.error as { code?: string; message?: string } | undefined;
    figures.push({
      scenario: 'token refresh, emulator down (connection refused)',
      outcome: refresh.hung ? 'hung' : refreshError ? 'clear error' : 'succeeded',
      ms: refresh.ms,
      detail: `${refreshError?.code}: ${refreshError?.message?.slice(0, 90)}`,
    });
    assert.equal(test.hung, false);
    assert.equal(test.value?.valid, false);
    assert.ok(test.value?.hostError && test.value.oauthError, JSON.stringify(test.value));
    assert.equal(refresh.hung, false);
    assert.equal(refreshError?.code, 'refresh_unavailable');
  });

  it('no secret canary in logs, responses or the management database', async () => {
    await world.canaries.assertClean();
  });
});

/** The PostgreSQL backends this pool holds (found by asking through it), terminated from outside. */
async function killPoolConnections(db: Kysely<unknown>): Promise<number[]> {
  const pids = new Set<number>();
  await Promise.all(
    Array.from({ length: 12 }, async () => {
      // A connection that is already dead simply is not counted.
      const rows = (await sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.05)`.execute(db).catch(() => ({ rows: [] })))
        .rows;
      if (rows[0]) pids.add(Number(rows[0].pid));
    }),
  );
  const admin = new pg.Client({ connectionString: POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [[...pids]]);
  } finally {
    await admin.end();
  }
  return [...pids];
}
