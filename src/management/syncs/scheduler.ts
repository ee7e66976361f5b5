import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError } from '../../http/errors.ts';
import { SYNC_REQUESTS } from '../../control/app-connections.ts';
import type { RunnerAppConnection, SyncRunPayload, SyncRunResult } from '../../control/app-connections.ts';
import type { Logger } from '../../logging/logger.ts';
import { newId } from '../identity/tokens.ts';
import type { ControlChannel } from '../runners/control.ts';
import { createSyncStore } from './store.ts';
import type { SyncRow, SyncRunRow } from './store.ts';

export type RunTrigger = 'manual' | 'change' | 'schedule';
type RunRow = SyncRunRow;

export interface SyncSchedulerDeps {
  db: Kysely<ManagementDB>;
  control: Pick<ControlChannel, 'call'>;
  /** The connection of a sync, as its runner needs it. */
  connection: (sync: SyncRow) => Promise<{ runnerId: string; connection: RunnerAppConnection }>;
  logger?: Logger;
  /** How often a replica looks for due schedules and queued runs. Default 15 s. */
  intervalMs?: number;
  /** How long the runner may take for one run. Default 10 minutes. */
  runTimeoutMs?: number;
  /** A run claimed longer ago than this is taken over (its replica died). Default runTimeoutMs + 1 minute. */
  staleAfterMs?: number;
  now?: () => Date;
}

/**
 * Runs variable group syncs: queues runs (on demand, on change, on schedule) and carries them out
 * through the sync's runner. Safe with several management replicas: a due schedule is taken with a
 * conditional UPDATE of its next_run_at, and a run holds its sync with a conditional UPDATE of
 * running_run_id, so each run happens once and runs of one sync never overlap.
 */
export function createSyncScheduler(deps: SyncSchedulerDeps) {
  const store = createSyncStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const intervalMs = deps.intervalMs ?? 15_000;
  const runTimeoutMs = deps.runTimeoutMs ?? 10 * 60_000;
  const staleAfterMs = deps.staleAfterMs ?? runTimeoutMs + 60_000;
  const replica = `mgmt-${randomBytes(4).toString('hex')}`;
  const inFlight = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;

  const iso = (d = now()) => d.toISOString();

  async function enqueue(syncId: string, trigger: RunTrigger, requestedBy: string | null): Promise<{ id: string; coalesced: boolean }> {
    // One queued run per sync is enough: it reads the latest set when it starts.
    const queued = await store.firstQueuedRun(syncId);
    if (queued) return { id: queued.id, coalesced: true };
    const id = newId('run');
    await store.insertRun({
      id,
      sync_id: syncId,
      trigger,
      status: 'queued',
      requested_by: requestedBy,
      created_at: iso(),
      started_at: null,
      finished_at: null,
      duration_ms: null,
      created_count: null,
      updated_count: null,
      deleted_count: null,
      unchanged_count: null,
      writes: null,
      requests: null,
      retries: null,
      group_id: null,
      error: null,
    });
    return { id, coalesced: false };
  }

  async function finish(run: RunRow, sync: SyncRow, outcome: Partial<RunRow> & { status: 'succeeded' | 'failed' }) {
    const at = iso();
    await store.finishRun(run.id, {
      ...outcome,
      finished_at: at,
      duration_ms: outcome.duration_ms ?? Date.parse(at) - Date.parse(run.started_at ?? at),
    });
    await store.releaseFinished(sync.id, run.id);
  }

  /** Takes the sync for this run, or leaves the run queued when another run holds it. */
  async function claim(run: RunRow): Promise<SyncRow | undefined> {
    const sync = await store.get(run.sync_id);
    if (!sync) return undefined;
    const at = iso();
    const staleBefore = new Date(now().getTime() - staleAfterMs).toISOString();
    if (!(await store.hold(sync.id, run.id, at, staleBefore))) return undefined;
    if (sync.running_run_id && sync.running_run_id !== run.id) {
      // Taken over from a replica that stopped mid-run.
      await store.finishRun(sync.running_run_id, {
        status: 'failed',
        finished_at: at,
        error: 'the management replica that ran this sync stopped before the run finished; a later run took over',
      });
    }
    if (!(await store.startRun(run.id, at))) {
      await store.release(sync.id, run.id);
      return undefined;
    }
    return { ...sync, running_run_id: run.id, running_since: at };
  }

  async function execute(run: RunRow, sync: SyncRow): Promise<void> {
    const started = { ...run, started_at: iso() };
    let result: SyncRunResult;
    try {
      const { runnerId, connection } = await deps.connection(sync);
      const payload: SyncRunPayload = {
        syncId: sync.id,
        runId: run.id,
        connection,
        target: {
          organization: sync.ado_organization,
          project: sync.ado_project,
          groupName: sync.group_name,
          description: sync.description,
          adoptExisting: sync.adopt_existing === 1,
          takeOver: JSON.parse(sync.take_over) as string[],
        },
      };
      result = await deps.control.call(runnerId, SYNC_REQUESTS.run, payload, { timeoutMs: runTimeoutMs });
    } catch (err) {
      const error = err instanceof ApiError ? err.message : 'the run could not be handed to the runner';
      if (!(err instanceof ApiError)) deps.logger?.error({ err, syncId: sync.id, runId: run.id }, 'sync run failed');
      await finish(started, sync, { status: 'failed', error });
      return;
    }
    await finish(started, sync, {
      status: result.status === 'succeeded' ? 'succeeded' : 'failed',
      duration_ms: result.durationMs,
      created_count: result.created,
      updated_count: result.updated,
      deleted_count: result.deleted,
      unchanged_count: result.unchanged,
      writes: result.writes,
      requests: result.requests,
      retries: result.retries,
      group_id: result.groupId,
      error: result.error ?? null,
    });
  }

  /** Claims and runs one queued run; then the sync's next queued run, if any. */
  async function runOne(runId: string): Promise<void> {
    const run = await store.getRun(runId);
    if (!run || run.status !== 'queued') return;
    const sync = await claim(run);
    if (!sync) return;
    await execute(run, sync);
    const next = await store.firstQueuedRun(sync.id);
    if (next) await runOne(next.id);
  }

  function track(task: Promise<void>): Promise<void> {
    const guarded = task.catch((err: unknown) => deps.logger?.error({ err }, 'sync dispatch failed'));
    inFlight.add(guarded);
    void guarded.finally(() => inFlight.delete(guarded));
    return guarded;
  }

  async function tick(): Promise<void> {
    const at = iso();
    // Due schedules: whoever moves next_run_at first queues the run.
    const due = await store.dueSchedules(at);
    for (const s of due) {
      const next = new Date(now().getTime() + (s.schedule_minutes ?? 60) * 60_000).toISOString();
      if (await store.moveSchedule(s.id, s.next_run_at, next)) await enqueue(s.id, 'schedule', null);
    }
    // Queued runs (of any replica), oldest first; and runs whose replica died.
    const staleBefore = new Date(now().getTime() - staleAfterMs).toISOString();
    const queued = await store.listQueuedRuns();
    const stale = await store.listStale(staleBefore);
    const ids = new Set(queued.map((r) => r.id));
    for (const s of stale) {
      const waiting = await store.firstQueuedRun(s.id);
      if (!waiting) ids.add((await enqueue(s.id, 'schedule', null)).id);
    }
    await Promise.all([...ids].map((id) => track(runOne(id))));
  }

  return {
    replica,
    enqueue,

    /** Queues a run and starts it at once in the background; returns its id. */
    async trigger(syncId: string, trigger: RunTrigger, requestedBy: string | null): Promise<string> {
      const { id } = await enqueue(syncId, trigger, requestedBy);
      void track(runOne(id));
      return id;
    },

    /** Starts a queued run in the background (if its sync is free). */
    dispatch(runId: string): void {
      void track(runOne(runId));
    },

    /** Runs a queued run now (if its sync is free) and waits for it, up to `timeoutMs`. */
    async runAndWait(runId: string, timeoutMs: number): Promise<RunRow | undefined> {
      void track(runOne(runId));
      const until = Date.now() + timeoutMs;
      for (;;) {
        const row = await store.getRun(runId);
        if (!row || row.status === 'succeeded' || row.status === 'failed' || Date.now() >= until) return row;
        await sleep(100);
      }
    },

    /** One pass: due schedules, queued runs, runs abandoned by a stopped replica. */
    async tick(): Promise<void> {
      ticking ??= tick().finally(() => {
        ticking = undefined;
      });
      return ticking;
    },

    /** Waits for every run this replica started (tests, shutdown). */
    async idle(): Promise<void> {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },

    start() {
      if (timer) return;
      timer = setInterval(
        () => void this.tick().catch((err: unknown) => deps.logger?.warn({ err }, 'sync scheduler tick failed')),
        intervalMs,
      );
      timer.unref();
    },

    async stop(graceMs = 2_000): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.race([Promise.allSettled([...inFlight]), sleep(graceMs, undefined, { ref: false })]);
    },
  };
}

export type SyncScheduler = ReturnType<typeof createSyncScheduler>;
