import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError } from '../../http/errors.ts';
import { statusForFailure } from '../../control/protocol.ts';
import type { ControlAnswer, ControlRequest } from '../../control/protocol.ts';
import { newId } from '../identity/tokens.ts';
import { runnerStatus } from './service.ts';

const DURABLE_PREFIX = 'dreq';

export interface CallOptions {
  timeoutMs?: number;
}

/**
 * The management plane's side of the control channel. Requests are rows in `runner_requests`, so
 * any replica can enqueue and any replica can hand them to the runner's long-poll. Waiters wake on an
 * in-process event at once, and otherwise re-check the database every `pollIntervalMs` (which is
 * what carries events between replicas).
 */
export function createControlChannel(db: Kysely<ManagementDB>, options: { pollIntervalMs?: number; now?: () => Date } = {}) {
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const pollIntervalMs = options.pollIntervalMs ?? 250;
  const now = options.now ?? (() => new Date());

  function waitFor(event: string, ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        events.off(event, done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      events.once(event, done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  async function offlineError(runnerId: string): Promise<ApiError | undefined> {
    const runner = await db.selectFrom('runners').selectAll().where('id', '=', runnerId).executeTakeFirst();
    if (!runner) return new ApiError(404, 'not_found', 'runner not found');
    const status = runnerStatus(runner, now());
    if (status === 'revoked') return new ApiError(409, 'runner_revoked', `runner "${runner.name}" was revoked; register a new runner`);
    if (status === 'pending') return new ApiError(503, 'runner_offline', `runner "${runner.name}" has never connected; start it with its exchange token`);
    if (status === 'offline') {
      return new ApiError(503, 'runner_offline', `runner "${runner.name}" is offline since ${runner.last_seen_at}; check that the runner process is running and can reach this server`);
    }
    return undefined;
  }

  return {
    /**
     * Sends a request to a runner and waits for its answer. Fails at once when the runner is
     * offline, and with a clear timeout at the deadline: never hangs.
     */
    async call<R>(runnerId: string, kind: string, payload: unknown, callOptions: CallOptions = {}): Promise<R> {
      const offline = await offlineError(runnerId);
      if (offline) throw offline;
      const timeoutMs = callOptions.timeoutMs ?? 30_000;
      const id = newId('req');
      const deadline = new Date(now().getTime() + timeoutMs);
      await db
        .insertInto('runner_requests')
        .values({ id, runner_id: runnerId, kind, payload: JSON.stringify(payload), status: 'pending', response: null, created_at: now().toISOString(), deadline_at: deadline.toISOString(), dispatched_at: null, answered_at: null })
        .execute();
      events.emit(`runner:${runnerId}`);
      try {
        for (;;) {
          const row = await db.selectFrom('runner_requests').select(['status', 'response']).where('id', '=', id).executeTakeFirst();
          if (row?.status === 'answered' && row.response) {
            const answer = JSON.parse(row.response) as ControlAnswer<R>;
            if (answer.ok) return answer.result;
            throw new ApiError(statusForFailure(answer.error.code), answer.error.code, answer.error.message, answer.error.field);
          }
          const remaining = deadline.getTime() - Date.now();
          if (remaining <= 0) {
            const stillOffline = await offlineError(runnerId);
            throw stillOffline ?? new ApiError(504, 'runner_timeout', `the runner did not answer within ${Math.round(timeoutMs / 1000)} s; it may be overloaded or lost its connection — try again`);
          }
          await waitFor(`answer:${id}`, Math.min(pollIntervalMs, remaining));
        }
      } finally {
        await db.deleteFrom('runner_requests').where('id', '=', id).execute();
      }
    },

    /**
     * Queues a request that outlives this call (e.g. "delete these credentials"): the runner gets it
     * whenever it next connects, until `ttlMs` passes.
     */
    async enqueue(runnerId: string, kind: string, payload: unknown, ttlMs = 7 * 24 * 3600_000): Promise<string> {
      const id = newId(DURABLE_PREFIX);
      await db
        .insertInto('runner_requests')
        .values({ id, runner_id: runnerId, kind, payload: JSON.stringify(payload), status: 'pending', response: null, created_at: now().toISOString(), deadline_at: new Date(now().getTime() + ttlMs).toISOString(), dispatched_at: null, answered_at: null })
        .execute();
      events.emit(`runner:${runnerId}`);
      return id;
    },

    /**
     * The runner's long-poll: claims pending requests, waiting up to `waitMs` for one to arrive.
     * `ended` is asked at every wake-up (a revoked runner's poll ends at once, not at its timeout).
     */
    async poll(runnerId: string, waitMs: number, signal?: AbortSignal, ended?: () => Promise<boolean>): Promise<ControlRequest[]> {
      const until = Date.now() + waitMs;
      for (;;) {
        if (ended && (await ended())) return [];
        const at = now().toISOString();
        // Claiming is one UPDATE per row guarded by status, so two pollers (runner replicas, or two
        // management replicas serving them) never both get the same request.
        const rows = await db
          .updateTable('runner_requests')
          .set({ status: 'dispatched', dispatched_at: at })
          .where('runner_id', '=', runnerId)
          .where('status', '=', 'pending')
          .where('deadline_at', '>', at)
          .returning(['id', 'kind', 'payload', 'deadline_at'])
          .execute();
        if (rows.length > 0) {
          return rows.map((r) => ({ id: r.id, kind: r.kind, payload: JSON.parse(r.payload) as unknown, deadlineAt: r.deadline_at }));
        }
        const remaining = until - Date.now();
        if (remaining <= 0 || signal?.aborted) return [];
        await waitFor(`runner:${runnerId}`, Math.min(pollIntervalMs * 4, remaining), signal);
      }
    },

    /** Records a runner's answer; only the runner the request was for may answer it. */
    async answer(runnerId: string, requestId: string, answer: ControlAnswer): Promise<boolean> {
      const result = await db
        .updateTable('runner_requests')
        .set({ status: 'answered', response: JSON.stringify(answer), answered_at: now().toISOString() })
        .where('id', '=', requestId)
        .where('runner_id', '=', runnerId)
        .where('status', '=', 'dispatched')
        .executeTakeFirst();
      const ok = Number(result.numUpdatedRows) === 1;
      if (ok) {
        events.emit(`answer:${requestId}`);
        // Queued requests have no waiter to collect the answer: they are done once answered.
        if (requestId.startsWith(`${DURABLE_PREFIX}_`)) await db.deleteFrom('runner_requests').where('id', '=', requestId).execute();
      }
      return ok;
    },

    /** Wakes a runner's long-poll on this replica at once (others notice at their next check). */
    wake(runnerId: string): void {
      events.emit(`runner:${runnerId}`);
    },

    /** Drops everything queued for a runner (it was revoked: nothing may reach it any more). */
    async dropQueued(runnerId: string): Promise<number> {
      const result = await db.deleteFrom('runner_requests').where('runner_id', '=', runnerId).where('status', '=', 'pending').executeTakeFirst();
      return Number(result.numDeletedRows);
    },

    /** Deletes requests past their deadline and old answers nobody collected. */
    async prune(): Promise<void> {
      const at = now().toISOString();
      await db.deleteFrom('runner_requests').where('deadline_at', '<', at).execute();
    },
  };
}

export type ControlChannel = ReturnType<typeof createControlChannel>;
