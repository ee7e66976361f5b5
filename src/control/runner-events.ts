// What a runner tells the management plane's audit log about state it alone sees: a credential that
// needs re-authorization, refreshes that fail, tokens refused before their recorded expiry, purges
// of credentials (an integration's, one user's on offboarding, everything after revocation).
// Shared by both planes; an event never carries a credential, only ids, counts, flags and reasons
// written by Keyway.

export const RUNNER_EVENTS_PATH = '/api/v1/runner/events';
/** A revoked runner confirms here, with its revoked token, that it deleted what it held. */
export const RUNNER_REVOCATION_PURGE_PATH = '/api/v1/runner/revocation-purge';

/** The actions a runner may report; anything else is refused. Each becomes the audit action as is. */
export const RUNNER_EVENT_ACTIONS = [
  /** Entra refused the refresh token (invalid_grant): the user must connect again. */
  'credential.needs_reauthorization',
  /** Entra could not refresh a token (unreachable, 5xx, throttled) after retries. */
  'credential.refresh_failed',
  /** Azure DevOps refused a token before its recorded expiry; it was refreshed once and works again. */
  'credential.refreshed_early',
  /** Azure DevOps refused a credential that cannot be refreshed (a PAT) or a freshly refreshed token. */
  'credential.rejected',
  /** Credentials were deleted on the runner (an integration's method, an integration, one user's). */
  'credentials.purged',
  /** The runner made the next certificate of an app ahead of the active one's expiry: an admin must upload it. */
  'client_certificate.next_prepared',
  /** Entra accepted the next certificate: it signs from now on, the old key was deleted. */
  'client_certificate.promoted',
] as const;

export type RunnerEventAction = (typeof RUNNER_EVENT_ACTIONS)[number];

/** Detail values are scalars: an event carries counts, flags, short reasons and ids, never objects. */
export type RunnerEventDetails = Record<string, string | number | boolean | null>;

export interface RunnerEvent {
  /** Unique per event (the runner makes it); the management plane records each id once. */
  id: string;
  action: RunnerEventAction;
  outcome: 'success' | 'failure';
  /** The Keyway user the event is about, when there is one (the audit event's target). */
  userId?: string | null;
  integrationId?: string | null;
  occurredAt: string;
  details?: RunnerEventDetails;
}

export const MAX_EVENTS_PER_BATCH = 100;

/** What a revoked runner reports after deleting everything it held. */
export interface RevocationPurgeReport {
  credentials: number;
  pendingSignIns: number;
  syncValues: number;
  /** Certificates (with their private keys) the runner made for its own Entra client authentication. */
  clientCertificates?: number;
  purgedAt: string;
}
