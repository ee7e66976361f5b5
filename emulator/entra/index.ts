// Public interface of the Entra ID v2.0 emulator. The ADO emulator and the composition layer
// (emulator/server.ts) compile against this file; keep the shapes stable.
import type { FastifyInstance } from 'fastify';

export const AZURE_DEVOPS_RESOURCE_ID = '499b84ac-1321-427f-aa17-267ca6975798';

export interface EntraEmulatorOptions {
  origin: () => string; // e.g. http://127.0.0.1:41001, known after listen
  isOAuthBlocked?: (p: { tenantId: string; clientId: string; userOid: string }) => boolean; // org policy "third-party application access via OAuth" off
  accessTokenLifetimeSeconds?: number;
  now?: () => number; // ms, for tests
}
export interface EntraTenant { id: string; domain: string; displayName: string; sendIssParameter: boolean }
export interface EntraApp {
  tenantId: string;
  clientId: string;
  displayName: string;
  redirectUris: string[];
  requirePkce: boolean;
  servicePrincipalObjectId: string;
  secrets: { id: string; value: string; expiresAt: number }[];
}
export interface EntraUser { tenantId: string; oid: string; upn: string; displayName: string; password?: string }
export interface AccessTokenClaims {
  tid: string;
  oid: string;
  appid: string;
  scp?: string;
  idtyp?: 'app' | 'user';
  upn?: string;
  aud: string;
  exp: number;
}

export class EntraTokenError extends Error {
  readonly reason: 'expired' | 'invalid' | 'revoked';
  constructor(reason: 'expired' | 'invalid' | 'revoked', message: string) {
    super(message);
    this.name = 'EntraTokenError';
    this.reason = reason;
  }
}

export interface EntraEmulator {
  register(app: FastifyInstance): Promise<void>; // mounts all routes at root of that instance
  addTenant(input?: Partial<EntraTenant>): EntraTenant; // generates GUID, domain `{x}.onmicrosoft.com`
  addApp(
    tenantId: string,
    input: { displayName: string; redirectUris?: string[]; requirePkce?: boolean; clientId?: string },
  ): { app: EntraApp; clientSecret: string }; // secret generated at run time, Entra-like (40 chars with `~`)
  addClientSecret(tenantId: string, clientId: string, opts?: { expiresAt?: number }): string;
  addUser(tenantId: string, input: { upn: string; displayName?: string; password?: string; oid?: string }): EntraUser;
  findUserByOid(oid: string): EntraUser | undefined;
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
    revokeRefreshTokens(filter?: { userOid?: string; clientId?: string }): void;
    setRefreshReuseFails(on: boolean): void;
  };
  counters(): { tokenRequests: number; byGrant: Record<string, number>; authorizeRequests: number };
  resetCounters(): void;
}

export function createEntraEmulator(_opts: EntraEmulatorOptions): EntraEmulator {
  throw new Error('Entra emulator: not implemented yet (stub published for the ADO engineer)');
}
