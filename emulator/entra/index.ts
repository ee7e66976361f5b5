// Entra ID v2.0 emulator: plays login.microsoftonline.com on its own listener. Public interface;
// the ADO emulator and the composition layer (emulator/server.ts) compile against this file.
import formbody from '@fastify/formbody';
import { randomInt } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { EntraContext, EntraCounters } from './context.ts';
import { createSigningKey } from './keys.ts';
import { registerEntraRoutes } from './routes.ts';
import { AZURE_DEVOPS_APP_ID, parseClientCredentialsScope, parseDelegatedScope, RESOURCES } from './scopes.ts';
import { DirectoryStore, type DirectoryState } from './store.ts';
import { certificateFromUpload, federatedCredential } from './app-credentials.ts';
import type { CertificateUpload, FederatedCredential, FederatedCredentialInput, RegisteredCertificate } from './app-credentials.ts';
import { AssertionLedger } from './assertion-ledger.ts';
import { ManagedIdentities, registerImdsRoutes } from './imds.ts';
import type { ManagedIdentitiesState, ManagedIdentity } from './imds.ts';

export type { CertificateUpload, FederatedCredential, FederatedCredentialInput, ManagedIdentity, RegisteredCertificate };
import { EntraTokenError } from './token-error.ts';
import type { EntraApp, EntraTenant, EntraUser } from './directory.ts';
import { TokenService, type TokenServiceState, type VerifiedAccessToken } from './tokens.ts';

export { EntraTokenError };
export type { EntraApp, EntraTenant, EntraUser };

export const AZURE_DEVOPS_RESOURCE_ID = AZURE_DEVOPS_APP_ID;

export interface EntraEmulatorOptions {
  origin: () => string; // e.g. http://127.0.0.1:41001, known after listen
  isOAuthBlocked?: (p: { tenantId: string; clientId: string; userOid: string }) => boolean; // org policy "third-party application access via OAuth" off
  accessTokenLifetimeSeconds?: number;
  now?: () => number; // ms, for tests
}
/** What a verified Azure DevOps access token says (TokenService.verifyAdoAccessToken). */
export type AccessTokenClaims = VerifiedAccessToken;

/**
 * Everything a restart must keep: the directory, grants (codes, refresh tokens), signing keys and
 * issued access tokens, managed identities. Fault switches, counters and the assertion replay
 * ledger start afresh.
 */
export interface EntraState {
  directory: DirectoryState;
  tokens: TokenServiceState;
  managedIdentities: ManagedIdentitiesState;
}

export interface EntraEmulator {
  register(app: FastifyInstance): Promise<void>; // mounts all routes at root of that instance
  addTenant(input?: Partial<EntraTenant>): EntraTenant; // generates GUID, domain `{x}.onmicrosoft.com`
  addApp(
    tenantId: string,
    input: { displayName: string; redirectUris?: string[]; requirePkce?: boolean; clientId?: string; multiTenant?: boolean },
  ): { app: EntraApp; clientSecret: string }; // secret generated at run time, Entra-like (40 chars with `~`)
  addClientSecret(tenantId: string, clientId: string, opts?: { expiresAt?: number }): string;
  addUser(
    tenantId: string,
    input: { upn: string; displayName?: string; password?: string; oid?: string; groups?: string[]; appRoles?: Record<string, string[]> },
  ): EntraUser;
  findUserByOid(oid: string): EntraUser | undefined;
  /** The app registration itself (its redirectUris array is live: pushing registers another). */
  findApp(tenantId: string, clientId: string): EntraApp | undefined;
  /** Directory changes a test makes between sign-ins: groups, app roles, accountEnabled. */
  updateUser(oid: string, change: { groups?: string[]; appRoles?: Record<string, string[]>; disabled?: boolean }): EntraUser;
  verifyAccessToken(token: string): Promise<AccessTokenClaims>; // throws EntraTokenError; checks signature, aud = ADO resource, exp, revocation
  issueAccessTokenForTest(p: {
    tenantId: string;
    userOid?: string;
    clientId: string;
    scopes: string[];
    lifetimeSeconds?: number;
  }): Promise<string>;
  faults: {
    expireAccessTokensNow(): void; // every token issued so far is expired (verifyAccessToken → expired)
    expireUserAccessTokensNow(userOid: string): number; // one user's tokens issued so far are refused early; refresh tokens still work
    revokeRefreshTokens(filter?: { userOid?: string; clientId?: string }): void;
    setRefreshReuseFails(on: boolean): void;
  };
  counters(): { tokenRequests: number; byGrant: Record<string, number>; authorizeRequests: number; byClientAuth: Record<string, number> };
  resetCounters(): void;
  /** Certificates & secrets → Certificates: an uploaded certificate (its public key verifies client assertions). */
  addCertificate(tenantId: string, clientId: string, upload: CertificateUpload): RegisteredCertificate;
  removeCertificate(tenantId: string, clientId: string, keyId: string): boolean;
  /** Certificates & secrets → Federated credentials: issuer, subject and audiences, matched exactly. */
  addFederatedCredential(tenantId: string, clientId: string, input: FederatedCredentialInput): FederatedCredential;
  /** Managed identities and the machine they are assigned to (the IMDS endpoint under /metadata on this listener). */
  managedIdentities: {
    create(tenantId: string, input?: { displayName?: string; clientId?: string }): ManagedIdentity;
    assign(clientId: string, kind: 'system' | 'user'): void;
    unassign(clientId: string): void;
    /** Every IMDS answer waits this long (a slow or hanging metadata service). */
    setDelay(ms: number): void;
  };
  assertionFaults: {
    /** The next certificate assertion is answered as replayed (AADSTS50013). */
    replayNext(): void;
  };
  exportState(): EntraState;
  /** Replaces the whole state (before the first request). */
  importState(state: EntraState): void;
}

const ADO_PERMISSIONS = new Set(RESOURCES.find((r) => r.key === 'ado')!.permissions.map((p) => p.toLowerCase()));

/** Test convenience: bare Azure DevOps permission names (`vso.code`) get the resource prefix. */
function qualifyTestScope(s: string): string {
  return !s.includes('/') && ADO_PERMISSIONS.has(s.toLowerCase()) ? `${AZURE_DEVOPS_APP_ID}/${s}` : s;
}

export function createEntraEmulator(opts: EntraEmulatorOptions): EntraEmulator {
  const nowMs = opts.now ?? Date.now;
  const store = new DirectoryStore(nowMs);
  const tokens = new TokenService([createSigningKey(), createSigningKey()], nowMs);
  let refreshReuseFails = false;
  const counters: EntraCounters = { tokenRequests: 0, byGrant: {}, authorizeRequests: 0, byClientAuth: {} };
  const ctx: EntraContext = {
    store,
    tokens,
    origin: () => opts.origin().replace(/\/+$/, ''),
    nowMs,
    ...(opts.isOAuthBlocked ? { isOAuthBlocked: opts.isOAuthBlocked } : {}),
    // Entra picks a random lifetime between 60 and 90 minutes (inclusive of 3600, below 5400).
    accessTokenLifetime: () => opts.accessTokenLifetimeSeconds ?? randomInt(3600, 5400),
    refreshReuseFails: () => refreshReuseFails,
    counters,
    assertions: new AssertionLedger(),
  };
  const identities = new ManagedIdentities();
  const appOf = (tenantId: string, clientId: string): EntraApp => {
    const app = store.findApp(tenantId, clientId);
    if (!app) throw new Error(`Unknown application ${clientId} in tenant ${tenantId}.`);
    return app;
  };
  const tenantExists = (tid: string) => store.tenants.has(tid.toLowerCase());

  return {
    async register(app) {
      await app.register(async (scope) => {
        // The parser is scoped to these routes; skip it if the parent already parses forms.
        if (!scope.hasContentTypeParser('application/x-www-form-urlencoded')) await scope.register(formbody);
        registerEntraRoutes(scope, ctx);
        registerImdsRoutes(scope, ctx, identities);
      });
    },
    addTenant: (input) => store.addTenant(input),
    addApp: (tenantId, input) => store.addApp(tenantId, input),
    addClientSecret: (tenantId, clientId, o) => store.addClientSecret(tenantId, clientId, o),
    addUser: (tenantId, input) => store.addUser(tenantId, input),
    findUserByOid: (oid) => store.users.get(oid.toLowerCase()),
    findApp: (tenantId, clientId) => store.findApp(tenantId, clientId),
    updateUser: (oid, change) => store.updateUser(oid, change),
    verifyAccessToken: (token) => tokens.verifyAdoAccessToken(token, tenantExists),
    async issueAccessTokenForTest(p) {
      const tenant = store.requireTenant(p.tenantId);
      const lifetimeSeconds = p.lifetimeSeconds ?? ctx.accessTokenLifetime();
      if (p.userOid !== undefined) {
        const user = store.users.get(p.userOid.toLowerCase());
        if (!user || user.tenantId !== tenant.id) throw new Error(`No user ${p.userOid} in tenant ${tenant.id}.`);
        const grant = parseDelegatedScope(p.scopes.map(qualifyTestScope).join(' '), tenant.displayName);
        const at = await tokens.userAccessToken({ tid: tenant.id, clientId: p.clientId.toLowerCase(), user, grant, lifetimeSeconds });
        return at.token;
      }
      const app = store.findApp(tenant.id, p.clientId);
      if (!app) throw new Error(`App-only test tokens need a registered app; ${p.clientId} is not in tenant ${tenant.id}.`);
      const scope = parseClientCredentialsScope(
        p.scopes.length ? p.scopes.join(' ') : `${AZURE_DEVOPS_APP_ID}/.default`,
        tenant.displayName,
      );
      const at = await tokens.appAccessToken({
        tid: tenant.id,
        clientId: app.clientId,
        servicePrincipalObjectId: app.servicePrincipalObjectId,
        scope,
        lifetimeSeconds,
      });
      return at.token;
    },
    faults: {
      expireAccessTokensNow: () => tokens.expireAllIssued(),
      expireUserAccessTokensNow: (userOid) => tokens.expireIssuedForUser(userOid),
      revokeRefreshTokens: (filter) => {
        store.revokeRefreshTokens(filter);
      },
      setRefreshReuseFails: (on) => {
        refreshReuseFails = on;
      },
    },
    counters: () => ({
      tokenRequests: counters.tokenRequests,
      byGrant: { ...counters.byGrant },
      authorizeRequests: counters.authorizeRequests,
      byClientAuth: { ...counters.byClientAuth },
    }),
    resetCounters: () => {
      counters.tokenRequests = 0;
      counters.byGrant = {};
      counters.authorizeRequests = 0;
      counters.byClientAuth = {};
    },
    addCertificate(tenantId, clientId, upload) {
      const cert = certificateFromUpload(upload);
      appOf(tenantId, clientId).certificates.push(cert);
      return cert;
    },
    removeCertificate(tenantId, clientId, keyId) {
      const app = appOf(tenantId, clientId);
      const before = app.certificates.length;
      app.certificates = app.certificates.filter((c) => c.keyId !== keyId);
      return app.certificates.length < before;
    },
    addFederatedCredential(tenantId, clientId, input) {
      const fic = federatedCredential(input);
      appOf(tenantId, clientId).federatedCredentials.push(fic);
      return fic;
    },
    managedIdentities: {
      create: (tenantId, input) => identities.create(store.requireTenant(tenantId).id, input),
      assign: (clientId, kind) => identities.assign(clientId, kind),
      unassign: (clientId) => identities.unassign(clientId),
      setDelay: (ms) => {
        identities.delayMs = ms;
      },
    },
    assertionFaults: {
      replayNext: () => {
        ctx.assertions.replayNext = true;
      },
    },
    exportState: () => ({ directory: store.exportState(), tokens: tokens.exportState(), managedIdentities: identities.exportState() }),
    importState(state) {
      store.importState(state.directory);
      tokens.importState(state.tokens);
      identities.importState(state.managedIdentities);
    },
  };
}
