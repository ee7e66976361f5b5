// What the route modules share. Built once per emulator in index.ts.
import type { AssertionLedger } from './assertion-ledger.ts';
import type { DirectoryStore } from './store.ts';
import type { TokenService } from './tokens.ts';

export interface EntraCounters {
  tokenRequests: number;
  byGrant: Record<string, number>;
  authorizeRequests: number;
  /** Token requests by how the client authenticated: client_secret, certificate, federated. */
  byClientAuth: Record<string, number>;
}

export interface EntraContext {
  store: DirectoryStore;
  tokens: TokenService;
  origin(): string;
  nowMs(): number;
  isOAuthBlocked?: (p: { tenantId: string; clientId: string; userOid: string }) => boolean;
  /** Seconds for the next access token. */
  accessTokenLifetime(): number;
  refreshReuseFails(): boolean;
  counters: EntraCounters;
  /** Client assertions already presented (jti replay) and the replay fault. */
  assertions: AssertionLedger;
}
