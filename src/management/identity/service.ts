import { randomBytes } from 'node:crypto';
import type { Role } from '../../db/management-schema.ts';
import { ApiError, badRequest, conflict, notFound, tooManyRequests } from '../../http/errors.ts';
import { hashPassword, passwordProblem, verifyAgainstDummy, verifyPassword } from './password.ts';
import type { IdentityStore, Membership } from './store.ts';
import { constantTimeEqual, displayPrefix, generateToken, hashToken, hasPrefix, newId } from './tokens.ts';
import type { UserPrincipal } from './principal.ts';

export interface IdentityOptions {
  sessionTtlHours: number;
  signInMaxFailures: number;
  signInWindowMinutes: number;
  /** Tests lower scrypt's cost; production keeps the defaults. */
  passwordParams?: { N: number; r: number; p: number };
  now?: () => Date;
}

const SIGN_IN_LINK_MINUTES = 15;

export function createIdentityService(store: IdentityStore, options: IdentityOptions) {
  const now = options.now ?? (() => new Date());
  const iso = (d: Date = now()) => d.toISOString();
  const addMinutes = (minutes: number) => new Date(now().getTime() + minutes * 60_000).toISOString();

  async function createSession(userId: string, organizationId: string, client: ClientInfo) {
    const token = generateToken('session');
    const csrfToken = randomBytes(24).toString('base64url');
    const id = newId('ses');
    await store.insertSession({
      id,
      token_hash: hashToken(token),
      user_id: userId,
      organization_id: organizationId,
      csrf_token: csrfToken,
      created_at: iso(),
      expires_at: addMinutes(options.sessionTtlHours * 60),
      last_seen_at: iso(),
      ip: client.ip ?? null,
      user_agent: client.userAgent?.slice(0, 300) ?? null,
    });
    return { token, id, csrfToken, maxAgeSeconds: options.sessionTtlHours * 3600 };
  }

  async function firstMembership(userId: string): Promise<Membership> {
    const memberships = await store.memberships(userId);
    const first = memberships[0];
    if (!first) throw new ApiError(403, 'no_organization', 'this account belongs to no organization; ask an admin to add you');
    return first;
  }

  return {
    /** Creates the first organization and its admin when the database has no user yet. */
    async bootstrap(input: { organizationName: string; adminEmail: string }) {
      if ((await store.countUsers()) > 0) return undefined;
      const organizationId = newId('org');
      const userId = newId('usr');
      await store.insertOrganization({ id: organizationId, slug: slugify(input.organizationName), name: input.organizationName, created_at: iso() });
      await store.insertUser({ id: userId, email: input.adminEmail.toLowerCase(), display_name: 'Administrator', password_hash: null, created_at: iso(), disabled_at: null });
      await store.insertMembership({ organization_id: organizationId, user_id: userId, role: 'admin', created_at: iso() });
      return { organizationId, userId };
    },

    /** The first admin of the first organization: the user `keyway start` prints a sign-in link for. */
    async bootstrapAdmin(): Promise<{ userId: string; organizationId: string } | undefined> {
      const row = await store.db
        .selectFrom('memberships')
        .select(['user_id', 'organization_id'])
        .where('role', '=', 'admin')
        .orderBy('created_at')
        .limit(1)
        .executeTakeFirst();
      return row && { userId: row.user_id, organizationId: row.organization_id };
    },

    async createOrganization(name: string, creatorUserId: string) {
      const slug = slugify(name);
      if (!slug) throw badRequest('invalid_name', 'organization name needs at least one letter or digit', 'name');
      if (await store.findOrganizationBySlug(slug)) throw conflict('organization_exists', `an organization named like "${name}" exists; pick another name`, 'name');
      const id = newId('org');
      await store.insertOrganization({ id, slug, name, created_at: iso() });
      await store.insertMembership({ organization_id: id, user_id: creatorUserId, role: 'admin', created_at: iso() });
      return { id, slug, name };
    },

    async createUser(input: { email: string; displayName?: string; password?: string; organizationId: string; role: Role }) {
      const email = input.email.trim().toLowerCase();
      if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw badRequest('invalid_email', 'email must look like name@example.com', 'email');
      if (input.password !== undefined) {
        const problem = passwordProblem(input.password);
        if (problem) throw badRequest('weak_password', `password is too weak: ${problem}`, 'password');
      }
      const existing = await store.findUserByEmail(email);
      if (existing) {
        if (await store.membership(existing.id, input.organizationId)) {
          throw conflict('member_exists', `${email} is already a member of this organization`, 'email');
        }
        await store.insertMembership({ organization_id: input.organizationId, user_id: existing.id, role: input.role, created_at: iso() });
        return { id: existing.id, email, created: false };
      }
      const id = newId('usr');
      await store.insertUser({
        id,
        email,
        display_name: input.displayName?.trim() || email,
        password_hash: input.password === undefined ? null : await hashPassword(input.password, options.passwordParams),
        created_at: iso(),
        disabled_at: null,
      });
      await store.insertMembership({ organization_id: input.organizationId, user_id: id, role: input.role, created_at: iso() });
      return { id, email, created: true };
    },

    async setRole(organizationId: string, userId: string, role: Role) {
      if (!(await store.membership(userId, organizationId))) throw notFound('member');
      await store.updateRole(organizationId, userId, role);
    },

    async setPassword(userId: string, password: string) {
      const problem = passwordProblem(password);
      if (problem) throw badRequest('weak_password', `password is too weak: ${problem}`, 'password');
      await store.updatePassword(userId, await hashPassword(password, options.passwordParams));
    },

    /**
     * Password sign-in. Failures are counted per account and per client address in the database,
     * so the limit holds across management-plane replicas; the answer is the same for a missing
     * account and a wrong password.
     */
    async signIn(input: { email: string; password: string }, client: ClientInfo) {
      const email = input.email.trim().toLowerCase();
      const ip = client.ip ?? 'unknown';
      const windowStart = new Date(now().getTime() - options.signInWindowMinutes * 60_000).toISOString();
      const failures = await store.countSignInFailures(windowStart, email, ip);
      if (failures.subject >= options.signInMaxFailures || failures.ip >= options.signInMaxFailures * 4) {
        const oldest = failures.oldest ? new Date(failures.oldest).getTime() : now().getTime();
        const retryAfter = (oldest + options.signInWindowMinutes * 60_000 - now().getTime()) / 1000;
        throw tooManyRequests(`too many failed sign-ins; wait ${Math.ceil(Math.max(retryAfter, 1) / 60)} minute(s) and try again`, retryAfter);
      }
      const user = await store.findUserByEmail(email);
      const ok = user?.password_hash && !user.disabled_at ? await verifyPassword(input.password, user.password_hash) : await verifyAgainstDummy(input.password, options.passwordParams);
      if (!user || !ok) {
        await store.insertSignInFailure({ id: newId('sif'), subject: email, ip, created_at: iso() });
        throw new ApiError(401, 'invalid_credentials', 'email or password is wrong');
      }
      await store.clearSignInFailures(email);
      const membership = await firstMembership(user.id);
      const session = await createSession(user.id, membership.organizationId, client);
      return { session, userId: user.id, organizationId: membership.organizationId };
    },

    async createSignInLink(userId: string, organizationId: string) {
      const token = generateToken('signInLink');
      await store.insertSignInLink({
        id: newId('sil'),
        token_hash: hashToken(token),
        user_id: userId,
        organization_id: organizationId,
        created_at: iso(),
        expires_at: addMinutes(SIGN_IN_LINK_MINUTES),
        used_at: null,
      });
      return { token, expiresInMinutes: SIGN_IN_LINK_MINUTES };
    },

    async redeemSignInLink(token: string, client: ClientInfo) {
      if (!hasPrefix(token, 'signInLink')) throw new ApiError(401, 'invalid_link', 'this sign-in link is not valid; ask for a new one');
      const result = await store.consumeSignInLink(hashToken(token), iso());
      if (result.outcome === 'unknown') throw new ApiError(401, 'invalid_link', 'this sign-in link is not valid; ask for a new one');
      if (result.outcome === 'used') throw new ApiError(401, 'link_used', 'this sign-in link was used already; each link works once — run `keyway start` again or ask an admin for a new one');
      if (result.outcome === 'expired') throw new ApiError(401, 'link_expired', `this sign-in link expired (links last ${SIGN_IN_LINK_MINUTES} minutes); ask for a new one`);
      const session = await createSession(result.link.user_id, result.link.organization_id, client);
      return { session, userId: result.link.user_id, organizationId: result.link.organization_id };
    },

    async signOut(sessionId: string) {
      await store.deleteSession(sessionId);
    },

    /** Resolves a session cookie to a principal, or undefined when it is unknown or expired. */
    async authenticateSession(token: string): Promise<UserPrincipal | undefined> {
      if (!hasPrefix(token, 'session')) return undefined;
      const session = await store.findSessionByHash(hashToken(token));
      if (!session || session.expires_at < iso()) return undefined;
      const user = await store.findUser(session.user_id);
      if (!user || user.disabled_at) return undefined;
      const membership = await store.membership(user.id, session.organization_id);
      if (!membership) return undefined;
      // Writing last_seen on every request would turn reads into writes; a minute's precision is enough.
      if (Date.parse(session.last_seen_at) < now().getTime() - 60_000) await store.touchSession(session.id, iso());
      return {
        kind: 'user',
        userId: user.id,
        email: user.email,
        organizationId: membership.organizationId,
        role: membership.role,
        via: 'session',
        sessionId: session.id,
        csrfToken: session.csrf_token,
      };
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
      return { kind: 'user', userId: user.id, email: user.email, organizationId: membership.organizationId, role: membership.role, via: 'api-token', apiTokenId: row.id };
    },

    checkCsrf(principal: UserPrincipal, presented: string | undefined): boolean {
      return principal.via !== 'session' || (presented !== undefined && principal.csrfToken !== undefined && constantTimeEqual(presented, principal.csrfToken));
    },

    async createApiToken(principal: UserPrincipal, input: { name: string; expiresInDays?: number }) {
      const token = generateToken('apiToken');
      const id = newId('tok');
      const expiresAt = input.expiresInDays ? addMinutes(input.expiresInDays * 24 * 60) : null;
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

    async switchOrganization(principal: UserPrincipal, organizationId: string) {
      if (!principal.sessionId) throw badRequest('not_a_session', 'only a browser session can switch organization; API tokens belong to one organization');
      if (!(await store.membership(principal.userId, organizationId))) throw notFound('organization');
      await store.switchSessionOrganization(principal.sessionId, organizationId);
    },

    memberships: (userId: string) => store.memberships(userId),
    members: (organizationId: string) => store.organizationMembers(organizationId),
    findUser: (id: string) => store.findUser(id),
    findOrganization: (id: string) => store.findOrganization(id),
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;

export interface ClientInfo {
  ip?: string;
  userAgent?: string;
}

export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60);
}
