import type { Role } from '../../db/management-schema.ts';

/** Who is calling. Runners are principals too (issue: runners), with their own kind. */
export type Principal = UserPrincipal | RunnerPrincipal;

export interface UserPrincipal {
  kind: 'user';
  userId: string;
  email: string;
  organizationId: string;
  role: Role;
  via: 'session' | 'api-token';
  sessionId?: string;
  csrfToken?: string;
  apiTokenId?: string;
}

export interface RunnerPrincipal {
  kind: 'runner';
  runnerId: string;
  organizationId: string;
  name: string;
}
