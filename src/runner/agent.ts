import { backoffMs, sleep } from '../http/retry.ts';
import type { Logger } from '../logging/logger.ts';
import { POLL_WAIT_SECONDS } from '../control/protocol.ts';
import { withRemoteParent } from '../telemetry/spans.ts';
import type { ControlAnswer, ControlRequest } from '../control/protocol.ts';
import { isControlKind } from '../control/registry.ts';
import type { ControlKind, ControlPayload, ControlResult } from '../control/registry.ts';
import { checkControlPayload } from '../control/payload-check.ts';
import { ManagementApiError } from './management-client.ts';
import type { ManagementClient } from './management-client.ts';

/** A handler's failure that should reach the caller as-is (code and message written for people). */
export class HandlerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'HandlerError';
  }
}

/** The runner's side of one control request: takes the checked payload, answers the kind's result. */
export type Handler<K extends ControlKind> = (payload: ControlPayload<K>, request: ControlRequest) => Promise<ControlResult<K>>;
/** Handlers for some kinds of the registry (a module's share); the runtime joins them into all of them. */
export type HandlerSet<K extends ControlKind> = { [P in K]: Handler<P> };
export type ControlHandlers = HandlerSet<ControlKind>;

export interface RunnerAgentOptions {
  client: ManagementClient;
  /** Every kind in production (ControlHandlers); a test may register fewer. */
  handlers: Partial<ControlHandlers>;
  logger: Logger;
  waitSeconds?: number;
  /**
   * Called when the management plane refuses this runner's token: `revoked` when it said the
   * runner was revoked (then the runner deletes what it holds), false for a token it does not know.
   */
  onRevoked?: (revoked: boolean) => void;
  /** Sees each control request this process takes, before its handler runs (tests, diagnostics). */
  observe?: (request: ControlRequest) => void;
}

/**
 * The runner's control loop: long-polls the management plane, runs each request's handler
 * concurrently, and posts the answer. Reconnects with capped backoff; never dies on one bad request.
 */
export function createRunnerAgent(options: RunnerAgentOptions) {
  const { client, handlers, logger } = options;
  const waitSeconds = options.waitSeconds ?? POLL_WAIT_SECONDS;
  let stopping = false;
  let controller = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let loop: Promise<void> | undefined;

  async function handle(request: ControlRequest): Promise<void> {
    options.observe?.(request);
    const kind = isControlKind(request.kind) ? request.kind : undefined;
    // One signature for all kinds here: the registry ties each payload to its handler, checked below.
    const handler = kind ? (handlers[kind] as ((payload: unknown, request: ControlRequest) => Promise<unknown>) | undefined) : undefined;
    const invalid = kind && handler ? checkControlPayload(kind, request.payload) : undefined;
    let answer: ControlAnswer;
    if (invalid) {
      answer = { ok: false, error: invalid };
    } else if (!handler) {
      answer = {
        ok: false,
        error: { code: 'unknown_request', message: `this runner does not know how to "${request.kind}"; upgrade the runner` },
      };
    } else {
      try {
        // The handler's work joins the trace of whoever asked (the control request carries its context).
        const result = await withRemoteParent(
          request.traceContext,
          `control ${request.kind}`,
          { 'keyway.control.kind': request.kind, 'keyway.control.request_id': request.id },
          () => handler(request.payload, request),
        );
        answer = { ok: true, result: result ?? null };
      } catch (err) {
        if (err instanceof HandlerError) {
          answer = { ok: false, error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) } };
        } else {
          // Unexpected errors may carry anything in their message; the caller gets a generic line.
          logger.error({ err, kind: request.kind, requestId: request.id }, 'control request failed');
          answer = {
            ok: false,
            error: {
              code: 'runner_error',
              message: `the runner failed to handle "${request.kind}"; see the runner's log (request ${request.id})`,
            },
          };
        }
      }
    }
    try {
      await client.answer(request.id, answer);
    } catch (err) {
      logger.warn({ err, requestId: request.id }, 'could not deliver an answer');
    }
  }

  async function run(): Promise<void> {
    // Failures in a row; the wait before the next poll doubles from 250 ms up to 10 s.
    let failures = 0;
    while (!stopping) {
      try {
        const requests = await client.poll(waitSeconds, controller.signal);
        failures = 0;
        for (const request of requests) {
          const task = handle(request).finally(() => inFlight.delete(task));
          inFlight.add(task);
        }
      } catch (err) {
        if (stopping) break;
        if (err instanceof ManagementApiError && err.status === 401) {
          logger.error(
            "the management plane refused this runner's token: the runner was revoked; register it again with a new exchange token",
          );
          options.onRevoked?.(err.code === 'runner_revoked');
          break;
        }
        const waitMs = backoffMs(failures++, { baseMs: 250, maxMs: 10_000, jitter: 'none' });
        logger.warn({ err: { message: (err as Error).message } }, `control channel unavailable; retrying in ${waitMs} ms`);
        // stop() aborts the wait: the loop then sees `stopping`.
        await sleep(waitMs, controller.signal).catch(() => undefined);
      }
    }
  }

  return {
    start() {
      stopping = false;
      controller = new AbortController();
      loop = run();
    },
    async stop() {
      stopping = true;
      controller.abort();
      await loop;
      await Promise.allSettled([...inFlight]);
    },
  };
}

export type RunnerAgent = ReturnType<typeof createRunnerAgent>;
