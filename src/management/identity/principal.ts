import { ApiError, forbidden } from '../../http/errors.ts';
import type { AuthMethod, Role } from '../../db/management-schema.ts';

/** Who is calling. Runners are principals too, with their own kind. */
export type Principal = UserPrincipal | AccountPrincipal | RunnerPrincipal;

interface PersonFields {
  userId: string;
  email: string;
  /** An instance operator: may create organizations and disable accounts. */
  operator: boolean;
  via: 'session' | 'api-token';
  sessionId?: string;
  csrfToken?: string;
  apiTokenId?: string;
  /** How the session's person proved who they are, and when (sessions only). */
  authMethod?: AuthMethod;
  authenticatedAt?: string;
  ssoIdentityId?: string;
}

/** A person acting in one organization (a session in it, or an API token of it). */
export interface UserPrincipal extends PersonFields {
  kind: 'user';
  organizationId: string;
  role: Role;
}

/**
 * A signed-in person whose session is in no organization yet (several to choose from, or none
 * they may enter with this sign-in method). May only read and change their own account and pick
 * an organization.
 */
export interface AccountPrincipal extends PersonFields {
  kind: 'account';
  via: 'session';
}

export interface RunnerPrincipal {
  kind: 'runner';
  runnerId: string;
  organizationId: string;
  name: string;
  /** A revoked runner's token: good only for routes that let a revoked runner confirm its purge. */
  revoked?: boolean;
}

/** The calling user in their organization; a route reached without one (or by a runner) is refused. */
export function asUser(request: { principal?: unknown }): UserPrincipal {
  const p = request.principal as Principal | undefined;
  if (p?.kind === 'account') throw organizationRequired();
  if (p?.kind !== 'user') throw forbidden('a user is required');
  return p;
}

/** The calling person, in an organization or not yet. */
export function asPerson(request: { principal?: unknown }): UserPrincipal | AccountPrincipal {
  const p = request.principal as Principal | undefined;
  if (p?.kind !== 'user' && p?.kind !== 'account') throw forbidden('a user is required');
  return p;
}

/** The calling runner; a route reached without one (or by a user) is refused. */
export function asRunner(request: { principal?: unknown }): RunnerPrincipal {
  const p = request.principal as RunnerPrincipal | undefined;
  if (p?.kind !== 'runner') throw forbidden('a runner is required');
  return p;
}

export function organizationRequired(): ApiError {
  return new ApiError(
    409,
    'organization_required',
    "choose an organization first: PUT /api/v1/me/organization with one of GET /api/v1/me's organizations",
  );
}
