// Benchmark 5: variable group sync. 10,000 variables over 100 groups, synced by the runner's sync
// executor against the emulator with a PAT: first run (creates), a run with nothing changed, a run
// with 10 groups changed, and a changed run under a 429 storm with Retry-After. Targets: one write
// per changed group and none for unchanged groups; under 429 every run still succeeds, with exactly
// one write per group and the waits the service asked for.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startSeeded } from '../emulator/test-support.ts';
import { resolveEndpoints } from '../src/azure-devops/endpoints.ts';
import type { RunnerAppConnection, SyncRunResult } from '../src/control/app-connections.ts';
import { createFieldCrypto } from '../src/runner/keys/field-crypto.ts';
import type * as ExecutorModule from '../src/runner/syncs/executor.ts';
import type * as StoreModule from '../src/runner/syncs/store.ts';
import { didNotLoad, nowMs } from './lib.ts';
import type { BenchOptions, BenchResult, Benchmark, Figure } from './lib.ts';
import { openSqliteRunnerPieces, servicesIntegration } from './support/runner-fixture.ts';

const ID = '5';
const TITLE = 'Variable group sync: 10,000 variables over 100 groups';
// Azure DevOps updates a group at the organization level: PUT /{org}/_apis/distributedtask/variablegroups/{id}.
const VG_WRITE = '/*/_apis/distributedtask/variablegroups/*';
const VG_LIST = '/*/*/_apis/distributedtask/variablegroups';

export const benchmark: Benchmark = {
  id: ID,
  title: TITLE,
  async run(options: BenchOptions): Promise<BenchResult> {
    let executorModule: typeof ExecutorModule;
    let storeModule: typeof StoreModule;
    try {
      executorModule = await import('../src/runner/syncs/executor.ts');
      storeModule = await import('../src/runner/syncs/store.ts');
    } catch (err) {
      return didNotLoad(ID, TITLE, `the runner's sync executor (src/runner/syncs/)`, err);
    }
    const groups = 100;
    const perGroup = 100;
    const concurrency = 10;
    const s = await startSeeded({});
    const dir = mkdtempSync(join(tmpdir(), 'kw-b5-'));
    const integration = servicesIntegration('int_b5');
    const pieces = await openSqliteRunnerPieces(dir, integration);
    try {
      const store = storeModule.createSyncStore(pieces.store.database.db, createFieldCrypto(pieces.store.keys));
      const sleeps: number[] = [];
      const executor = executorModule.createSyncExecutor({
        store,
        tokens: { credentialFor: async () => ({ kind: 'pat', token: s.pat }) },
        endpoints: resolveEndpoints({ services: s.emu.urls.services, vssps: s.emu.urls.vssps }),
        // Real waits, recorded: the figure is how long the service made us wait.
        clientOptions: {
          sleep: (ms) => {
            sleeps.push(ms);
            return new Promise((r) => setTimeout(r, ms));
          },
        },
      });
      const connection: RunnerAppConnection = {
        id: 'conn_b5',
        method: 'access-token',
        organization: s.org,
        tenantId: null,
        clientId: null,
        issuerUrl: null,
      };
      const syncIds = Array.from({ length: groups }, (_, g) => `sync_b5_${g}`);
      const value = (g: number, v: number, generation: number) => `value-${g}-${v}-${generation}`;
      async function setVariables(g: number, generation: number) {
        await store.replace(
          syncIds[g]!,
          Array.from({ length: perGroup }, (_, v) => ({
            name: `VAR_${String(v).padStart(3, '0')}`,
            isSecret: v % 10 === 0,
            value: v % 10 === 0 ? `s-${randomBytes(8).toString('hex')}-${generation}` : value(g, v, generation),
          })),
        );
      }
      const generations = new Array<number>(groups).fill(0);
      for (let g = 0; g < groups; g++) await setVariables(g, 0);

      async function runAll(label: string) {
        s.emu.resetCounters();
        sleeps.length = 0;
        const results: SyncRunResult[] = [];
        const start = nowMs();
        let next = 0;
        await Promise.all(
          Array.from({ length: concurrency }, async () => {
            for (let g = next++; g < groups; g = next++) {
              results.push(
                await executor.run({
                  syncId: syncIds[g]!,
                  runId: `${label}-${g}`,
                  connection,
                  target: { organization: s.org, project: s.project, groupName: `kw-bench-${g}`, description: null },
                }),
              );
            }
          }),
        );
        const ms = nowMs() - start;
        const counters = s.emu.counters().restCalls;
        const sent = Object.values(counters).reduce((a, b) => a + b, 0);
        const writesSeen = Object.entries(counters)
          .filter(([k]) => /^(POST|PUT) .*variablegroups/.test(k))
          .reduce((a, [, n]) => a + n, 0);
        return {
          ms,
          failed: results.filter((r) => r.status !== 'succeeded').length,
          writes: results.reduce((a, r) => a + r.writes, 0),
          requests: results.reduce((a, r) => a + r.requests, 0),
          retries: results.reduce((a, r) => a + r.retries, 0),
          sent,
          writesSeen,
          waited: sleeps.reduce((a, b) => a + b, 0),
          // Retries wait the Retry-After in full; the client's pacer also holds other requests that
          // share the credential until that moment (shorter waits), which are not retries.
          shortestWait: sleeps.filter((ms) => ms >= 1000).length ? Math.min(...sleeps.filter((ms) => ms >= 1000)) : 0,
          retryWaits: sleeps.filter((ms) => ms >= 1000).length,
          waits: sleeps.length,
          errors: [...new Set(results.map((r) => r.error).filter(Boolean))],
        };
      }

      const first = await runAll('create');
      const unchanged = await runAll('unchanged');
      const changedGroups = 10;
      for (let g = 0; g < changedGroups; g++) await setVariables(g * 10, ++generations[g * 10]!);
      const changed = await runAll('changed');
      // A 429 storm: the first writes and reads are throttled with Retry-After, then the service recovers.
      for (let g = 0; g < groups; g++) await setVariables(g, ++generations[g]!);
      const throttled = options.short ? 10 : 30;
      const storm = [
        s.emu.faults.add({
          listener: 'services',
          method: 'PUT',
          path: VG_WRITE,
          action: 'throttle',
          retryAfterSeconds: 1,
          times: throttled,
        }),
        s.emu.faults.add({
          listener: 'services',
          method: 'GET',
          path: VG_LIST,
          action: 'throttle',
          retryAfterSeconds: 1,
          times: throttled,
        }),
      ];
      const under429 = await runAll('throttled');
      for (const id of storm) s.emu.faults.remove(id);

      const line = (label: string, r: typeof first) =>
        `  ${label}: ${r.ms.toFixed(0)} ms, ${r.requests} requests (${r.sent} reached the emulator), ${r.writes} writes, ${r.retries} retries, ${r.waits} waits summing ${(r.waited / 1000).toFixed(1)} s across parallel runs, ${r.failed} failed${r.errors.length ? ` (${r.errors.join('; ')})` : ''}`;
      options.log(line('first run (creates)', first));
      options.log(line('nothing changed', unchanged));
      options.log(line(`${changedGroups} groups changed`, changed));
      options.log(line(`all changed, ${throttled} reads + ${throttled} writes answered 429 (Retry-After: 1)`, under429));
      const figures: Figure[] = [
        {
          name: 'first run: writes for 100 new groups',
          value: first.writesSeen,
          unit: '',
          detail: `${first.requests} requests, ${first.ms.toFixed(0)} ms`,
          target: `= ${groups} (one per group)`,
          met: first.writesSeen === groups && first.failed === 0,
          kind: 'correctness',
        },
        {
          name: 'unchanged run: writes',
          value: unchanged.writesSeen,
          unit: '',
          detail: `${unchanged.requests} requests, ${unchanged.ms.toFixed(0)} ms`,
          target: '= 0',
          met: unchanged.writesSeen === 0 && unchanged.failed === 0,
          kind: 'correctness',
        },
        {
          name: 'unchanged run: requests per group',
          value: unchanged.requests / groups,
          unit: '',
          target: '≤ 1 (one read)',
          met: unchanged.requests <= groups,
          kind: 'performance',
        },
        {
          name: `${changedGroups} groups changed: writes`,
          value: changed.writesSeen,
          unit: '',
          detail: `${changed.requests} requests, ${changed.ms.toFixed(0)} ms`,
          target: `= ${changedGroups}`,
          met: changed.writesSeen === changedGroups && changed.failed === 0,
          kind: 'correctness',
        },
        {
          name: 'under 429: failed runs',
          value: under429.failed,
          unit: '',
          detail: `${under429.ms.toFixed(0)} ms wall clock, ${under429.retries} retries`,
          target: '0',
          met: under429.failed === 0,
          kind: 'correctness',
        },
        {
          name: 'under 429: shortest wait before a retry',
          value: under429.shortestWait,
          unit: 'ms',
          detail: `${under429.retryWaits} retry waits, ${under429.waits - under429.retryWaits} shorter pacing waits of requests sharing the credential`,
          target: '≥ 1000 ms (Retry-After: 1 honoured), one per retry',
          met: under429.retryWaits === under429.retries && under429.shortestWait >= 1000,
          kind: 'correctness',
        },
        {
          name: 'under 429: successful writes',
          value: under429.writes,
          unit: '',
          detail: `${under429.writesSeen} write requests reached the emulator, ${throttled} of them answered 429`,
          target: `= ${groups} (no duplicate writes)`,
          met: under429.writes === groups && under429.writesSeen === groups + throttled,
          kind: 'correctness',
        },
        {
          name: 'time for 10,000 variables (first run)',
          value: first.ms,
          unit: 'ms',
          baseline: { value: unchanged.ms, label: 'unchanged run' },
          ratio: first.ms / Math.max(1, unchanged.ms),
          kind: 'info',
        },
      ];
      return {
        id: ID,
        title: TITLE,
        figures,
        notes: [`${groups} syncs of ${perGroup} variables (every tenth secret), ${concurrency} at a time.`],
      };
    } finally {
      await pieces.close();
      await s.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
