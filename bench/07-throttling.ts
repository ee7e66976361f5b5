// Benchmark 7: Keyway's journeys under Azure DevOps's consumption limit (emulator/throttling.ts,
// docs/throttling.md). Three journeys — a refresh storm followed by a REST call each, a sync of 100
// variable groups, a listing of a 5,000-branch repository — each run with the emulator's throttling
// off, on with the documented costs (200 TSTUs per five minutes), and on under pressure (a budget
// small enough that the journey crosses it). Target: no 429 ever reaches the user; the time each
// mode takes is reported beside the unthrottled run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { startSeeded, type SeededWorld } from '../emulator/test-support.ts';
import type { ThrottleConfig } from '../emulator/throttling.ts';
import { createAzureDevOpsClient } from '../src/azure-devops/client.ts';
import { resolveEndpoints } from '../src/azure-devops/endpoints.ts';
import type { RunnerAppConnection } from '../src/control/app-connections.ts';
import { createFieldCrypto } from '../src/runner/keys/field-crypto.ts';
import type { ControlRequest } from '../src/control/protocol.ts';
import { createRepositoryHandlers } from '../src/runner/repositories/handlers.ts';
import { createSyncExecutor } from '../src/runner/syncs/executor.ts';
import { createSyncStore } from '../src/runner/syncs/store.ts';
import { nowMs } from './lib.ts';
import type { BenchOptions, BenchResult, Benchmark, Figure } from './lib.ts';
import { createRunnerFixture, openSqliteRunnerPieces, servicesIntegration, storePat } from './support/runner-fixture.ts';
import type { RunnerPieces } from './support/runner-fixture.ts';
import type { RunnerIntegration } from '../src/control/integration.ts';

const ID = '7';
const TITLE = "Journeys under Azure DevOps's consumption limit (throttling off, on, under pressure)";

type Mode = 'off' | 'on' | 'pressure';
const MODES: Mode[] = ['off', 'on', 'pressure'];

interface Outcome {
  ms: number;
  /** Throttling errors that reached the caller (a 429 retried to exhaustion, or a pause too long to wait). */
  throttledForUser: number;
  otherFailures: string[];
  counters: { noticed: number; delayed: number; blocked: number };
}

function configure(s: SeededWorld, mode: Mode, pressure: Partial<ThrottleConfig>): void {
  s.emu.throttle.reset();
  if (mode === 'off') s.emu.throttle.configure({ enabled: false });
  else if (mode === 'on')
    s.emu.throttle.configure({ enabled: true, limit: 200, windowMs: 300_000, noticeFraction: 0.5, blockFactor: 1.5, maxDelayMs: 30_000 });
  else s.emu.throttle.configure({ enabled: true, ...pressure });
}

function isThrottled(err: unknown): boolean {
  const e = err as { kind?: string; code?: string; message?: string };
  return e?.kind === 'throttled' || e?.code === 'throttled' || /throttl|TF400733|429/i.test(e?.message ?? '');
}

async function measure(s: SeededWorld, run: () => Promise<{ failures: unknown[] }>): Promise<Outcome> {
  const start = nowMs();
  const { failures } = await run();
  const ms = nowMs() - start;
  const t = s.emu.throttle.snapshot().totals;
  return {
    ms,
    throttledForUser: failures.filter(isThrottled).length,
    otherFailures: [
      ...new Set(failures.filter((f) => !isThrottled(f)).map((f) => (f instanceof Error ? f.message : String(f)).slice(0, 160))),
    ],
    counters: { noticed: t.noticed, delayed: t.delayed, blocked: t.blocked },
  };
}

/**
 * A journey against a seeded emulator through a runner store (SQLite, in a temp dir) that reaches
 * it with a PAT: `prepare` sets the journey up and answers how to run it in a mode; it runs in each
 * mode in turn, and everything is closed afterwards.
 */
async function withPatRunner(
  dirPrefix: string,
  integrationId: string,
  prepare: (s: SeededWorld, pieces: RunnerPieces, integration: RunnerIntegration) => Promise<(mode: Mode) => Promise<Outcome>>,
): Promise<Record<Mode, Outcome>> {
  const s = await startSeeded({});
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  const integration = servicesIntegration(integrationId);
  const pieces = await openSqliteRunnerPieces(dir, integration);
  try {
    const run = await prepare(s, pieces, integration);
    const out = {} as Record<Mode, Outcome>;
    for (const mode of MODES) out[mode] = await run(mode);
    return out;
  } finally {
    await pieces.close();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 100 syncs of 100 variables (every tenth secret), 10 at a time, one PAT: the first run creates every group. */
async function syncJourney(options: BenchOptions): Promise<Record<Mode, Outcome>> {
  const groups = options.short ? 40 : 100;
  return withPatRunner('kw-b7-sync-', 'int_b7', async (s, pieces) => {
    const store = createSyncStore(pieces.store.database.db, createFieldCrypto(pieces.store.keys));
    const executor = createSyncExecutor({
      store,
      tokens: { credentialFor: async () => ({ kind: 'pat', token: s.pat }) },
      endpoints: resolveEndpoints({ services: s.emu.urls.services, vssps: s.emu.urls.vssps }),
    });
    const connection: RunnerAppConnection = {
      id: 'conn_b7',
      method: 'access-token',
      organization: s.org,
      tenantId: null,
      clientId: null,
      issuerUrl: null,
    };
    return async (mode) => {
      // Each mode creates its own groups (fresh names), so every run writes every group once.
      const ids = Array.from({ length: groups }, (_, g) => `sync_b7_${mode}_${g}`);
      for (const id of ids) {
        await store.replace(
          id,
          Array.from({ length: 100 }, (_, v) => ({
            name: `VAR_${v}`,
            isSecret: v % 10 === 0,
            value: v % 10 === 0 ? `s-${randomBytes(6).toString('hex')}` : `value-${v}`,
          })),
        );
      }
      // Under pressure: about half of the sync's cost fits in a 4-second window.
      configure(s, mode, { limit: groups * 0.05, windowMs: 4000, noticeFraction: 0.5, blockFactor: 1.5, maxDelayMs: 2000 });
      return measure(s, async () => {
        const failures: unknown[] = [];
        let next = 0;
        await Promise.all(
          Array.from({ length: 10 }, async () => {
            for (let g = next++; g < groups; g = next++) {
              const r = await executor.run({
                syncId: ids[g]!,
                runId: `${mode}-${g}`,
                connection,
                target: { organization: s.org, project: s.project, groupName: `kw-b7-${mode}-${g}`, description: null },
              });
              if (r.status !== 'succeeded') failures.push(new Error(r.error ?? 'sync failed'));
            }
          }),
        );
        return { failures };
      });
    };
  });
}

/** The branch picker paging through a 5,000-branch repository, 500 at a time, through the runner's handler. */
async function listingJourney(options: BenchOptions): Promise<Record<Mode, Outcome>> {
  const branches = options.short ? 2000 : 5000;
  return withPatRunner('kw-b7-refs-', 'int_b7r', async (s, pieces, integration) => {
    await s.emu.world.createRepository(s.org, s.project, 'monorepo', {
      commits: 2,
      branches: Array.from({ length: branches - 1 }, (_, i) => `topic/${String(i).padStart(5, '0')}`),
      createdBy: s.user.id,
    });
    await storePat(pieces, 'u1', integration, s.pat, s.org);
    const endpoints = resolveEndpoints({ services: s.emu.urls.services, vssps: s.emu.urls.vssps });
    const handlers = createRepositoryHandlers({
      tokens: pieces.tokens(),
      credentials: pieces.credentials,
      integrations: { remember: () => undefined },
      endpoints,
    });
    return async (mode) => {
      // Under pressure: about a third of the listing fits in a 3-second window; the handler's client
      // waits at most 5 s, so the pacing must keep every wait below that.
      configure(s, mode, { limit: (branches / 500) * 0.17, windowMs: 3000, noticeFraction: 0.5, blockFactor: 1.5, maxDelayMs: 1000 });
      return measure(s, async () => {
        const failures: unknown[] = [];
        let token: string | undefined;
        let seen = 0;
        try {
          do {
            const payload = {
              userId: 'u1',
              integration,
              organization: s.org,
              project: s.project,
              repository: 'monorepo',
              top: 500,
              ...(token ? { continuationToken: token } : {}),
            };
            // The handler reads only the payload; the control-channel request is not needed here.
            const page = await handlers['list-branches'](payload, undefined as unknown as ControlRequest);
            seen += page.items.length;
            token = page.continuationToken ?? undefined;
          } while (token);
          if (seen !== branches) failures.push(new Error(`listed ${seen} of ${branches} branches`));
        } catch (err) {
          failures.push(err);
        }
        return { failures };
      });
    };
  });
}

/** A refresh storm: N concurrent requests for one expired OAuth token, each then calling Azure DevOps with it. */
async function stormJourney(options: BenchOptions): Promise<Record<Mode, Outcome>> {
  const n = options.short ? 100 : 300;
  const s = await startSeeded({ accessTokenLifetimeSeconds: 3600 });
  const dir = mkdtempSync(join(tmpdir(), 'kw-b7-storm-'));
  const fixture = await createRunnerFixture(s.emu, `sqlite:${join(dir, 'runner.db')}`);
  try {
    const credentialId = await fixture.connect('storm-user');
    const tokens = fixture.tokens();
    const first = await tokens.getAccessToken('storm-user', fixture.config.integration.id);
    const user = s.emu.world.userByOid(String(decodeJwt(first.token).oid));
    if (user) s.emu.world.addMember(s.org, user.id);
    const endpoints = resolveEndpoints({ services: s.emu.urls.services, vssps: s.emu.urls.vssps });
    const out = {} as Record<Mode, Outcome>;
    for (const mode of MODES) {
      await fixture.expire(credentialId);
      // Under pressure: about a third of the storm's calls fit in a 3-second window.
      configure(s, mode, { limit: n * 0.01 * 0.35, windowMs: 3000, noticeFraction: 0.5, blockFactor: 1.5, maxDelayMs: 1000 });
      out[mode] = await measure(s, async () => {
        const failures: unknown[] = [];
        await Promise.all(
          Array.from({ length: n }, async () => {
            try {
              const token = await tokens.getAccessToken('storm-user', fixture.config.integration.id);
              const client = createAzureDevOpsClient({
                target: { kind: 'services', organization: s.org },
                endpoints,
                credential: { kind: 'bearer', token: token.token },
              });
              await client.getRepository(s.project, s.repo);
            } catch (err) {
              failures.push(err);
            }
          }),
        );
        return { failures };
      });
    }
    return out;
  } finally {
    await fixture.destroy();
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function figuresFor(label: string, r: Record<Mode, Outcome>): Figure[] {
  const throttledForUser = MODES.reduce((a, m) => a + r[m].throttledForUser, 0);
  const other = MODES.flatMap((m) => r[m].otherFailures.map((f) => `${m}: ${f}`));
  const c = r.pressure.counters;
  return [
    {
      name: `${label}: 429s reaching the user (all modes)`,
      value: throttledForUser,
      unit: '',
      ...(other.length ? { detail: `other failures: ${other.join('; ')}` } : {}),
      target: '0, and no other failure',
      met: throttledForUser === 0 && other.length === 0,
      kind: 'correctness',
    },
    { name: `${label}: time, throttling off`, value: r.off.ms, unit: 'ms', kind: 'info' },
    {
      name: `${label}: time, throttling on (documented costs)`,
      value: r.on.ms,
      unit: 'ms',
      baseline: { value: r.off.ms, label: 'off' },
      ratio: r.on.ms / Math.max(1, r.off.ms),
      detail: `${r.on.counters.noticed} answers with X-RateLimit-*, ${r.on.counters.delayed} delayed, ${r.on.counters.blocked} blocked`,
      kind: 'info',
    },
    {
      name: `${label}: time under pressure`,
      value: r.pressure.ms,
      unit: 'ms',
      baseline: { value: r.off.ms, label: 'off' },
      ratio: r.pressure.ms / Math.max(1, r.off.ms),
      detail: `${c.noticed} answers with X-RateLimit-*, ${c.delayed} delayed, ${c.blocked} blocked (retried by the client)`,
      kind: 'info',
    },
  ];
}

export const benchmark: Benchmark = {
  id: ID,
  title: TITLE,
  async run(options: BenchOptions): Promise<BenchResult> {
    const storm = await stormJourney(options);
    const sync = await syncJourney(options);
    const listing = await listingJourney(options);
    return {
      id: ID,
      title: TITLE,
      figures: [
        ...figuresFor(`refresh storm of ${options.short ? 100 : 300}, each then a REST call`, storm),
        ...figuresFor(`sync of ${options.short ? 40 : 100} groups × 100 variables`, sync),
        ...figuresFor(`listing a ${options.short ? '2,000' : '5,000'}-branch repository`, listing),
      ],
      notes: [
        '"on" uses the documented limit (200 TSTUs per sliding five minutes) with the emulator\'s default costs; these journeys stay far below it, as they would against Azure DevOps.',
        '"under pressure" shrinks the budget and the window so each journey crosses the notice, delay and (without pacing) block levels; its time shows what slowing down costs. Blocked requests are retried by the client after Retry-After and never reach the user.',
      ],
    };
  },
};
