// Shapes of the /api/v1 answers the UI reads (see GET /api/openapi.json).

export type Role = 'admin' | 'member';

export interface Organization {
  id: string;
  slug: string;
  name: string;
}

export interface Me {
  user: { id: string; email: string; displayName: string };
  organization: Organization;
  role: Role;
  organizations: (Organization & { role: Role })[];
  csrfToken: string | null;
  authenticatedBy: 'session' | 'api-token';
}

export interface Member {
  id: string;
  email: string;
  displayName: string;
  role: Role;
  createdAt: string;
  disabled: boolean;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  organizationId: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface CreatedApiToken {
  id: string;
  name: string;
  token: string;
  expiresAt: string | null;
}

export interface AuditEvent {
  id: string;
  createdAt: string;
  actor: { type: string; id: string | null; label: string | null };
  action: string;
  target: { type: string; id: string | null } | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  details: Record<string, unknown>;
}

export type RunnerStatus = 'pending' | 'online' | 'offline' | 'revoked';

export interface Runner {
  id: string;
  name: string;
  status: RunnerStatus;
  lastSeenAt: string | null;
  version: string | null;
  publicKey: string | null;
  publicKeyFingerprint: string | null;
  createdAt: string;
  local: boolean;
}

export interface CreatedRunner {
  runner: Runner;
  exchangeToken: string;
  exchangeExpiresAt: string | null;
  command: string;
}

export interface IntegrationTest {
  valid: boolean;
  hostError?: string;
  oauthError?: string;
  patError?: string;
  scmIdError?: string;
  runnerError?: string;
  testedAt: string;
}

export interface Integration {
  id: string;
  runnerId: string;
  scmId: 'azure-devops';
  host: string;
  /** '' when none (always for dev.azure.com). */
  virtualDirectory: string;
  kind?: 'services' | 'server';
  oauth: { clientId: string; issuerUrl: string; clientSecretSet: boolean; callbackUrl: string } | null;
  pat: { enabled: boolean };
  lastTest: IntegrationTest | null;
  createdAt: string;
  updatedAt: string;
}

export interface SavedIntegration {
  integration: Integration;
  test: IntegrationTest;
  /** PATCH only: methods whose users' credentials the change removed. */
  purgedMethods?: string[];
}
