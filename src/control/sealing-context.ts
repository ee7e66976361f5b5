/**
 * Associated data of every sealed value (HPKE, src/crypto/sealing.ts): a value sealed for one record
 * and purpose does not open for another. The one list both planes, the CLI and the browser build
 * it from; a string changed on one side only would silently stop sealed secrets from opening
 * (docs/sealing.md).
 */
export const sealingContext = {
  /** An integration's OAuth client secret (Entra app). */
  integrationClientSecret: (integrationId: string) => `scm-integration:${integrationId}:oauth-client-secret`,
  /** A user's Personal Access Token for one integration. */
  userPat: (integrationId: string, userId: string) => `scm-integration:${integrationId}:user:${userId}:pat`,
  /** The PAT (access-token) or the client secret (client-secret) of one app connection. */
  appConnectionSecret: (connectionId: string) => `app-connection:${connectionId}:secret`,
  /** A sync's variable values: one sealed JSON object `{ name: value }` per request. */
  syncVariables: (syncId: string) => `sync:${syncId}:variables`,
  /** oauth app connections: the instance-wide Entra app's client secret (KEYWAY_AZURE_DEVOPS_CLIENT_SECRET), sealed per runner. */
  oauthAppClientSecret: (clientId: string) => `app-connections:oauth-app:${clientId}:client-secret`,
} as const;
