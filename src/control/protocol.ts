/**
 * The control channel between the management plane and runners. Runners connect out and long-poll
 * for requests, then post answers; nothing connects in to a runner. Shared by both planes.
 */
export interface ControlRequest<P = unknown> {
  id: string;
  kind: string;
  payload: P;
  deadlineAt: string;
  /** W3C trace context (traceparent, tracestate) of the caller, when tracing is on: the runner's span joins its trace. */
  traceContext?: Record<string, string>;
}

export interface ControlFailure {
  code: string;
  message: string;
  field?: string;
}

export type ControlAnswer<R = unknown> = { ok: true; result: R } | { ok: false; error: ControlFailure };

export const CONTROL_PATHS = {
  exchange: '/api/v1/runner/exchange',
  poll: '/api/v1/runner/control',
  answer: (requestId: string) => `/api/v1/runner/control/${encodeURIComponent(requestId)}`,
  self: '/api/v1/runner/self',
} as const;

/** How long a runner's long-poll waits for work before answering empty. */
export const POLL_WAIT_SECONDS = 25;
/** A runner is online while it has polled within this window (a poll plus a margin for reconnects). */
export const ONLINE_WINDOW_MS = (POLL_WAIT_SECONDS + 15) * 1000;

/** Additional authenticated data for sealed values, binding each to the record and field it belongs to. */
export const sealingContext = {
  integrationClientSecret: (integrationId: string) => `scm-integration:${integrationId}:oauth-client-secret`,
  userPat: (integrationId: string, userId: string) => `scm-integration:${integrationId}:user:${userId}:pat`,
} as const;

/**
 * The HTTP status a runner's refusal becomes on the management plane's API. A runner that answers
 * has understood the request: what it refuses is the caller's input or state (422, or 404/409 where
 * those say it better); only its own failures and the upstream's outages are 5xx.
 */
export function statusForFailure(code: string): number {
  if (code === 'invalid_request' || code === 'invalid_continuation_token') return 400;
  if (code === 'not_found' || code.endsWith('_not_found') || code.endsWith('_not_in_repository') || code === 'integration_gone') return 404;
  if (
    code === 'not_authorized' ||
    code === 'reauthorization_required' ||
    code === 'oauth_blocked' ||
    code.endsWith('_exists') ||
    code.endsWith('_conflicts')
  )
    return 409;
  if (code === 'runner_error' || code === 'unknown_request') return 502;
  // A runner's own limits (issue 15): the message says which and how to free it.
  if (code.startsWith('runner_') && code.endsWith('_limit')) return 429;
  if (code === 'unavailable' || code.endsWith('_unavailable')) return 503;
  return 422;
}
