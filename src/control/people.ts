/**
 * Control requests about people, shared by both planes. When someone leaves an organization, is
 * removed from it or is disabled, the management plane asks each of the organization's runners to
 * delete everything it holds for that person; the runner answers with what it deleted, which is
 * the confirmation the management plane records.
 */
import { Type } from 'typebox';
import type { Static } from 'typebox';

export const PURGE_USER_CREDENTIALS = 'purge-user-credentials';

export const PurgeUserCredentialsPayload = Type.Object({
  userId: Type.String({ minLength: 1, maxLength: 100 }),
  /** Why, for the runner's log: removed, left, disabled, sso_claims. */
  reason: Type.String(),
});
export type PurgeUserCredentialsPayload = Static<typeof PurgeUserCredentialsPayload>;

export const PurgeUserCredentialsResult = Type.Object({
  /** Credential rows deleted (OAuth token sets, PATs). */
  credentials: Type.Number(),
  /** OAuth consents in progress dropped. */
  pendingConsents: Type.Number(),
});
export type PurgeUserCredentialsResult = Static<typeof PurgeUserCredentialsResult>;
