/**
 * Control requests about people, shared by both planes. When someone leaves an organization, is
 * removed from it or is disabled, the management plane asks each of the organization's runners to
 * delete everything it holds for that person; the runner answers with what it deleted, which is
 * the confirmation the management plane records.
 */
export const PURGE_USER_CREDENTIALS = 'purge-user-credentials';

export interface PurgeUserCredentialsPayload {
  userId: string;
  /** Why, for the runner's log: removed, left, disabled, sso_claims. */
  reason: string;
}

export interface PurgeUserCredentialsResult {
  /** Credential rows deleted (OAuth token sets, PATs). */
  credentials: number;
  /** OAuth consents in progress dropped. */
  pendingConsents: number;
}

export function isPurgeUserCredentialsPayload(value: unknown): value is PurgeUserCredentialsPayload {
  const v = value as Partial<PurgeUserCredentialsPayload> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.userId === 'string' &&
    v.userId.length > 0 &&
    v.userId.length <= 100 &&
    typeof v.reason === 'string'
  );
}
