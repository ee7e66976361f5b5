import { forbidden } from '../../http/errors.ts';
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
  /** A revoked runner's token: good only for routes that let a revoked runner confirm its purge. */
  revoked?: boolean;
}

/** The calling user; a route reached without one (or by a runner) is refused. */
export function asUser(request: { principal?: unknown }): UserPrincipal {
  const p = request.principal as UserPrincipal | undefined;
  if (p?.kind !== 'user') throw forbidden('a user is required');
  return p;
}

/** The calling runner; a route reached without one (or by a user) is refused. */
export function asRunner(request: { principal?: unknown }): RunnerPrincipal {
  const p = request.principal as RunnerPrincipal | undefined;
  if (p?.kind !== 'runner') throw forbidden('a runner is required');
  return p;
}
