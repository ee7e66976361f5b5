// The runner's outbox of audit events. Recording is one insert into the runner store, so an event
// survives a management plane that is down or a runner that restarts; delivery runs in the
// background in batches and deletes what the management plane accepted. Replicas sharing a store
// claim rows before sending (a claim lapses, so a replica that died mid-send delays its batch by at
// most one claim), and the management plane records each event id once, so a batch sent twice is
// harmless.
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { Logger } from '../../logging/logger.ts';
import { MAX_EVENTS_PER_BATCH } from '../../control/runner-events.ts';
import type { RunnerEvent, RunnerEventAction, RunnerEventDetails } from '../../control/runner-events.ts';

export interface NewRunnerEvent {
  action: RunnerEventAction;
  outcome: 'success' | 'failure';
  userId?: string | null;
  integrationId?: string | null;
  details?: RunnerEventDetails;
}

/** What the token service, handlers and purges use: record an event and move on. */
export interface RunnerEvents {
  record(event: NewRunnerEvent): void;
}

export interface EventOutboxOptions {
  db: Kysely<RunnerDB>;
  /** Sends one batch; throws when it was not accepted (it is sent again later). */
  send(events: RunnerEvent[]): Promise<void>;
  logger: Logger;
  /** Distinguishes this replica's claims. */
  owner?: string;
  /** How long a claim on a batch lasts. Default 30 s. */
  claimMs?: number;
  /** Retry delay after a failed delivery; doubles up to 60 s. Default 1 s. */
  retryMs?: number;
  now?: () => Date;
}

export function createEventOutbox(options: EventOutboxOptions) {
  const { db, logger } = options;
  const owner = options.owner ?? `${process.pid}-${randomBytes(6).toString('hex')}`;
  const claimMs = options.claimMs ?? 30_000;
  const baseRetry = options.retryMs ?? 1_000;
  const now = options.now ?? (() => new Date());
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let failures = 0;
  const writes = new Set<Promise<unknown>>();

  function schedule(delayMs: number): void {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, delayMs);
    timer.unref();
  }

  /** Claims and sends batches until none is left; returns how many events were delivered. */
  async function deliver(): Promise<number> {
    let delivered = 0;
    for (;;) {
      const at = now();
      const candidates = await db
        .selectFrom('runner_events')
        .select('id')
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', at.toISOString())]))
        .orderBy('created_at')
        .limit(MAX_EVENTS_PER_BATCH)
        .execute();
      if (candidates.length === 0) return delivered;
      const claimed = await db
        .updateTable('runner_events')
        .set({ claimed_by: owner, claimed_until: new Date(at.getTime() + claimMs).toISOString() })
        .where(
          'id',
          'in',
          candidates.map((c) => c.id),
        )
        .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', at.toISOString())]))
        .returning(['id', 'action', 'outcome', 'user_id', 'integration_id', 'details', 'created_at'])
        .execute();
      if (claimed.length === 0) continue;
      const batch: RunnerEvent[] = claimed.map((r) => ({
        id: r.id,
        action: r.action as RunnerEventAction,
        outcome: r.outcome === 'success' ? 'success' : 'failure',
        userId: r.user_id,
        integrationId: r.integration_id,
        occurredAt: r.created_at,
        details: JSON.parse(r.details) as RunnerEventDetails,
      }));
      try {
        await options.send(batch);
      } catch (err) {
        // Released at once: the next attempt (of any replica) need not wait out the claim.
        await db
          .updateTable('runner_events')
          .set({ claimed_by: null, claimed_until: null })
          .where(
            'id',
            'in',
            batch.map((e) => e.id),
          )
          .where('claimed_by', '=', owner)
          .execute()
          .catch(() => undefined);
        throw err;
      }
      await db
        .deleteFrom('runner_events')
        .where(
          'id',
          'in',
          batch.map((e) => e.id),
        )
        .where('claimed_by', '=', owner)
        .execute();
      delivered += batch.length;
    }
  }

  /** One delivery at a time per outbox; a flush waits for the events recorded before it. */
  function flush(): Promise<void> {
    const pendingWrites = Promise.allSettled([...writes]);
    const next = (running ?? Promise.resolve()).then(async () => {
      await pendingWrites;
      try {
        await deliver();
        failures = 0;
      } catch (err) {
        failures++;
        const delay = Math.min(60_000, baseRetry * 2 ** Math.min(failures - 1, 6));
        logger.warn({ err: { message: (err as Error).message } }, `audit events not delivered yet; retrying in ${delay} ms`);
        schedule(delay);
      }
    });
    running = next;
    void next.finally(() => {
      if (running === next) running = undefined;
    });
    return next;
  }

  return {
    record(event: NewRunnerEvent): void {
      const row: RunnerDB['runner_events'] = {
        id: `rev_${randomBytes(12).toString('base64url')}`,
        action: event.action,
        outcome: event.outcome,
        user_id: event.userId ?? null,
        integration_id: event.integrationId ?? null,
        details: JSON.stringify(event.details ?? {}),
        created_at: now().toISOString(),
        claimed_by: null,
        claimed_until: null,
      };
      const write = db
        .insertInto('runner_events')
        .values(row)
        .execute()
        .then(() => schedule(0))
        .catch((err: unknown) =>
          logger.error({ err: { message: (err as Error).message }, action: event.action }, 'could not record an audit event'),
        )
        .finally(() => writes.delete(write));
      writes.add(write);
    },

    /** Delivers what is pending now (tests, shutdown). */
    flush,

    start(): void {
      stopped = false;
      schedule(0);
    },

    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await Promise.allSettled([...writes]);
      await running;
    },
  };
}

export type EventOutbox = ReturnType<typeof createEventOutbox>;
