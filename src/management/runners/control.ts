import { EventEmitter } from 'node:events';
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError } from '../../http/errors.ts';
import { statusForFailure } from '../../control/protocol.ts';
import type { ControlAnswer, ControlRequest } from '../../control/protocol.ts';
import type { ControlKind, ControlPayload, ControlResult } from '../../control/registry.ts';
import { newId } from '../identity/tokens.ts';
import { runnerStatus } from './service.ts';
import { ONLINE_WINDOW_MS } from '../../control/protocol.ts';
import { currentTraceHeaders } from '../../telemetry/spans.ts';

const DURABLE_PREFIX = 'dreq';
/** A queued request handed to a runner and not answered within this time is handed out again. */
const REDELIVER_AFTER_MS = 2 * 60_000;

export interface CallOptions {
  timeoutMs?: number;
  affinity?: Affinity;
}

/**
 * Something that lives on one replica of a runner (an environment's workspace). `claim`: whichever
 * replica answers the request holds it from then on; `follow`: the request goes to the replica that
 * holds it while that replica is live, and to any replica when it is not (which then answers from
 * the shared store); `release`: like follow, and the holder is forgotten once answered.
 */
export interface Affinity {
  key: string;
  mode: 'claim' | 'follow' | 'release';
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
  /** Who wants to know when a runner answers a queued request of a kind (nobody waits for those). */
  const answerListeners = new Map<string, ((runnerId: string, requestId: string, answer: ControlAnswer) => Promise<void>)[]>();

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
    if (status === 'pending')
      return new ApiError(503, 'runner_offline', `runner "${runner.name}" has never connected; start it with its exchange token`);
    if (status === 'offline') {
      return new ApiError(
        503,
        'runner_offline',
        `runner "${runner.name}" is offline since ${runner.last_seen_at}; check that the runner process is running and can reach this server`,
      );
    }
    return undefined;
  }

  /** The live replica holding `affinity`, when there is one. */
  async function targetReplica(runnerId: string, affinity: Affinity | undefined): Promise<string | null> {
    if (!affinity || affinity.mode === 'claim') return null;
    const held = await db
      .selectFrom('runner_affinities')
      .innerJoin('runner_replicas', (join) =>
        join
          .onRef('runner_replicas.runner_id', '=', 'runner_affinities.runner_id')
          .onRef('runner_replicas.replica_id', '=', 'runner_affinities.replica_id'),
      )
      .select(['runner_affinities.replica_id', 'runner_replicas.last_seen_at'])
      .where('runner_affinities.runner_id', '=', runnerId)
      .where('runner_affinities.affinity_key', '=', affinity.key)
      .executeTakeFirst();
    if (!held) return null;
    // A replica that died (mid-clone, say) does not hold requests hostage: another answers from the shared store.
    return now().getTime() - Date.parse(held.last_seen_at) <= ONLINE_WINDOW_MS ? held.replica_id : null;
  }

  /** Stores a pending request for the runner (for one replica when `affinity` holds it) and wakes its long-poll. */
  async function post(id: string, runnerId: string, kind: ControlKind, payload: unknown, deadline: Date, affinity: Affinity | undefined) {
    await db
      .insertInto('runner_requests')
      .values({
        id,
        runner_id: runnerId,
        kind,
        payload: JSON.stringify(payload),
        status: 'pending',
        response: null,
        created_at: now().toISOString(),
        deadline_at: deadline.toISOString(),
        dispatched_at: null,
        answered_at: null,
        replica_id: await targetReplica(runnerId, affinity),
        trace_context: traceContext(),
      })
      .execute();
    events.emit(`runner:${runnerId}`);
  }

  /** The caller's trace context, stored with the request (null when tracing is off). */
  function traceContext(): string | null {
    const headers = currentTraceHeaders();
    return Object.keys(headers).length ? JSON.stringify(headers) : null;
  }

  /** A replica's sign of life (each poll). */
  async function seen(runnerId: string, replicaId: string): Promise<void> {
    const at = now().toISOString();
    await db
      .insertInto('runner_replicas')
      .values({ runner_id: runnerId, replica_id: replicaId, first_seen_at: at, last_seen_at: at })
      .onConflict((oc) => oc.columns(['runner_id', 'replica_id']).doUpdateSet({ last_seen_at: at }))
      .execute();
  }

  async function settleAffinity(runnerId: string, affinity: Affinity | undefined, claimedBy: string | null): Promise<void> {
    if (!affinity || affinity.mode === 'follow') return;
    if (affinity.mode === 'release') {
      await db.deleteFrom('runner_affinities').where('runner_id', '=', runnerId).where('affinity_key', '=', affinity.key).execute();
      return;
    }
    if (!claimedBy) return;
    await db
      .insertInto('runner_affinities')
      .values({ runner_id: runnerId, affinity_key: affinity.key, replica_id: claimedBy, created_at: now().toISOString() })
      .onConflict((oc) => oc.columns(['runner_id', 'affinity_key']).doUpdateSet({ replica_id: claimedBy }))
      .execute();
  }

  return {
    /**
     * Sends a request to a runner and waits for its answer. Fails at once when the runner is
     * offline, and with a clear timeout at the deadline: never hangs.
     */
    async call<K extends ControlKind>(
      runnerId: string,
      kind: K,
      payload: ControlPayload<K>,
      callOptions: CallOptions = {},
    ): Promise<ControlResult<K>> {
      const offline = await offlineError(runnerId);
      if (offline) throw offline;
      const timeoutMs = callOptions.timeoutMs ?? 30_000;
      const id = newId('req');
      const deadline = new Date(now().getTime() + timeoutMs);
      await post(id, runnerId, kind, payload, deadline, callOptions.affinity);
      try {
        for (;;) {
          const row = await db
            .selectFrom('runner_requests')
            .select(['status', 'response', 'claimed_by'])
            .where('id', '=', id)
            .executeTakeFirst();
          if (row?.status === 'answered' && row.response) {
            const answer = JSON.parse(row.response) as ControlAnswer<ControlResult<K>>;
            if (answer.ok) {
              await settleAffinity(runnerId, callOptions.affinity, row.claimed_by);
              return answer.result;
            }
            throw new ApiError(statusForFailure(answer.error.code), answer.error.code, answer.error.message, answer.error.field);
          }
          const remaining = deadline.getTime() - Date.now();
          if (remaining <= 0) {
            const stillOffline = await offlineError(runnerId);
            throw (
              stillOffline ??
              new ApiError(
                504,
                'runner_timeout',
                `the runner did not answer within ${Math.round(timeoutMs / 1000)} s; it may be overloaded or lost its connection — try again`,
              )
            );
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
    async enqueue<K extends ControlKind>(
      runnerId: string,
      kind: K,
      payload: ControlPayload<K>,
      ttlMs = 7 * 24 * 3600_000,
      affinity?: Affinity,
    ): Promise<string> {
      const id = newId(DURABLE_PREFIX);
      await post(id, runnerId, kind, payload, new Date(now().getTime() + ttlMs), affinity);
      return id;
    },

    /**
     * The runner's long-poll: claims pending requests, waiting up to `waitMs` for one to arrive. A
     * replica (`replicaId`) takes requests meant for any replica and those meant for it. `ended` is
     * asked at every wake-up (a revoked runner's poll ends at once, not at its timeout).
     */
    async poll(
      runnerId: string,
      waitMs: number,
      signal?: AbortSignal,
      replicaId?: string,
      ended?: () => Promise<boolean>,
    ): Promise<ControlRequest[]> {
      const until = Date.now() + waitMs;
      if (replicaId) await seen(runnerId, replicaId);
      for (;;) {
        // A poll whose runner hung up must not claim anything: the answer would go to a closed socket.
        if (signal?.aborted) return [];
        if (ended && (await ended())) return [];
        const at = now().toISOString();
        const redeliverBefore = new Date(now().getTime() - REDELIVER_AFTER_MS).toISOString();
        // Claiming is one UPDATE per row guarded by status, so two pollers (runner replicas, or two
        // management replicas serving them) never both get the same request. A queued request that
        // was handed out long ago and never answered (the runner died holding it) goes out again:
        // queued work is delivered at least once, and its handlers are idempotent.
        const rows = await db
          .updateTable('runner_requests')
          .set({ status: 'dispatched', dispatched_at: at, claimed_by: replicaId ?? null })
          .where('runner_id', '=', runnerId)
          .where((eb) =>
            eb.or([
              eb('status', '=', 'pending'),
              eb.and([eb('status', '=', 'dispatched'), eb('id', 'like', `${DURABLE_PREFIX}_%`), eb('dispatched_at', '<', redeliverBefore)]),
            ]),
          )
          .where('deadline_at', '>', at)
          .where((eb) =>
            replicaId ? eb.or([eb('replica_id', 'is', null), eb('replica_id', '=', replicaId)]) : eb('replica_id', 'is', null),
          )
          .returning(['id', 'kind', 'payload', 'deadline_at', 'trace_context'])
          .execute();
        if (rows.length > 0) {
          return rows.map((r) => ({
            id: r.id,
            kind: r.kind,
            payload: JSON.parse(r.payload) as unknown,
            deadlineAt: r.deadline_at,
            ...(r.trace_context ? { traceContext: JSON.parse(r.trace_context) as Record<string, string> } : {}),
          }));
        }
        const remaining = until - Date.now();
        if (remaining <= 0 || signal?.aborted) return [];
        await waitFor(`runner:${runnerId}`, Math.min(pollIntervalMs * 4, remaining), signal);
      }
    },

    /** Records a runner's answer; only the runner the request was for may answer it. */
    async answer(runnerId: string, requestId: string, answer: ControlAnswer): Promise<boolean> {
      const durable = requestId.startsWith(`${DURABLE_PREFIX}_`);
      const queued = durable
        ? await db
            .selectFrom('runner_requests')
            .select('kind')
            .where('id', '=', requestId)
            .where('runner_id', '=', runnerId)
            .executeTakeFirst()
        : undefined;
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
        if (durable) {
          for (const listener of answerListeners.get(queued?.kind ?? '') ?? []) await listener(runnerId, requestId, answer);
          await db.deleteFrom('runner_requests').where('id', '=', requestId).execute();
        }
      }
      return ok;
    },

    /** Puts claimed requests back for the next poll (their runner went away before they were sent). */
    async release(runnerId: string, requestIds: string[]): Promise<void> {
      if (requestIds.length === 0) return;
      await db
        .updateTable('runner_requests')
        .set({ status: 'pending', dispatched_at: null, claimed_by: null })
        .where('runner_id', '=', runnerId)
        .where('id', 'in', requestIds)
        .where('status', '=', 'dispatched')
        .execute();
      events.emit(`runner:${runnerId}`);
    },

    /** Calls `listener` when a runner answers a queued request of `kind` (confirmations of purges, for instance). */
    onQueuedAnswer(kind: ControlKind, listener: (runnerId: string, requestId: string, answer: ControlAnswer) => Promise<void>): void {
      answerListeners.set(kind, [...(answerListeners.get(kind) ?? []), listener]);
    },

    seen,

    /** A runner's replicas and when each last polled. */
    async replicas(runnerId: string) {
      return db.selectFrom('runner_replicas').selectAll().where('runner_id', '=', runnerId).orderBy('first_seen_at').execute();
    },

    /** Wakes a runner's long-poll on this replica at once (others notice at their next check). */
    wake(runnerId: string): void {
      events.emit(`runner:${runnerId}`);
    },

    /** Drops everything queued for a runner (it was revoked: nothing may reach it any more). */
    async dropQueued(runnerId: string): Promise<number> {
      const result = await db
        .deleteFrom('runner_requests')
        .where('runner_id', '=', runnerId)
        .where('status', '=', 'pending')
        .executeTakeFirst();
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
