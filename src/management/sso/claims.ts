// What Keyway reads from an identity provider's ID token, and how an organization's role mapping
// turns its group or app-role claims into a role. Pure: no I/O.
import type { Role } from '../../db/management-schema.ts';

export type SsoProviderId = 'entra' | 'oidc';

/** The person an ID token vouches for, as Keyway keys and shows them. */
export interface SsoIdentity {
  provider: SsoProviderId;
  issuer: string;
  /**
   * The stable key of the account at the provider. Entra: the object id (`oid`), which is the same
   * for every application and never reassigned; other providers: `sub`.
   */
  subject: string;
  /** Entra's tenant (`tid`); undefined for other providers. */
  tenantId?: string;
  /** For display and for new accounts only, never for matching: Entra's email claims are not verified. */
  email?: string;
  /** Set only when the provider asserted `email_verified: true`. */
  verifiedEmail?: string;
  displayName?: string;
  groups?: string[];
  roles?: string[];
  /** Entra says the user is in more groups than fit in the token (`hasgroups`, `_claim_names`). */
  groupsOverage: boolean;
  /** When the provider last authenticated the person (auth_time, else iat). */
  authTime: Date;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 && v.length <= 400 ? v : undefined);
const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length <= 400).slice(0, 500) : undefined;

/** Reads an ID token's claims (already verified by openid-client). */
export function identityFromClaims(provider: SsoProviderId, claims: Record<string, unknown>): SsoIdentity | { error: string } {
  const issuer = str(claims.iss);
  if (!issuer) return { error: 'the ID token has no issuer' };
  const sub = str(claims.sub);
  const oid = str(claims.oid);
  const subject = provider === 'entra' ? oid : sub;
  if (!subject)
    return {
      error:
        provider === 'entra' ? 'the ID token has no oid claim; the sign-in must request the profile scope' : 'the ID token has no subject',
    };
  const email = str(claims.email) ?? str(claims.preferred_username) ?? str(claims.upn);
  const seconds = typeof claims.auth_time === 'number' ? claims.auth_time : typeof claims.iat === 'number' ? claims.iat : undefined;
  const claimNames = claims._claim_names as Record<string, unknown> | undefined;
  return {
    provider,
    issuer,
    subject,
    tenantId: provider === 'entra' ? str(claims.tid)?.toLowerCase() : undefined,
    email: email?.toLowerCase(),
    verifiedEmail:
      provider === 'oidc' && claims.email_verified === true && str(claims.email) ? str(claims.email)!.toLowerCase() : undefined,
    displayName: str(claims.name),
    groups: strings(claims.groups),
    roles: strings(claims.roles),
    groupsOverage: claims.hasgroups === true || (typeof claimNames === 'object' && claimNames !== null && 'groups' in claimNames),
    authTime: seconds !== undefined ? new Date(seconds * 1000) : new Date(),
  };
}

export interface RoleMapping {
  claim: 'groups' | 'roles' | null;
  adminValues: readonly string[];
  memberValues: readonly string[];
}

export type RoleDecision = { role: Role } | { refused: string };

/**
 * The role a person gets from their claims, decided again at every sign-in:
 * - no mapping: member;
 * - a value in `adminValues`: admin;
 * - otherwise a value in `memberValues`, or `memberValues` empty: member;
 * - otherwise refused: the organization admits only the listed groups or roles.
 * Group overage (more groups than Entra puts in a token) cannot be decided from the token, so it
 * is refused whenever the decision needs the groups; app roles never overflow.
 */
export function roleFromClaims(identity: Pick<SsoIdentity, 'groups' | 'roles' | 'groupsOverage'>, mapping: RoleMapping): RoleDecision {
  if (!mapping.claim) return { role: 'member' };
  if (mapping.claim === 'groups' && identity.groupsOverage && (mapping.adminValues.length > 0 || mapping.memberValues.length > 0)) {
    return {
      refused: 'you are in more groups than Entra ID puts in a sign-in token; ask an admin to map roles with app roles instead of groups',
    };
  }
  const values = new Set((mapping.claim === 'groups' ? identity.groups : identity.roles)?.map((v) => v.toLowerCase()) ?? []);
  if (mapping.adminValues.some((v) => values.has(v.toLowerCase()))) return { role: 'admin' };
  if (mapping.memberValues.length === 0 || mapping.memberValues.some((v) => values.has(v.toLowerCase()))) return { role: 'member' };
  return {
    refused: `your ${mapping.claim === 'groups' ? 'groups' : 'app roles'} do not include one this organization admits; ask an admin to add you`,
  };
}
