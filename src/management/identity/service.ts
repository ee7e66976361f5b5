import { randomBytes } from 'node:crypto';
import type { AuthMethod, MembershipSource, Role } from '../../db/management-schema.ts';
import { ApiError, badRequest, conflict, forbidden, notFound } from '../../http/errors.ts';
import { hashPassword, passwordProblem, verifyAgainstDummy, verifyPassword } from './password.ts';
import type { IdentityStore, Membership } from './store.ts';
import { createSignInThrottle } from './throttle.ts';
import { constantTimeEqual, displayPrefix, generateToken, hashToken, hasPrefix, newId } from './tokens.ts';
import type { AccountPrincipal, UserPrincipal } from './principal.ts';

export interface IdentityOptions {
  sessionTtlHours: number;
  signInMaxFailures: number;
  signInWindowMinutes: number;
  /** Who may create organizations: instance operators only (default) or any signed-in user. */
  organizationCreation?: 'operators' | 'users';
  /** Tests lower scrypt's cost; production keeps the defaults. */
  passwordParams?: { N: number; r: number; p: number };
  now?: () => Date;
}

const SIGN_IN_LINK_MINUTES = 15;
/** How recent a proof of the person must be for a sensitive account change without the current password. */
export const FRESH_AUTHENTICATION_MINUTES = 15;
export const API_TOKEN_DEFAULT_DAYS = 90;
export const API_TOKEN_MAX_DAYS = 366;

export interface ClientInfo {
  ip?: string;
  userAgent?: string;
}

export interface NewSession {
  token: string;
  id: string;
  csrfToken: string;
  maxAgeSeconds: number;
  organizationId: string | null;
}

export function createIdentityService(store: IdentityStore, options: IdentityOptions) {
  const now = options.now ?? (() => new Date());
  const iso = (d: Date = now()) => d.toISOString();
  const addMinutes = (minutes: number) => new Date(now().getTime() + minutes * 60_000).toISOString();
  const throttle = createSignInThrottle(store, { maxFailures: options.signInMaxFailures, windowMinutes: options.signInWindowMinutes }, now);
  const ttlMs = options.sessionTtlHours * 3600_000;

  /**
   * The organization a new session starts in, decided by the person, never by an ordering: the
   * one they used last, their only one, or none yet (they choose). A session made by a method an
   * organization refuses (password while it requires SSO) cannot start there.
   */
  async function organizationFor(userId: string, method: AuthMethod, prefer?: string): Promise<string | null> {
    const [user, memberships] = await Promise.all([store.findUser(userId), store.memberships(userId)]);
    const allowed = memberships.filter((m) => methodAllowed(m, method));
    if (prefer && allowed.some((m) => m.organizationId === prefer)) return prefer;
    if (user?.last_organization_id && allowed.some((m) => m.organizationId === user.last_organization_id)) return user.last_organization_id;
    if (allowed.length === 1) return allowed[0]!.organizationId;
    return null;
  }

  async function createSession(
    userId: string,
    client: ClientInfo,
    how: { method: AuthMethod; organizationId: string | null; authTime?: Date; ssoIdentityId?: string },
  ): Promise<NewSession> {
    const token = generateToken('session');
    const csrfToken = randomBytes(24).toString('base64url');
    const id = newId('ses');
    // A single-sign-on session lasts no longer than the provider's proof of the person allows.
    const expires = Math.min(now().getTime() + ttlMs, how.authTime ? how.authTime.getTime() + ttlMs : Infinity);
    await store.insertSession({
      id,
      token_hash: hashToken(token),
      user_id: userId,
      organization_id: how.organizationId,
      csrf_token: csrfToken,
      created_at: iso(),
      expires_at: new Date(expires).toISOString(),
      last_seen_at: iso(),
      ip: client.ip ?? null,
      user_agent: client.userAgent?.slice(0, 300) ?? null,
      auth_method: how.method,
      authenticated_at: iso(how.authTime ?? now()),
      sso_identity_id: how.ssoIdentityId ?? null,
    });
    if (how.organizationId) await store.setLastOrganization(userId, how.organizationId);
    return {
      token,
      id,
      csrfToken,
      maxAgeSeconds: Math.max(1, Math.floor((expires - now().getTime()) / 1000)),
      organizationId: how.organizationId,
    };
  }

  async function requireStrongPassword(password: string, userInputs: string[]) {
    const problem = passwordProblem(password, userInputs);
    if (problem) throw badRequest('weak_password', `password is too weak: ${problem}`, 'password');
  }

  function isFresh(principal: { authenticatedAt?: string }): boolean {
    return (
      principal.authenticatedAt !== undefined &&
      Date.parse(principal.authenticatedAt) >= now().getTime() - FRESH_AUTHENTICATION_MINUTES * 60_000
    );
  }

  /** Where an operator's sign-in link opens: the person's last organization, else one they administer. */
  async function linkOrganization(userId: string, requested?: string): Promise<string | undefined> {
    const memberships = await store.memberships(userId);
    if (requested) return memberships.some((m) => m.organizationId === requested) ? requested : undefined;
    const user = await store.findUser(userId);
    const last = memberships.find((m) => m.organizationId === user?.last_organization_id);
    return (last ?? memberships.find((m) => m.role === 'admin') ?? memberships[0])?.organizationId;
  }

  return {
    store,
    createSession,
    hashPassword: (password: string) => hashPassword(password, options.passwordParams),
    organizationFor,

    /** Creates the first organization and its admin (an instance operator) when the database has no user yet. */
    async bootstrap(input: { organizationName: string; adminEmail: string }) {
      if ((await store.countUsers()) > 0) return undefined;
      const organizationId = newId('org');
      const userId = newId('usr');
      await store.transaction(async (tx) => {
        await tx.insertOrganization({
          id: organizationId,
          slug: slugify(input.organizationName),
          name: input.organizationName,
          created_at: iso(),
        });
        await tx.insertUser({
          id: userId,
          email: input.adminEmail.toLowerCase(),
          display_name: 'Administrator',
          password_hash: null,
          created_at: iso(),
          disabled_at: null,
          operator: 1,
          last_organization_id: organizationId,
          password_changed_at: null,
        });
        await tx.insertMembership({
          organization_id: organizationId,
          user_id: userId,
          role: 'admin',
          created_at: iso(),
          source: 'bootstrap',
        });
      });
      return { organizationId, userId };
    },

    /** The instance operator `keyway start` prints a sign-in link for, and the organization the link opens. */
    async bootstrapAdmin(): Promise<{ userId: string; organizationId: string } | undefined> {
      const operator = await store.firstOperator();
      if (!operator) return undefined;
      const organizationId = await linkOrganization(operator.id);
      return organizationId ? { userId: operator.id, organizationId } : undefined;
    },

    linkOrganization,

    /** Creates an organization; the creator becomes its admin. Who may call this is decided by the route. */
    async createOrganization(name: string, creatorUserId: string) {
      const slug = slugify(name);
      if (!slug) throw badRequest('invalid_name', 'organization name needs at least one letter or digit', 'name');
      if (name.trim() !== name) throw badRequest('invalid_name', 'organization name must not start or end with spaces', 'name');
      if (await store.findOrganizationBySlug(slug))
        throw conflict('organization_exists', `an organization named like "${name}" exists; pick another name`, 'name');
      const id = newId('org');
      await store.transaction(async (tx) => {
        await tx.insertOrganization({ id, slug, name, created_at: iso() });
        await tx.insertMembership({ organization_id: id, user_id: creatorUserId, role: 'admin', created_at: iso(), source: 'operator' });
      });
      return { id, slug, name };
    },

    mayCreateOrganizations(user: { operator: number } | undefined): boolean {
      return options.organizationCreation === 'users' || user?.operator === 1;
    },

    /**
     * Provisions a new account straight into an organization: the operator's and the seeding code's
     * tool (demo mode, tests, the command line), never reachable over HTTP for an existing account.
     */
    async createUser(input: {
      email: string;
      displayName?: string;
      password?: string;
      organizationId: string;
      role: Role;
      source?: MembershipSource;
    }) {
      const email = normalizeEmail(input.email);
      if (input.password !== undefined) await requireStrongPassword(input.password, [email, input.displayName ?? '']);
      if (await store.findUserByEmail(email))
        throw conflict('account_exists', `an account for ${email} exists; invite it instead`, 'email');
      const id = newId('usr');
      const passwordHash = input.password === undefined ? null : await hashPassword(input.password, options.passwordParams);
      await store.transaction(async (tx) => {
        await tx.insertUser({
          id,
          email,
          display_name: input.displayName?.trim() || email,
          password_hash: passwordHash,
          created_at: iso(),
          disabled_at: null,
          operator: 0,
          last_organization_id: null,
          password_changed_at: passwordHash ? iso() : null,
        });
        await tx.insertMembership({
          organization_id: input.organizationId,
          user_id: id,
          role: input.role,
          created_at: iso(),
          source: input.source ?? 'operator',
        });
      });
      return { id, email, created: true };
    },

    /** Sets a password without asking for the old one: operators and seeding only (see changePassword). */
    async setPassword(userId: string, password: string) {
      const user = await store.findUser(userId);
      if (!user) throw notFound('user');
      await requireStrongPassword(password, [user.email, user.display_name]);
      await store.updatePassword(userId, await hashPassword(password, options.passwordParams), iso());
    },

    /**
     * A person changes their own password: from a browser session only, proving themselves with the
     * current password (throttled like a sign-in) or with a sign-in of the last few minutes (SSO
     * re-authentication, an operator's link). Every other session and every API token ends.
     */
    async changePassword(
      principal: UserPrincipal | AccountPrincipal,
      input: { currentPassword?: string; password: string },
      client: ClientInfo,
    ) {
      if (principal.via !== 'session' || !principal.sessionId)
        throw forbidden('change your password from a browser session; API tokens cannot change it');
      const user = await store.findUser(principal.userId);
      if (!user) throw notFound('user');
      await requireStrongPassword(input.password, [user.email, user.display_name]);
      if (input.currentPassword !== undefined && input.currentPassword !== '') {
        if (!user.password_hash)
          throw badRequest('no_current_password', 'this account has no password yet; leave the current password empty', 'currentPassword');
        const reservation = await throttle.reserve(`password-change:${user.id}`, client.ip ?? 'unknown', true);
        if (!(await verifyPassword(input.currentPassword, user.password_hash))) {
          throw new ApiError(403, 'current_password_wrong', 'the current password is wrong', 'currentPassword');
        }
        await reservation.succeeded();
      } else if (!isFresh(principal) || (user.password_hash && principal.authMethod === 'password')) {
        throw new ApiError(
          403,
          'reauthentication_required',
          user.password_hash
            ? 'enter your current password to change it'
            : `sign in again (single sign-on, or a new sign-in link) within ${FRESH_AUTHENTICATION_MINUTES} minutes before setting a password`,
          user.password_hash ? 'currentPassword' : undefined,
        );
      }
      await store.updatePassword(user.id, await hashPassword(input.password, options.passwordParams), iso());
      const endedSessions = await store.deleteSessions(user.id, { exceptId: principal.sessionId });
      const revokedTokens = await store.revokeApiTokens(user.id, iso());
      await store.markAuthenticated(principal.sessionId, iso());
      return { endedSessions, revokedTokens };
    },

    /**
     * Password sign-in. The attempt is reserved before the password is checked (see throttle.ts);
     * the answer is the same for a missing account, a disabled one and a wrong password.
     */
    async signIn(input: { email: string; password: string }, client: ClientInfo) {
      const email = normalizeEmail(input.email);
      const ip = client.ip ?? 'unknown';
      const user = await store.findUserByEmail(email);
      const known = user ? await store.isKnownAddress(user.id, ip) : false;
      const reservation = await throttle.reserve(email, ip, known);
      const ok =
        user?.password_hash && !user.disabled_at
          ? await verifyPassword(input.password, user.password_hash)
          : await verifyAgainstDummy(input.password, options.passwordParams);
      if (!user || !ok) throw new ApiError(401, 'invalid_credentials', 'email or password is wrong');
      await reservation.succeeded();
      await store.rememberAddress(user.id, ip, iso());
      const memberships = await store.memberships(user.id);
      // An account in no organization (removed from its last one) still signs in, into no organization:
      // accepting a new invitation needs a session of the invited account, and every organization-scoped
      // route answers organization_required until then.
      if (memberships.length > 0 && !memberships.some((m) => methodAllowed(m, 'password'))) {
        throw new ApiError(
          403,
          'sso_required',
          'your organization requires single sign-on: use "Sign in with Microsoft" (or your organization\'s sign-in button)',
        );
      }
      const session = await createSession(user.id, client, {
        method: 'password',
        organizationId: await organizationFor(user.id, 'password'),
      });
      return { session, userId: user.id, organizationId: session.organizationId };
    },

    async createSignInLink(userId: string, organizationId: string, purpose = 'bootstrap') {
      const token = generateToken('signInLink');
      await store.insertSignInLink({
        id: newId('sil'),
        token_hash: hashToken(token),
        user_id: userId,
        organization_id: organizationId,
        created_at: iso(),
        expires_at: addMinutes(SIGN_IN_LINK_MINUTES),
        used_at: null,
        purpose,
      });
      return { token, expiresInMinutes: SIGN_IN_LINK_MINUTES };
    },

    async redeemSignInLink(token: string, client: ClientInfo) {
      if (!hasPrefix(token, 'signInLink')) throw new ApiError(401, 'invalid_link', 'this sign-in link is not valid; ask for a new one');
      const result = await store.consumeSignInLink(hashToken(token), iso());
      if (result.outcome === 'unknown') throw new ApiError(401, 'invalid_link', 'this sign-in link is not valid; ask for a new one');
      if (result.outcome === 'used')
        throw new ApiError(
          401,
          'link_used',
          'this sign-in link was used already; each link works once — an operator can print a new one with `keyway admin link`',
        );
      if (result.outcome === 'expired')
        throw new ApiError(
          401,
          'link_expired',
          `this sign-in link expired (links last ${SIGN_IN_LINK_MINUTES} minutes); an operator can print a new one with \`keyway admin link\``,
        );
      const user = await store.findUser(result.link.user_id);
      if (!user || user.disabled_at) throw new ApiError(401, 'invalid_link', 'this sign-in link is not valid; ask for a new one');
      // An operator's link works in any organization of the person's, even one that requires SSO:
      // it is how an operator gets back in when single sign-on is broken.
      const organizationId = await organizationFor(user.id, 'link', result.link.organization_id);
      const session = await createSession(user.id, client, { method: 'link', organizationId });
      return { session, userId: user.id, organizationId };
    },

    async signOut(sessionId: string) {
      await store.deleteSession(sessionId);
    },

    /** Resolves a session cookie to a principal, or undefined when it is unknown or expired. */
    async authenticateSession(token: string): Promise<UserPrincipal | AccountPrincipal | undefined> {
      if (!hasPrefix(token, 'session')) return undefined;
      const session = await store.findSessionByHash(hashToken(token));
      if (!session || session.expires_at < iso()) return undefined;
      const user = await store.findUser(session.user_id);
      if (!user || user.disabled_at) return undefined;
      // Writing last_seen on every request would turn reads into writes; a minute's precision is enough.
      if (Date.parse(session.last_seen_at) < now().getTime() - 60_000) await store.touchSession(session.id, iso());
      const account = {
        userId: user.id,
        email: user.email,
        operator: user.operator === 1,
        via: 'session' as const,
        sessionId: session.id,
        csrfToken: session.csrf_token,
        authMethod: session.auth_method,
        authenticatedAt: session.authenticated_at,
        ssoIdentityId: session.sso_identity_id ?? undefined,
      };
      if (!session.organization_id) return { kind: 'account', ...account };
      const membership = await store.membership(user.id, session.organization_id);
      if (!membership || !methodAllowed(membership, session.auth_method)) return { kind: 'account', ...account };
      return { kind: 'user', ...account, organizationId: membership.organizationId, role: membership.role };
    },

    async authenticateApiToken(token: string): Promise<UserPrincipal | undefined> {
      if (!hasPrefix(token, 'apiToken')) return undefined;
      const row = await store.findApiTokenByHash(hashToken(token));
      if (!row || row.revoked_at || (row.expires_at && row.expires_at < iso())) return undefined;
      const user = await store.findUser(row.user_id);
      if (!user || user.disabled_at) return undefined;
      const membership = await store.membership(user.id, row.organization_id);
      if (!membership) return undefined;
      if (!row.last_used_at || Date.parse(row.last_used_at) < now().getTime() - 60_000) await store.touchApiToken(row.id, iso());
      // The token acts with the person's role as it is now: demoting the person demotes the token.
      return {
        kind: 'user',
        userId: user.id,
        email: user.email,
        operator: false,
        organizationId: membership.organizationId,
        role: membership.role,
        via: 'api-token',
        apiTokenId: row.id,
      };
    },

    checkCsrf(principal: UserPrincipal | AccountPrincipal, presented: string | undefined): boolean {
      return (
        principal.via !== 'session' ||
        (presented !== undefined && principal.csrfToken !== undefined && constantTimeEqual(presented, principal.csrfToken))
      );
    },

    /**
     * API tokens are made from a browser session only (a token cannot mint tokens), always expire
     * (at most API_TOKEN_MAX_DAYS), and act as their person in one organization with the person's
     * current role, so they never outlive or out-scope the membership behind them.
     */
    async createApiToken(principal: UserPrincipal, input: { name: string; expiresInDays?: number }) {
      if (principal.via !== 'session' || !principal.sessionId)
        throw forbidden('API tokens cannot create API tokens; create one from a browser session (Account → API tokens)');
      const days = input.expiresInDays ?? API_TOKEN_DEFAULT_DAYS;
      if (days < 1 || days > API_TOKEN_MAX_DAYS)
        throw badRequest('invalid_expiry', `expiresInDays must be between 1 and ${API_TOKEN_MAX_DAYS}`, 'expiresInDays');
      const token = generateToken('apiToken');
      const id = newId('tok');
      const expiresAt = addMinutes(days * 24 * 60);
      await store.insertApiToken({
        id,
        token_hash: hashToken(token),
        display_prefix: displayPrefix(token),
        name: input.name,
        user_id: principal.userId,
        organization_id: principal.organizationId,
        created_at: iso(),
        expires_at: expiresAt,
        last_used_at: null,
        revoked_at: null,
        created_by_session: principal.sessionId,
      });
      return { id, token, name: input.name, expiresAt };
    },

    async listApiTokens(userId: string) {
      const rows = await store.listApiTokens(userId);
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        prefix: r.display_prefix,
        organizationId: r.organization_id,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        lastUsedAt: r.last_used_at,
        revokedAt: r.revoked_at,
      }));
    },

    async revokeApiToken(userId: string, tokenId: string) {
      const result = await store.revokeApiToken(tokenId, userId, iso());
      if (Number(result.numUpdatedRows) !== 1) throw notFound('API token');
    },

    /** Moves a browser session into another organization of the person's; returns where it was. */
    async switchOrganization(
      principal: UserPrincipal | AccountPrincipal,
      organizationId: string,
    ): Promise<{ from: string | null; membership: Membership }> {
      if (principal.via !== 'session' || !principal.sessionId)
        throw badRequest('not_a_session', 'only a browser session can switch organization; API tokens belong to one organization');
      const membership = await store.membership(principal.userId, organizationId);
      if (!membership) throw notFound('organization');
      if (!methodAllowed(membership, principal.authMethod ?? 'password')) {
        throw new ApiError(
          403,
          'sso_required',
          `${membership.organizationName} requires single sign-on: sign out and use its sign-in button`,
        );
      }
      await store.setSessionOrganization(principal.sessionId, organizationId);
      await store.setLastOrganization(principal.userId, organizationId);
      return { from: principal.kind === 'user' ? principal.organizationId : null, membership };
    },

    async listSessions(principal: UserPrincipal | AccountPrincipal) {
      const rows = await store.listSessions(principal.userId, iso());
      return rows.map((r) => ({
        id: r.id,
        current: r.id === principal.sessionId,
        organizationId: r.organization_id,
        createdAt: r.created_at,
        lastSeenAt: r.last_seen_at,
        expiresAt: r.expires_at,
        ip: r.ip,
        userAgent: r.user_agent,
        authMethod: r.auth_method,
      }));
    },

    async endSession(userId: string, sessionId: string) {
      if (!(await store.deleteSession(sessionId, userId))) throw notFound('session');
    },

    /** "Sign out everywhere": every session of the person, this one included. */
    endAllSessions: (userId: string) => store.deleteSessions(userId),

    memberships: (userId: string) => store.memberships(userId),
    members: (organizationId: string) => store.organizationMembers(organizationId),
    findUser: (id: string) => store.findUser(id),
    findUserByEmail: (email: string) => store.findUserByEmail(normalizeEmail(email)),
    findOrganization: (id: string) => store.findOrganization(id),

    /** Housekeeping: expired sessions and throttle windows. */
    async prune() {
      await store.deleteExpiredSessions(iso());
      await store.pruneAttempts(new Date(now().getTime() - options.signInWindowMinutes * 60_000 * 2).toISOString());
    },
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;

/** Whether a session made by `method` may act in the organization. Links are the operator's way back in. */
export function methodAllowed(membership: Pick<Membership, 'passwordSignIn'>, method: AuthMethod): boolean {
  return membership.passwordSignIn || method === 'sso' || method === 'link';
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

export function isEmail(email: string): boolean {
  return /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) && email.length <= 320;
}

export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
}
