/**
 * The control channel between the management plane and runners. Runners connect out and long-poll
 * for requests, then post answers; nothing connects in to a runner. Shared by both planes.
 */
export interface ControlRequest<P = unknown> {
  id: string;
  kind: string;
  payload: P;
  deadlineAt: string;
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
