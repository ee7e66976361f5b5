import { createHash, randomBytes } from 'node:crypto';
import type { Role } from '../../db/management-schema.ts';
import { ApiError, badRequest, notFound } from '../../http/errors.ts';
import type { AuditLog } from '../audit/service.ts';
import type { AccountPrincipal, UserPrincipal } from '../identity/principal.ts';
import type { ClientInfo, IdentityService, NewSession } from '../identity/service.ts';
import { isEmail, normalizeEmail } from '../identity/service.ts';
import { hashToken, hasPrefix, newId } from '../identity/tokens.ts';
import { safeReturnTo } from '../oauth/return-to.ts';
import type { OrganizationService } from '../organizations/service.ts';
import type { OrganizationStore } from '../organizations/store.ts';
import { identityFromClaims, roleFromClaims } from './claims.ts';
import type { SsoIdentity, SsoProviderId } from './claims.ts';
import { SsoProviderError, entraIssuer } from './client.ts';
import type { EntraSsoConfig, OidcSsoConfig, SsoClient, SsoProviderConfig } from './client.ts';
import type { SsoStore } from './store.ts';

export const SSO_STATE_MINUTES = 10;
export const SSO_CALLBACK_PATH = '/api/v1/auth/sso/callback';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type SsoIntent = 'sign-in' | 'reauthenticate' | 'link';

export interface SsoProviders {
  entra?: EntraSsoConfig;
  oidc?: OidcSsoConfig;
}

export interface SsoServiceDeps {
  store: SsoStore;
  organizationStore: Pick<
    OrganizationStore,
    'findBinding' | 'allBindings' | 'bindings' | 'policy' | 'findInvitationByHash' | 'findInvitation'
  >;
  organizations: Pick<OrganizationService, 'offboard' | 'joinByInvitation'>;
  identity: IdentityService;
  client: SsoClient;
  providers: SsoProviders;
  audit: Pick<AuditLog, 'record'>;
  publicUrl: () => string;
  now?: () => Date;
}

export interface BeginInput {
  provider: SsoProviderId;
  intent: SsoIntent;
  email?: string;
  organization?: string;
  tenant?: string;
  invitationToken?: string;
  returnTo?: string;
}

export type SsoOutcome =
  | { ok: true; session?: NewSession; returnTo: string; userId: string; organizationId: string | null; intent: SsoIntent }
  | { ok: false; code: string; message: string; returnTo: string; userId?: string; organizationId?: string | null };

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

class SsoRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly userId?: string,
    readonly organizationId?: string,
  ) {
    super(message);
  }
}

/**
 * Single sign-on with Entra ID (tenant by tenant) and one other OpenID Connect provider. Who may
 * come in is decided here: an account linked to the provider's identity, or a new one just in time
 * through a tenant or domain an organization is bound to, or through an invitation. Accounts are
 * never matched by email: Entra's email claims are not verified, and matching on them lets one
 * tenant's admin take over another's accounts ("nOAuth").
 */
export function createSsoService(deps: SsoServiceDeps) {
  const { store, identity } = deps;
  const now = deps.now ?? (() => new Date());
  const iso = () => now().toISOString();
  const redirectUri = () => `${deps.publicUrl()}${SSO_CALLBACK_PATH}`;

  function providerConfig(provider: SsoProviderId): SsoProviderConfig & { issuerFor?: (tenant: string) => string; issuer?: string } {
    if (provider === 'entra' && deps.providers.entra)
      return { ...deps.providers.entra, issuerFor: (tenant) => entraIssuer(deps.providers.entra!.authorityOrigin, tenant) };
    if (provider === 'oidc' && deps.providers.oidc) return { ...deps.providers.oidc };
    throw new ApiError(
      404,
      'provider_not_configured',
      provider === 'entra'
        ? 'sign-in with Microsoft is not set up on this instance (KEYWAY_SSO_ENTRA_CLIENT_ID)'
        : 'single sign-on with another provider is not set up on this instance (KEYWAY_SSO_OIDC_ISSUER)',
    );
  }

  /** The Entra tenant a sign-in goes through: only tenants bound to an organization admit new sign-ins. */
  async function signInTenant(input: BeginInput): Promise<string> {
    const authority = deps.providers.entra!.authorityOrigin;
    const bound = await deps.organizationStore.allBindings('entra-tenant');
    if (input.organization) {
      const org = await identity.store.findOrganizationBySlug(input.organization.toLowerCase());
      const tenants = org ? bound.filter((b) => b.organization_id === org.id) : [];
      if (tenants.length === 1) return tenants[0]!.value;
      if (tenants.length === 0)
        throw badRequest(
          'organization_not_bound',
          'this organization does not sign in with Microsoft; use its password sign-in or ask an admin',
          'organization',
        );
    }
    if (input.email) {
      const email = normalizeEmail(input.email);
      if (!isEmail(email)) throw badRequest('invalid_email', 'enter your work email, like name@example.com', 'email');
      const domain = email.slice(email.indexOf('@') + 1);
      const domainBinding = await deps.organizationStore.findBinding('email-domain', domain);
      const viaDomain = domainBinding ? bound.filter((b) => b.organization_id === domainBinding.organization_id) : [];
      if (viaDomain.length === 1) return viaDomain[0]!.value;
      const tenant = await deps.client.entraTenantForDomain(authority, domain).catch((err: unknown) => {
        throw new ApiError(502, 'provider_unreachable', (err as Error).message);
      });
      // A tenant nobody bound still signs in people who linked it to their account (members by invitation).
      if (tenant && (bound.some((b) => b.value === tenant) || (await store.tenantHasIdentities(tenant)))) return tenant;
      throw badRequest(
        'tenant_not_bound',
        `no organization on this Keyway signs in with Microsoft for ${domain}; ask your admin for an invitation`,
        'email',
      );
    }
    if (bound.length === 1) return bound[0]!.value;
    throw badRequest(
      'email_needed',
      bound.length === 0
        ? 'no organization on this Keyway signs in with Microsoft yet'
        : 'enter your work email so Keyway knows which organization you sign in to',
      'email',
    );
  }

  async function linkedEntraTenant(person: UserPrincipal | AccountPrincipal, requested?: string): Promise<string> {
    const identities = (await store.identitiesOf(person.userId)).filter((i) => i.provider === 'entra' && i.tenant_id);
    const fromSession = identities.find((i) => i.id === person.ssoIdentityId);
    const chosen = requested
      ? identities.find((i) => i.tenant_id === requested.toLowerCase())
      : (fromSession ?? (identities.length === 1 ? identities[0] : undefined));
    if (!chosen)
      throw badRequest(
        'no_linked_identity',
        identities.length === 0 ? 'link a Microsoft account under Account first' : 'say which tenant to sign in again with',
        'tenant',
      );
    return chosen.tenant_id!;
  }

  async function linkTenant(input: BeginInput): Promise<string> {
    if (input.tenant) {
      if (!GUID.test(input.tenant)) throw badRequest('invalid_tenant', 'the tenant is the Directory (tenant) ID, a GUID', 'tenant');
      return input.tenant.toLowerCase();
    }
    if (input.email && isEmail(normalizeEmail(input.email))) {
      const domain = normalizeEmail(input.email).split('@')[1]!;
      const tenant = await deps.client.entraTenantForDomain(deps.providers.entra!.authorityOrigin, domain).catch(() => undefined);
      if (tenant) return tenant;
      throw badRequest('tenant_not_found', `Entra ID knows no tenant for ${domain}; enter the Directory (tenant) ID instead`, 'email');
    }
    throw badRequest('tenant_needed', 'enter your work email or your Directory (tenant) ID', 'email');
  }

  async function openInvitation(token: string | undefined) {
    if (!token) return undefined;
    const refused = badRequest(
      'invalid_invitation',
      'this invitation is not valid; ask the admin who invited you for a new one',
      'invitationToken',
    );
    if (!hasPrefix(token, 'invitation')) throw refused;
    const invitation = await deps.organizationStore.findInvitationByHash(hashToken(token));
    if (!invitation || invitation.revoked_at || invitation.accepted_at || invitation.expires_at < iso()) throw refused;
    return invitation;
  }

  /** Applies an organization's role mapping to a person signing in through its binding. */
  async function applyBinding(
    userId: string,
    organizationId: string,
    person: SsoIdentity,
  ): Promise<{ joined: boolean; role?: Role; refused?: string }> {
    const policy = await deps.organizationStore.policy(organizationId);
    if (!policy) return { joined: false, refused: 'the organization is gone' };
    const decision = roleFromClaims(person, {
      claim: policy.ssoRoleClaim,
      adminValues: policy.ssoAdminValues,
      memberValues: policy.ssoMemberValues,
    });
    const membership = await identity.store.membership(userId, organizationId);
    if ('refused' in decision) {
      if (membership?.source === 'sso') {
        const system = { kind: 'system' as const, label: 'single sign-on' };
        try {
          await deps.organizations.offboard(userId, organizationId, 'sso_claims');
          await deps.audit.record({
            organizationId,
            actor: system,
            action: 'member.remove',
            target: { type: 'user', id: userId },
            outcome: 'success',
            details: { reason: 'sso_claims' },
          });
        } catch (err) {
          // The last admin stays: an organization always keeps one. Recorded for the other admins.
          await deps.audit.record({
            organizationId,
            actor: system,
            action: 'member.sso_sync_skipped',
            target: { type: 'user', id: userId },
            outcome: 'failure',
            details: { reason: (err as ApiError).code ?? 'error' },
          });
        }
      }
      return { joined: false, refused: decision.refused };
    }
    if (!membership) {
      await identity.store.insertMembership({
        organization_id: organizationId,
        user_id: userId,
        role: decision.role,
        created_at: iso(),
        source: 'sso',
      });
      await deps.audit.record({
        organizationId,
        actor: { kind: 'system', label: 'single sign-on' },
        action: 'member.join',
        target: { type: 'user', id: userId },
        outcome: 'success',
        details: { via: person.provider, role: decision.role },
      });
      return { joined: true, role: decision.role };
    }
    if (membership.source === 'sso' && membership.role !== decision.role) {
      const demotingLastAdmin = membership.role === 'admin' && (await identity.store.countAdmins(organizationId)) <= 1;
      if (!demotingLastAdmin) {
        await identity.store.updateRole(organizationId, userId, decision.role);
        await deps.audit.record({
          organizationId,
          actor: { kind: 'system', label: 'single sign-on' },
          action: 'member.role_change',
          target: { type: 'user', id: userId },
          outcome: 'success',
          details: { role: decision.role, from: membership.role, via: 'sso_claims' },
        });
      }
    }
    return { joined: true, role: decision.role };
  }

  async function boundOrganization(person: SsoIdentity): Promise<string | undefined> {
    if (person.provider === 'entra')
      return person.tenantId ? (await deps.organizationStore.findBinding('entra-tenant', person.tenantId))?.organization_id : undefined;
    // Other providers: an email domain binding admits only addresses the provider verified.
    const domain = person.verifiedEmail?.split('@')[1];
    return domain ? (await deps.organizationStore.findBinding('email-domain', domain))?.organization_id : undefined;
  }

  async function newAccount(email: string, person: SsoIdentity): Promise<string> {
    const userId = newId('usr');
    await identity.store.insertUser({
      id: userId,
      email,
      display_name: person.displayName ?? email,
      password_hash: null,
      created_at: iso(),
      disabled_at: null,
      operator: 0,
      last_organization_id: null,
      password_changed_at: null,
    });
    return userId;
  }

  async function link(userId: string, person: SsoIdentity): Promise<string> {
    const id = newId('ssoi');
    await store.insertIdentity({
      id,
      user_id: userId,
      provider: person.provider,
      issuer: person.issuer,
      subject: person.subject,
      tenant_id: person.tenantId ?? null,
      email: person.email ?? null,
      created_at: iso(),
      last_sign_in_at: iso(),
    });
    return id;
  }

  /** Accepting an invitation through the provider: the invited address's account, existing or new. */
  async function viaInvitation(
    person: SsoIdentity,
    linkedUserId: string | undefined,
    invitationId: string,
  ): Promise<{ userId: string; organizationId: string }> {
    const invitation = await deps.organizationStore.findInvitation(invitationId);
    if (!invitation || invitation.revoked_at || invitation.accepted_at || invitation.expires_at < iso())
      throw new SsoRefusal('invalid_invitation', 'this invitation is no longer valid; ask for a new one', linkedUserId);
    let userId = linkedUserId;
    if (userId) {
      const user = await identity.store.findUser(userId);
      if (user?.email !== invitation.email)
        throw new SsoRefusal(
          'wrong_account',
          `this invitation is for ${invitation.email}, but this sign-in belongs to the Keyway account ${user?.email ?? 'of someone else'}`,
          userId,
        );
    } else {
      if (await identity.store.findUserByEmail(invitation.email)) {
        throw new SsoRefusal(
          'account_exists',
          `an account for ${invitation.email} exists; sign in to it, link this sign-in under Account, then accept the invitation`,
        );
      }
      userId = await newAccount(invitation.email, person);
      await link(userId, person);
    }
    try {
      await deps.organizations.joinByInvitation(invitation.id, userId);
    } catch (err) {
      throw new SsoRefusal((err as ApiError).code ?? 'invalid_invitation', (err as Error).message, userId);
    }
    await deps.audit.record({
      organizationId: invitation.organization_id,
      actor: { kind: 'system', label: 'single sign-on' },
      action: 'invitation.accept',
      target: { type: 'invitation', id: invitation.id },
      outcome: 'success',
      details: { userId, via: person.provider },
    });
    return { userId, organizationId: invitation.organization_id };
  }

  /**
   * Signing in through a binding: a linked account, or a new one just in time when the binding's
   * organization admits the person. A linked account of a tenant nobody bound still signs in (its
   * memberships came by invitation) but joins nothing.
   */
  async function viaBinding(person: SsoIdentity, linkedUserId: string | undefined): Promise<{ userId: string; organizationId?: string }> {
    const organizationId = await boundOrganization(person);
    if (!organizationId) {
      if (linkedUserId) return { userId: linkedUserId };
      throw new SsoRefusal(
        person.provider === 'entra' ? 'tenant_not_bound' : 'domain_not_bound',
        person.provider === 'entra'
          ? `your Microsoft tenant (${person.tenantId ?? 'unknown'}) is not bound to an organization on this Keyway; ask your admin for an invitation`
          : 'your account at this provider is not admitted by any organization on this Keyway; ask your admin for an invitation',
      );
    }
    let userId = linkedUserId;
    if (!userId) {
      const policy = await deps.organizationStore.policy(organizationId);
      const decision = roleFromClaims(person, {
        claim: policy?.ssoRoleClaim ?? null,
        adminValues: policy?.ssoAdminValues ?? [],
        memberValues: policy?.ssoMemberValues ?? [],
      });
      // A new account only when the organization would admit the person: nothing is created for a refusal.
      if ('refused' in decision) throw new SsoRefusal('not_admitted', decision.refused, undefined, organizationId);
      const email = person.email && isEmail(person.email) ? person.email : undefined;
      if (!email)
        throw new SsoRefusal(
          'no_email',
          'the identity provider sent no email address for your account; ask your identity provider admin to add one',
        );
      if (await identity.store.findUserByEmail(email)) {
        throw new SsoRefusal(
          'account_exists',
          `a Keyway account for ${email} exists already; sign in to it with its password and link this sign-in under Account`,
        );
      }
      userId = await newAccount(email, person);
      await link(userId, person);
    }
    const applied = await applyBinding(userId, organizationId, person);
    if (applied.refused) throw new SsoRefusal('not_admitted', applied.refused, userId, organizationId);
    return { userId, organizationId };
  }

  /** Signing in (or accepting an invitation) with the provider's identity; throws SsoRefusal. */
  async function signIn(
    person: SsoIdentity,
    invitationId: string | null,
    client: ClientInfo,
  ): Promise<{ userId: string; session: NewSession }> {
    const linked = await store.findIdentity(person.provider, person.issuer, person.subject);
    if (linked) {
      const user = await identity.store.findUser(linked.user_id);
      if (!user || user.disabled_at)
        throw new SsoRefusal('account_disabled', 'your Keyway account is disabled; ask an instance operator', linked.user_id);
    }
    const { userId, organizationId } = invitationId
      ? await viaInvitation(person, linked?.user_id, invitationId)
      : await viaBinding(person, linked?.user_id);
    const identityRow = linked ?? (await store.findIdentity(person.provider, person.issuer, person.subject));
    if (identityRow) await store.touchIdentity(identityRow.id, iso(), person.email ?? null);
    const memberships = await identity.store.memberships(userId);
    if (memberships.length === 0)
      throw new SsoRefusal('no_organization', 'your account belongs to no organization; ask an admin for an invitation', userId);
    const session = await identity.createSession(userId, client, {
      method: 'sso',
      organizationId: await identity.organizationFor(userId, 'sso', organizationId),
      authTime: person.authTime,
      ...(identityRow ? { ssoIdentityId: identityRow.id } : {}),
    });
    return { userId, session };
  }

  return {
    /** Which buttons the sign-in page shows; `needsEmail` when Keyway cannot tell the tenant without it. */
    async providers() {
      const list: { id: SsoProviderId; name: string; needsEmail: boolean }[] = [];
      if (deps.providers.entra)
        list.push({ id: 'entra', name: 'Microsoft', needsEmail: (await deps.organizationStore.allBindings('entra-tenant')).length !== 1 });
      if (deps.providers.oidc) list.push({ id: 'oidc', name: deps.providers.oidc.name, needsEmail: false });
      return list;
    },

    configured: () => ({ entra: deps.providers.entra !== undefined, oidc: deps.providers.oidc !== undefined }),

    redirectUri,

    /**
     * Starts a sign-in: stores the state (digest), PKCE verifier and nonce, bound to this browser by
     * `browserToken` (the route puts it in a cookie), and returns the provider's authorize URL.
     */
    async begin(
      input: BeginInput,
      person: UserPrincipal | AccountPrincipal | undefined,
    ): Promise<{ redirectUrl: string; browserToken: string }> {
      const config = providerConfig(input.provider);
      if (input.intent !== 'sign-in' && (!person || person.via !== 'session' || !person.sessionId)) {
        throw new ApiError(401, 'unauthenticated', 'sign in first: re-authenticating and linking work from a browser session');
      }
      const invitation = input.intent === 'sign-in' ? await openInvitation(input.invitationToken) : undefined;
      let issuer: string;
      let loginHint = input.email ? normalizeEmail(input.email) : undefined;
      if (input.provider === 'oidc') issuer = config.issuer!;
      else if (input.intent === 'reauthenticate') issuer = config.issuerFor!(await linkedEntraTenant(person!, input.tenant));
      else if (input.intent === 'link') issuer = config.issuerFor!(await linkTenant(input));
      else if (invitation)
        issuer = config.issuerFor!(
          input.tenant && GUID.test(input.tenant)
            ? input.tenant.toLowerCase()
            : await linkTenant({ ...input, email: input.email ?? invitation.email }),
        );
      else issuer = config.issuerFor!(await signInTenant(input));
      if (input.intent === 'reauthenticate' && !loginHint) {
        loginHint = (await store.identitiesOf(person!.userId)).find((i) => i.issuer === issuer)?.email ?? undefined;
      }

      const state = randomBytes(32).toString('base64url');
      const nonce = randomBytes(32).toString('base64url');
      const codeVerifier = randomBytes(48).toString('base64url');
      const browserToken = randomBytes(32).toString('base64url');
      const redirectUrl = await deps.client
        .authorizationUrl(issuer, config, {
          redirectUri: redirectUri(),
          state,
          nonce,
          codeVerifier,
          ...(loginHint ? { loginHint } : {}),
          ...(input.intent === 'reauthenticate' ? { prompt: 'login' } : {}),
        })
        .catch((err: unknown) => {
          if (err instanceof SsoProviderError) throw new ApiError(502, err.code, err.message);
          throw err;
        });
      await store.insertState({
        state_hash: sha256(state),
        browser_hash: sha256(browserToken),
        provider: input.provider,
        issuer,
        code_verifier: codeVerifier,
        nonce,
        intent: input.intent,
        session_id: input.intent === 'sign-in' ? null : person!.sessionId!,
        invitation_id: invitation?.id ?? null,
        return_to: safeReturnTo(input.returnTo, input.intent === 'sign-in' ? '/' : '/account'),
        created_at: iso(),
        expires_at: new Date(now().getTime() + SSO_STATE_MINUTES * 60_000).toISOString(),
      });
      return { redirectUrl, browserToken };
    },

    /**
     * The provider sent the browser back. Checks, in order: the state is known, unused and fresh;
     * the browser is the one that started (cookie); openid-client verifies the code exchange and
     * the ID token (PKCE, nonce, signature, issuer, audience, expiry); then the person is admitted
     * or refused. Nothing is changed for a refusal but what the refusal itself says.
     */
    async complete(
      params: { state?: string; callbackUrl: URL; browserToken?: string },
      current: UserPrincipal | AccountPrincipal | undefined,
      client: ClientInfo,
    ): Promise<SsoOutcome> {
      if (!params.state)
        return {
          ok: false,
          code: 'missing_state',
          message: 'the sign-in response has no state; start again from the sign-in page',
          returnTo: '/sign-in',
        };
      const row = await store.takeState(sha256(params.state));
      if (!row)
        return {
          ok: false,
          code: 'unknown_state',
          message: 'this sign-in is unknown, was already used, or expired; start again',
          returnTo: '/sign-in',
        };
      const back = row.intent === 'sign-in' ? '/sign-in' : '/account';
      if (row.expires_at < iso())
        return {
          ok: false,
          code: 'expired_state',
          message: `the sign-in took longer than ${SSO_STATE_MINUTES} minutes; start again`,
          returnTo: back,
        };
      if (!params.browserToken || sha256(params.browserToken) !== row.browser_hash) {
        return {
          ok: false,
          code: 'browser_mismatch',
          message: 'this sign-in was started in another browser; start again here',
          returnTo: back,
        };
      }
      const provider = row.provider as SsoProviderId;
      let person: SsoIdentity;
      try {
        const config = providerConfig(provider);
        const claims = await deps.client.redeem(row.issuer, config, params.callbackUrl, {
          state: params.state,
          nonce: row.nonce,
          codeVerifier: row.code_verifier,
        });
        const read = identityFromClaims(provider, claims);
        if ('error' in read) return { ok: false, code: 'invalid_id_token', message: read.error, returnTo: back };
        person = read;
      } catch (err) {
        if (err instanceof SsoProviderError || err instanceof ApiError)
          return { ok: false, code: err.code, message: err.message, returnTo: back };
        throw err;
      }

      if (row.intent !== 'sign-in') {
        if (!current || current.sessionId !== row.session_id) {
          return {
            ok: false,
            code: 'session_mismatch',
            message: 'this sign-in was started in another session; start again from your Account page',
            returnTo: back,
          };
        }
        const linked = await store.findIdentity(person.provider, person.issuer, person.subject);
        if (row.intent === 'reauthenticate') {
          if (linked?.user_id !== current.userId)
            return {
              ok: false,
              code: 'wrong_identity',
              message: 'you signed in with a different account than the one linked to yours; sign in with your own',
              returnTo: back,
              userId: current.userId,
            };
          await identity.store.markAuthenticated(current.sessionId, iso());
          await store.setSessionIdentity(current.sessionId, linked.id, iso());
          return {
            ok: true,
            returnTo: row.return_to,
            userId: current.userId,
            organizationId: current.kind === 'user' ? current.organizationId : null,
            intent: row.intent,
          };
        }
        if (linked && linked.user_id !== current.userId)
          return {
            ok: false,
            code: 'identity_in_use',
            message: 'this account at the identity provider is linked to another Keyway account',
            returnTo: back,
            userId: current.userId,
          };
        const identityId = linked?.id ?? (await link(current.userId, person));
        await store.setSessionIdentity(current.sessionId, identityId, iso());
        return {
          ok: true,
          returnTo: row.return_to,
          userId: current.userId,
          organizationId: current.kind === 'user' ? current.organizationId : null,
          intent: row.intent,
        };
      }

      try {
        const { userId, session } = await signIn(person, row.invitation_id, client);
        return { ok: true, session, returnTo: row.return_to, userId, organizationId: session.organizationId, intent: 'sign-in' };
      } catch (err) {
        if (err instanceof SsoRefusal)
          return {
            ok: false,
            code: err.code,
            message: err.message,
            returnTo: back,
            userId: err.userId,
            organizationId: err.organizationId,
          };
        throw err;
      }
    },

    async identities(userId: string) {
      const rows = await store.identitiesOf(userId);
      return rows.map((r) => ({
        id: r.id,
        provider: r.provider,
        issuer: r.issuer,
        tenantId: r.tenant_id,
        email: r.email,
        createdAt: r.created_at,
        lastSignInAt: r.last_sign_in_at,
      }));
    },

    /** Unlinks a provider account, unless it is the person's only way in. */
    async unlink(person: UserPrincipal | AccountPrincipal, id: string) {
      if (person.via !== 'session') throw new ApiError(403, 'forbidden', 'unlink sign-ins from a browser session');
      const [user, identities] = await Promise.all([identity.store.findUser(person.userId), store.identitiesOf(person.userId)]);
      if (!identities.some((i) => i.id === id)) throw notFound('linked sign-in');
      if (!user?.password_hash && identities.length === 1)
        throw new ApiError(409, 'last_sign_in', 'this is your only way to sign in; set a password first');
      await store.deleteIdentity(person.userId, id);
    },

    prune: () => store.pruneStates(iso()),
  };
}

export type SsoService = ReturnType<typeof createSsoService>;
