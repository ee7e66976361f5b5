// In-memory directory (tenants, apps, users) and grant state (flows, codes, refresh tokens).
import { createPublicKey, timingSafeEqual } from 'node:crypto';
import type { EntraApp, EntraTenant, EntraUser } from './directory.ts';
import type { RegisteredCertificate } from './app-credentials.ts';
import { GUID_RE, entraClientSecret, guid, randomToken } from './ids.ts';
import type { GrantScope } from './scopes.ts';
import { refill } from '../restore.ts';

export const CODE_LIFETIME_MS = 10 * 60 * 1000;
export const FLOW_LIFETIME_MS = 30 * 60 * 1000;
export const REFRESH_LIFETIME_MS = 90 * 24 * 3600 * 1000;
/** The portal's recommended default expiry for a new client secret. */
export const SECRET_DEFAULT_LIFETIME_MS = 180 * 24 * 3600 * 1000;

export const MULTI_TENANT_ALIASES = ['common', 'organizations', 'consumers'] as const;
export type MultiTenantAlias = (typeof MULTI_TENANT_ALIASES)[number];
/** The Microsoft-account tenant behind `consumers`. */
export const CONSUMERS_TENANT_ID = '9188040d-6c67-4c5b-b112-36a304b66dad';

export type TenantRef = { kind: 'tenant'; tenant: EntraTenant } | { kind: 'alias'; alias: MultiTenantAlias };

/** The directory Entra names when it cannot find an app there (AADSTS700016). */
export function directoryName(ref: TenantRef, segment: string): string {
  return ref.kind === 'tenant' ? ref.tenant.displayName : ref.alias === 'consumers' ? 'Microsoft Accounts' : segment;
}

/** The authorize request as received, carried through the sign-in page. */
export interface AuthorizeParams {
  client_id: string;
  redirect_uri: string;
  response_type: string;
  response_mode: 'query' | 'fragment' | 'form_post';
  scope: string;
  state?: string;
  nonce?: string;
  prompt?: string;
  login_hint?: string;
  code_challenge?: string;
  code_challenge_method?: 'S256' | 'plain';
}

export interface FlowRecord {
  token: string;
  tenantId: string;
  tenantSegment: string;
  params: AuthorizeParams;
  grant: GrantScope;
  expiresAt: number;
}

export interface CodeRecord {
  tenantId: string;
  clientId: string;
  userOid: string;
  redirectUri: string;
  grant: GrantScope;
  nonce?: string;
  codeChallenge?: string;
  codeChallengeMethod?: 'S256' | 'plain';
  issuedAt: number;
  redeemed: boolean;
}

export interface RefreshRecord {
  tenantId: string;
  clientId: string;
  userOid: string;
  grant: GrantScope;
  issuedAt: number;
  expiresAt: number;
  rotated: boolean;
  revoked: boolean;
}

/** The directory as the emulator's state file holds it (certificates' public keys as PEM). */
export interface DirectoryState {
  tenants: Map<string, EntraTenant>;
  apps: Map<
    string,
    Omit<EntraApp, 'certificates'> & { certificates: Array<Omit<RegisteredCertificate, 'publicKey'> & { publicKeyPem: string }> }
  >;
  users: Map<string, EntraUser>;
  flows: Map<string, FlowRecord>;
  codes: Map<string, CodeRecord>;
  refreshTokens: Map<string, RefreshRecord>;
}

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '')
    .slice(0, 20);
}

export class DirectoryStore {
  readonly tenants = new Map<string, EntraTenant>();
  readonly apps = new Map<string, EntraApp>();
  readonly users = new Map<string, EntraUser>();
  private readonly flows = new Map<string, FlowRecord>();
  private readonly codes = new Map<string, CodeRecord>();
  private readonly refreshTokens = new Map<string, RefreshRecord>();

  constructor(private readonly nowMs: () => number) {}

  exportState(): DirectoryState {
    const apps: DirectoryState['apps'] = new Map();
    for (const [id, app] of this.apps) {
      apps.set(id, {
        ...app,
        certificates: app.certificates.map(({ publicKey, ...c }) => ({
          ...c,
          publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        })),
      });
    }
    return { tenants: this.tenants, apps, users: this.users, flows: this.flows, codes: this.codes, refreshTokens: this.refreshTokens };
  }

  importState(state: DirectoryState): void {
    refill(this.tenants, state.tenants);
    refill(this.users, state.users);
    refill(this.flows, state.flows);
    refill(this.codes, state.codes);
    refill(this.refreshTokens, state.refreshTokens);
    this.apps.clear();
    for (const [id, app] of state.apps) {
      this.apps.set(id, {
        ...app,
        certificates: app.certificates.map(({ publicKeyPem, ...c }) => ({ ...c, publicKey: createPublicKey(publicKeyPem) })),
      });
    }
  }

  addTenant(input: Partial<EntraTenant> = {}): EntraTenant {
    const id = (input.id ?? guid()).toLowerCase();
    if (!GUID_RE.test(id)) throw new Error(`Tenant id must be a GUID, got '${id}'.`);
    if (this.tenants.has(id)) throw new Error(`Tenant ${id} already exists.`);
    const displayName = input.displayName ?? `Emulated tenant ${this.tenants.size + 1}`;
    const domain = (
      input.domain ??
      `${slug(displayName) || 'tenant'}${randomToken(3)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, 'x')}.onmicrosoft.com`
    ).toLowerCase();
    if ([...this.tenants.values()].some((t) => t.domain === domain)) throw new Error(`Domain ${domain} is already registered.`);
    if ((MULTI_TENANT_ALIASES as readonly string[]).includes(domain)) throw new Error(`'${domain}' is reserved.`);
    const tenant: EntraTenant = { id, domain, displayName, sendIssParameter: input.sendIssParameter ?? false };
    this.tenants.set(id, tenant);
    return tenant;
  }

  /** `{tenant}` path segment: a tenant GUID, a registered domain, or a multi-tenant alias. */
  resolveTenant(segment: string): TenantRef | undefined {
    const s = segment.toLowerCase();
    if ((MULTI_TENANT_ALIASES as readonly string[]).includes(s)) return { kind: 'alias', alias: s as MultiTenantAlias };
    const byId = this.tenants.get(s);
    if (byId) return { kind: 'tenant', tenant: byId };
    for (const t of this.tenants.values()) if (t.domain === s) return { kind: 'tenant', tenant: t };
    return undefined;
  }

  requireTenant(tenantId: string): EntraTenant {
    const t = this.tenants.get(tenantId.toLowerCase());
    if (!t) throw new Error(`Unknown tenant ${tenantId}; call addTenant first.`);
    return t;
  }

  addApp(
    tenantId: string,
    input: { displayName: string; redirectUris?: string[]; requirePkce?: boolean; clientId?: string; multiTenant?: boolean },
  ): { app: EntraApp; clientSecret: string } {
    const tenant = this.requireTenant(tenantId);
    const clientId = (input.clientId ?? guid()).toLowerCase();
    if (!GUID_RE.test(clientId)) throw new Error(`clientId must be a GUID, got '${clientId}'.`);
    if (this.apps.has(clientId)) throw new Error(`Application ${clientId} already exists.`);
    const app: EntraApp = {
      tenantId: tenant.id,
      clientId,
      displayName: input.displayName,
      redirectUris: [...(input.redirectUris ?? [])],
      requirePkce: input.requirePkce ?? false,
      servicePrincipalObjectId: guid(),
      secrets: [],
      multiTenant: input.multiTenant ?? false,
      certificates: [],
      federatedCredentials: [],
    };
    this.apps.set(clientId, app);
    const clientSecret = this.addClientSecret(tenant.id, clientId);
    return { app, clientSecret };
  }

  addClientSecret(tenantId: string, clientId: string, opts: { expiresAt?: number } = {}): string {
    const app = this.findApp(tenantId, clientId);
    if (!app) throw new Error(`Unknown application ${clientId} in tenant ${tenantId}.`);
    const value = entraClientSecret();
    app.secrets.push({ id: guid(), value, expiresAt: opts.expiresAt ?? this.nowMs() + SECRET_DEFAULT_LIFETIME_MS });
    return value;
  }

  findApp(tenantId: string, clientId: string): EntraApp | undefined {
    const app = this.apps.get(clientId.toLowerCase());
    return app && app.tenantId === tenantId.toLowerCase() ? app : undefined;
  }

  /** The app as seen from a tenant: its own, or a multi-tenant app registered elsewhere. */
  findAppFor(tenantId: string, clientId: string): EntraApp | undefined {
    const app = this.apps.get(clientId.toLowerCase());
    if (!app) return undefined;
    return app.tenantId === tenantId.toLowerCase() || app.multiTenant ? app : undefined;
  }

  findAppAnywhere(clientId: string): EntraApp | undefined {
    return this.apps.get(clientId.toLowerCase());
  }

  /**
   * The app a request to `ref`'s endpoints names: one of that tenant's (or a multi-tenant one), any
   * app through organizations or common, none through consumers (no personal accounts here).
   */
  findAppThrough(ref: TenantRef, clientId: string): EntraApp | undefined {
    if (ref.kind === 'tenant') return this.findAppFor(ref.tenant.id, clientId);
    return ref.alias === 'consumers' ? undefined : this.findAppAnywhere(clientId);
  }

  /** 'ok' | 'expired' | 'invalid', comparing in constant time. */
  checkSecret(app: EntraApp, presented: string): 'ok' | 'expired' | 'invalid' {
    const p = Buffer.from(presented);
    for (const s of app.secrets) {
      const v = Buffer.from(s.value);
      if (v.length === p.length && timingSafeEqual(v, p)) return s.expiresAt <= this.nowMs() ? 'expired' : 'ok';
    }
    return 'invalid';
  }

  addUser(
    tenantId: string,
    input: { upn: string; displayName?: string; password?: string; oid?: string; groups?: string[]; appRoles?: Record<string, string[]> },
  ): EntraUser {
    const tenant = this.requireTenant(tenantId);
    const upn = (input.upn.includes('@') ? input.upn : `${input.upn}@${tenant.domain}`).toLowerCase();
    if (this.findUserByUpn(tenant.id, upn)) throw new Error(`User ${upn} already exists in tenant ${tenant.id}.`);
    const oid = (input.oid ?? guid()).toLowerCase();
    if (this.users.has(oid)) throw new Error(`User object id ${oid} already exists.`);
    const local = upn.split('@')[0] ?? upn;
    const user: EntraUser = { tenantId: tenant.id, oid, upn, displayName: input.displayName ?? local };
    if (input.password !== undefined) user.password = input.password;
    if (input.groups !== undefined) user.groups = [...input.groups];
    if (input.appRoles !== undefined) user.appRoles = { ...input.appRoles };
    this.users.set(oid, user);
    return user;
  }

  updateUser(oid: string, change: { groups?: string[]; appRoles?: Record<string, string[]>; disabled?: boolean }): EntraUser {
    const user = this.users.get(oid.toLowerCase());
    if (!user) throw new Error(`Unknown user ${oid}.`);
    if (change.groups !== undefined) user.groups = [...change.groups];
    if (change.appRoles !== undefined) user.appRoles = { ...change.appRoles };
    if (change.disabled !== undefined) user.disabled = change.disabled;
    return user;
  }

  findUserByUpn(tenantId: string, upn: string): EntraUser | undefined {
    const u = upn.toLowerCase();
    for (const user of this.users.values()) if (user.tenantId === tenantId && user.upn === u) return user;
    return undefined;
  }

  usersOf(tenantId: string): EntraUser[] {
    return [...this.users.values()].filter((u) => u.tenantId === tenantId);
  }

  // --- sign-in flows (one per rendered page) ---

  createFlow(f: Omit<FlowRecord, 'token' | 'expiresAt'>): FlowRecord {
    const rec: FlowRecord = { ...f, token: randomToken(32), expiresAt: this.nowMs() + FLOW_LIFETIME_MS };
    this.flows.set(rec.token, rec);
    return rec;
  }

  /** Single use: a flow token is consumed by the POST that carries it. */
  takeFlow(token: string): FlowRecord | undefined {
    const rec = this.flows.get(token);
    if (!rec) return undefined;
    this.flows.delete(token);
    return rec.expiresAt > this.nowMs() ? rec : undefined;
  }

  // --- authorization codes ---

  createCode(rec: Omit<CodeRecord, 'issuedAt' | 'redeemed'>): string {
    // Entra codes are long opaque strings starting with a version marker such as `1.A`.
    const code = `1.A${randomToken(96)}`;
    this.codes.set(code, { ...rec, issuedAt: this.nowMs(), redeemed: false });
    return code;
  }

  getCode(code: string): CodeRecord | undefined {
    return this.codes.get(code);
  }

  // --- refresh tokens ---

  createRefreshToken(rec: Omit<RefreshRecord, 'issuedAt' | 'expiresAt' | 'rotated' | 'revoked'>): string {
    const token = `1.A${randomToken(192)}`;
    const now = this.nowMs();
    this.refreshTokens.set(token, { ...rec, issuedAt: now, expiresAt: now + REFRESH_LIFETIME_MS, rotated: false, revoked: false });
    return token;
  }

  getRefreshToken(token: string): RefreshRecord | undefined {
    return this.refreshTokens.get(token);
  }

  revokeRefreshTokens(filter: { userOid?: string; clientId?: string } = {}): number {
    let n = 0;
    for (const rec of this.refreshTokens.values()) {
      if (filter.userOid && rec.userOid !== filter.userOid.toLowerCase()) continue;
      if (filter.clientId && rec.clientId !== filter.clientId.toLowerCase()) continue;
      if (!rec.revoked) n++;
      rec.revoked = true;
    }
    return n;
  }
}
