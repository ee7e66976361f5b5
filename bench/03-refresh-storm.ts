// Benchmark 3: a refresh storm. 1,000 concurrent requests for one expired token, from two runner
// *processes* sharing one PostgreSQL runner store (500 each, fired at the same instant). Target:
// exactly one token request reaches the emulator; p99 latency is compared with the emulator's own
// refresh-token latency, measured in the same run.
import * as client from 'openid-client';
import { join } from 'node:path';
import { startEmulator } from '../emulator/index.ts';
import { POSTGRES_URL, isPostgresAvailable } from '../test/support/databases.ts';
import type { OAuthTokenSet } from '../src/runner/oauth/flow.ts';
import { BENCH_DIR, compared, lowerIsBetter, noneExpected, notAvailable, nowMs, startWorker, summarize } from './lib.ts';
import type { BenchOptions, BenchResult, Benchmark } from './lib.ts';
import { createRunnerFixture } from './support/runner-fixture.ts';

const ID = '3';
const TITLE = 'Refresh storm (2 runner processes, one PostgreSQL store)';

type Message = { type: 'ready' } | { type: 'done'; latencies: number[]; errors: string[]; distinctTokens: string[] };

export const benchmark: Benchmark = {
  id: ID,
  title: TITLE,
  async run(options: BenchOptions): Promise<BenchResult> {
    if (!(await isPostgresAvailable())) return notAvailable(ID, TITLE, `PostgreSQL is not reachable at ${new URL(POSTGRES_URL).host}`);
    const perProcess = options.short ? 250 : 500;
    const rounds = options.short ? 1 : 3;
    const emu = await startEmulator({ accessTokenLifetimeSeconds: 3600 });
    emu.world.addOrganization('contoso');
    const fixture = await createRunnerFixture(emu, POSTGRES_URL);
    const workers: ReturnType<typeof startWorker<Message>>[] = [];
    try {
      // The emulator's own refresh latency: sequential refresh-token grants straight at it.
      const probeId = await fixture.connect('baseline-user');
      const config = await fixture.configFor(fixture.config.integration);
      let refreshToken = (JSON.parse((await fixture.credentials.readSecret(probeId)) ?? '{}') as OAuthTokenSet).refresh_token ?? '';
      const direct: number[] = [];
      for (let i = 0; i < (options.short ? 10 : 30); i++) {
        const start = nowMs();
        const res = await client.refreshTokenGrant(config, refreshToken);
        direct.push(nowMs() - start);
        refreshToken = res.refresh_token ?? refreshToken;
      }
      const emulatorLatency = summarize(direct.slice(2));

      const userId = 'storm-user';
      const credentialId = await fixture.connect(userId);
      const env = { KEYWAY_BENCH_FIXTURE: JSON.stringify(fixture.config), KEYWAY_LOG_LEVEL: 'silent' };
      for (const owner of ['replica-a', 'replica-b'])
        workers.push(startWorker<Message>(join(BENCH_DIR, 'workers/token-storm.ts'), { ...env, KEYWAY_BENCH_OWNER: owner }));
      await Promise.all(workers.map((w) => w.next('ready')));

      const latencies: number[] = [];
      const errors: string[] = [];
      const upstream: number[] = [];
      const distinct: number[] = [];
      for (let round = 0; round < rounds; round++) {
        await fixture.expire(credentialId);
        const before = fixture.refreshRequests();
        const at = Date.now() + 300;
        for (const w of workers) w.send({ type: 'go', at, userId, count: perProcess });
        const results = await Promise.all(workers.map((w) => w.next<Extract<Message, { type: 'done' }>>('done')));
        upstream.push(fixture.refreshRequests() - before);
        distinct.push(new Set(results.flatMap((r) => r.distinctTokens)).size);
        for (const r of results) {
          latencies.push(...r.latencies);
          errors.push(...r.errors);
        }
      }
      // The same storm against a valid token: what the lookups alone cost at this concurrency.
      const at = Date.now() + 300;
      for (const w of workers) w.send({ type: 'go', at, userId, count: perProcess });
      const warm = summarize(
        (await Promise.all(workers.map((w) => w.next<Extract<Message, { type: 'done' }>>('done')))).flatMap((r) => r.latencies),
      );

      // Token revoked early: Azure DevOps refuses the stored access token long before its recorded
      // expiry (the emulator revokes the user's tokens); every request calls Azure DevOps with it,
      // is refused, and the refusal must lead to one refresh across both processes.
      const earlyUser = 'revoked-early-user';
      await fixture.connect(earlyUser, { organizations: ['contoso'] });
      const rest = { servicesUrl: emu.urls.services, organization: 'contoso' };
      for (const w of workers) w.send({ type: 'go', at: Date.now() + 300, userId: earlyUser, count: 10, rest });
      await Promise.all(workers.map((w) => w.next('done')));
      emu.entra.faults.expireUserAccessTokensNow(fixture.adoUser(earlyUser)!.oid);
      const earlyBefore = fixture.refreshRequests();
      const earlyAt = Date.now() + 300;
      for (const w of workers) w.send({ type: 'go', at: earlyAt, userId: earlyUser, count: perProcess, rest });
      const early = await Promise.all(workers.map((w) => w.next<Extract<Message, { type: 'done' }>>('done')));
      const earlyRefreshes = fixture.refreshRequests() - earlyBefore;
      const earlyErrors = early.flatMap((r) => r.errors);
      const earlyDistinct = new Set(early.flatMap((r) => r.distinctTokens)).size;
      const earlyLatency = summarize(early.flatMap((r) => r.latencies));
      // The same REST storm with the token that works now: what the Azure DevOps calls alone cost.
      for (const w of workers) w.send({ type: 'go', at: Date.now() + 300, userId: earlyUser, count: perProcess, rest });
      const restWarm = summarize(
        (await Promise.all(workers.map((w) => w.next<Extract<Message, { type: 'done' }>>('done')))).flatMap((r) => r.latencies),
      );
      options.log(
        `  token revoked early: ${perProcess * 2} requests calling Azure DevOps; token requests ${earlyRefreshes}; distinct tokens ${earlyDistinct}; errors ${earlyErrors.length}`,
      );
      const storm = summarize(latencies);
      const worstUpstream = Math.max(...upstream);
      options.log(
        `  rounds: ${rounds} × ${perProcess * 2} requests; token requests per round ${JSON.stringify(upstream)}; distinct tokens handed out per round ${JSON.stringify(distinct)}; errors ${errors.length}`,
      );
      return {
        id: ID,
        title: TITLE,
        figures: [
          {
            name: `token requests reaching the emulator per storm of ${perProcess * 2} (worst of ${rounds})`,
            value: worstUpstream,
            unit: '',
            target: 'exactly 1',
            met: upstream.every((n) => n === 1) && distinct.every((n) => n === 1) && errors.length === 0,
            kind: 'correctness',
          },
          noneExpected('failed requests', errors.length),
          compared('storm latency p50', storm.p50, 'ms', { value: emulatorLatency.p50, label: 'emulator refresh p50' }),
          lowerIsBetter('storm latency p99', storm.p99, 'ms', { value: emulatorLatency.p50, label: 'emulator refresh p50' }, undefined, {
            target: '< 1000 ms',
            met: storm.p99 < 1000,
          }),
          {
            name: `token revoked early: token requests per storm of ${perProcess * 2} refused requests`,
            value: earlyRefreshes,
            unit: '',
            target: 'exactly 1',
            met: earlyRefreshes === 1 && earlyDistinct === 1 && earlyErrors.length === 0,
            kind: 'correctness',
          },
          noneExpected('token revoked early: failed requests', earlyErrors.length),
          compared('token revoked early: latency p99 (refusal, one refresh, retry)', earlyLatency.p99, 'ms', {
            value: restWarm.p99,
            label: 'the same REST storm with a working token, p99',
          }),
          { name: 'same storm with a valid token (no refresh), p50', value: warm.p50, unit: 'ms', kind: 'info' },
          { name: 'same storm with a valid token (no refresh), p99', value: warm.p99, unit: 'ms', kind: 'info' },
          { name: 'emulator refresh latency p99 (direct, sequential)', value: emulatorLatency.p99, unit: 'ms', kind: 'info' },
        ],
        notes: [
          'Each replica single-flights in-process; across replicas the row lease decides who refreshes and the other polls every 50 ms.',
          'Token revoked early: each request calls connectionData with the stored token; the 401 makes the runner refresh once (the same lease), and the request retries with the new token.',
          "Latency includes each request's own credential reads (two queries) queued on a 10-connection pool per replica: the valid-token storm shows that part alone.",
          "The < 1000 ms bound is this benchmark's own; the issue sets no number for it.",
        ],
      };
    } finally {
      await Promise.allSettled(workers.map((w) => w.stop()));
      await fixture.destroy();
      await emu.close();
    }
  },
};
