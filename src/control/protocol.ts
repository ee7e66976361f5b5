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

/**
 * The HTTP status a runner's refusal becomes on the management plane's API. A runner that answers
 * has understood the request: what it refuses is the caller's input or state (422, or 404/409 where
 * those say it better); only its own failures and the upstream's outages are 5xx. One table: codes
 * by name first, then families of codes by their shape (`repository_not_found`, `environment_exists`,
 * `runner_environment_limit`, `azure_devops_unavailable`); anything else is 422.
 */
export const FAILURE_STATUS: Readonly<Record<string, number>> = {
  invalid_request: 400,
  invalid_continuation_token: 400,
  not_found: 404,
  integration_gone: 404,
  not_authorized: 409,
  reauthorization_required: 409,
  oauth_blocked: 409,
  runner_error: 502,
  unknown_request: 502,
  unavailable: 503,
};

export const FAILURE_FAMILY_STATUS: readonly { family: string; matches: (code: string) => boolean; status: number }[] = [
  { family: '*_not_found', matches: (c) => c.endsWith('_not_found'), status: 404 },
  { family: '*_not_in_repository', matches: (c) => c.endsWith('_not_in_repository'), status: 404 },
  { family: '*_exists', matches: (c) => c.endsWith('_exists'), status: 409 },
  { family: '*_conflicts', matches: (c) => c.endsWith('_conflicts'), status: 409 },
  // A runner's own limits (issue 15): the message says which and how to free it.
  { family: 'runner_*_limit', matches: (c) => c.startsWith('runner_') && c.endsWith('_limit'), status: 429 },
  { family: '*_unavailable', matches: (c) => c.endsWith('_unavailable'), status: 503 },
];

export function statusForFailure(code: string): number {
  return Object.hasOwn(FAILURE_STATUS, code) ? FAILURE_STATUS[code]! : (FAILURE_FAMILY_STATUS.find((f) => f.matches(code))?.status ?? 422);
}
