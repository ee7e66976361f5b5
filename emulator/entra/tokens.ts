// Minting and verifying the JWTs the emulator issues.
//
// Azure DevOps (like Microsoft Graph) keeps `accessTokenAcceptedVersion` unset on its resource
// app, so Entra gives it v1.0 access tokens even through the v2.0 endpoint: `iss` is
// `https://sts.windows.net/{tid}/`, `ver` "1.0", `appid`/`appidacr` instead of `azp`, and `aud`
// is the resource as the client named it (GUID or `https://app.vssps.visualstudio.com`). ID tokens
// from the v2.0 endpoint are v2.0.
import { SignJWT, compactVerify, createLocalJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { EntraTokenError } from './token-error.ts';
import { opaque, pairwiseId } from './ids.ts';
import { publishKeys, restoreSigningKey, saveSigningKey, type SavedSigningKey, type SigningKey } from './keys.ts';
import { RESOURCES, audience, scpClaim, type AppOnlyScope, type GrantScope } from './scopes.ts';
import { refill } from '../restore.ts';

export interface TokenUser {
  oid: string;
  upn: string;
  displayName: string;
  groups?: string[];
  appRoles?: Record<string, string[]>;
}

export interface VerifiedAccessToken {
  tid: string;
  oid: string;
  appid: string;
  scp?: string;
  idtyp?: 'app' | 'user';
  upn?: string;
  aud: string;
  exp: number;
}

export const v1Issuer = (tid: string): string => `https://sts.windows.net/${tid}/`;
export const v2Issuer = (origin: string, tid: string): string => `${origin}/${tid}/v2.0`;

const audiencesOf = (key: 'ado' | 'graph'): ReadonlySet<string> =>
  new Set(RESOURCES.filter((r) => r.key === key).flatMap((r) => [r.appId, r.uri]));
export const ADO_AUDIENCES = audiencesOf('ado');
export const GRAPH_AUDIENCES = audiencesOf('graph');

/** What a restart must keep for tokens issued before it to verify, and to keep pairwise `sub` values. */
export interface TokenServiceState {
  keys: SavedSigningKey[];
  salt: string;
  issued: Map<string, IssuedRecord>;
}

export interface IssuedRecord {
  expiredByFault: boolean;
  /** The user a delegated token was issued for (app-only tokens have none). */
  userOid?: string;
}

export class TokenService {
  readonly keys: SigningKey[];
  private salt = opaque(32);
  private readonly issued = new Map<string, IssuedRecord>();
  private verifyKeySet;

  constructor(
    keys: SigningKey[],
    private readonly nowMs: () => number,
  ) {
    this.keys = keys;
    this.verifyKeySet = createLocalJWKSet(publishKeys(keys));
  }

  exportState(): TokenServiceState {
    return { keys: this.keys.map(saveSigningKey), salt: this.salt, issued: new Map(this.issued) };
  }

  importState(state: TokenServiceState): void {
    this.keys.splice(0, this.keys.length, ...state.keys.map(restoreSigningKey));
    this.verifyKeySet = createLocalJWKSet(publishKeys(this.keys));
    this.salt = state.salt;
    refill(this.issued, state.issued);
  }

  private get signingKey(): SigningKey {
    return this.keys[0]!;
  }

  private nowSec(): number {
    return Math.floor(this.nowMs() / 1000);
  }

  private async sign(payload: JWTPayload, v1: boolean): Promise<string> {
    const k = this.signingKey;
    const header = v1 ? { alg: 'RS256', typ: 'JWT', kid: k.kid, x5t: k.kid } : { alg: 'RS256', typ: 'JWT', kid: k.kid };
    return new SignJWT(payload).setProtectedHeader(header).sign(k.privateKey);
  }

  pairwiseSub(tid: string, clientId: string, oid: string): string {
    return pairwiseId(this.salt, tid, clientId, oid);
  }

  async userAccessToken(p: {
    tid: string;
    clientId: string;
    user: TokenUser;
    grant: GrantScope;
    lifetimeSeconds: number;
    authTimeSec?: number;
  }): Promise<{ token: string; exp: number }> {
    const iat = this.nowSec();
    const exp = iat + p.lifetimeSeconds;
    const uti = opaque(16);
    const [given, ...rest] = p.user.displayName.split(/\s+/);
    const payload: JWTPayload = {
      aud: audience(p.grant),
      iss: v1Issuer(p.tid),
      iat,
      nbf: iat,
      exp,
      acr: '1',
      aio: opaque(40),
      amr: ['pwd'],
      appid: p.clientId,
      appidacr: '1',
      ...(rest.length ? { family_name: rest.join(' ') } : {}),
      ...(given ? { given_name: given } : {}),
      name: p.user.displayName,
      // Access tokens always carry `oid`/`tid` for resources like Azure DevOps, which key users on them.
      oid: p.user.oid,
      rh: opaque(24),
      scp: scpClaim(p.grant),
      sub: this.pairwiseSub(p.tid, p.clientId, p.user.oid),
      tid: p.tid,
      unique_name: p.user.upn,
      upn: p.user.upn,
      uti,
      ver: '1.0',
    };
    this.issued.set(uti, { expiredByFault: false, userOid: p.user.oid });
    return { token: await this.sign(payload, true), exp };
  }

  /**
   * App-only token (client credentials). No `scp`; `roles` only when app roles are assigned, and
   * Azure DevOps defines none for service principals, so it is absent. `idtyp: "app"` is the
   * optional claim resources use to tell app tokens from user tokens.
   */
  async appAccessToken(p: {
    tid: string;
    clientId: string;
    servicePrincipalObjectId: string;
    scope: AppOnlyScope;
    lifetimeSeconds: number;
  }): Promise<{ token: string; exp: number }> {
    const iat = this.nowSec();
    const exp = iat + p.lifetimeSeconds;
    const uti = opaque(16);
    const payload: JWTPayload = {
      aud: audience(p.scope),
      iss: v1Issuer(p.tid),
      iat,
      nbf: iat,
      exp,
      aio: opaque(40),
      appid: p.clientId,
      appidacr: '1',
      idp: v1Issuer(p.tid),
      idtyp: 'app',
      oid: p.servicePrincipalObjectId,
      rh: opaque(24),
      sub: p.servicePrincipalObjectId,
      tid: p.tid,
      uti,
      ver: '1.0',
    };
    this.issued.set(uti, { expiredByFault: false });
    return { token: await this.sign(payload, true), exp };
  }

  /**
   * v2.0 ID token. `name`, `preferred_username` and `oid` need the `profile` scope and `email` the
   * `email` scope (Microsoft's ID token claims reference); `sub` is pairwise per application.
   */
  async idToken(p: {
    origin: string;
    tid: string;
    clientId: string;
    user: TokenUser;
    oidc: readonly string[];
    nonce?: string;
  }): Promise<string> {
    const iat = this.nowSec();
    const profile = p.oidc.includes('profile');
    const payload: JWTPayload = {
      aud: p.clientId,
      iss: v2Issuer(p.origin, p.tid),
      iat,
      nbf: iat,
      exp: iat + 3600,
      aio: opaque(40),
      ...(p.oidc.includes('email') ? { email: p.user.upn } : {}),
      ...(profile ? { name: p.user.displayName } : {}),
      ...(p.nonce !== undefined ? { nonce: p.nonce } : {}),
      ...(profile ? { oid: p.user.oid, preferred_username: p.user.upn } : {}),
      // `groups` (security group object ids) and `roles` (the app roles assigned to the user for
      // this app) appear when the app registration asks for them; this emulator sends them whenever
      // the user has any (Microsoft's "Configure group claims" and "app roles" documentation).
      ...(p.user.groups?.length ? { groups: [...p.user.groups] } : {}),
      ...(p.user.appRoles?.[p.clientId]?.length ? { roles: [...p.user.appRoles[p.clientId]!] } : {}),
      rh: opaque(24),
      sub: this.pairwiseSub(p.tid, p.clientId, p.user.oid),
      tid: p.tid,
      uti: opaque(16),
      ver: '2.0',
    };
    return this.sign(payload, false);
  }

  /**
   * A managed identity's token for `api://AzureADTokenExchange` (IMDS): presented as the client
   * assertion of an app that trusts the identity through a federated credential (issuer this
   * tenant's v2 issuer, subject the identity's principal id).
   */
  async exchangeToken(p: { origin: string; tid: string; clientId: string; principalId: string; lifetimeSeconds: number }): Promise<string> {
    const iat = this.nowSec();
    return this.sign(
      {
        aud: 'api://AzureADTokenExchange',
        iss: v2Issuer(p.origin, p.tid),
        iat,
        nbf: iat,
        exp: iat + p.lifetimeSeconds,
        azp: p.clientId,
        oid: p.principalId,
        sub: p.principalId,
        tid: p.tid,
        uti: opaque(16),
        ver: '2.0',
      },
      false,
    );
  }

  /** Verifies a token this emulator signed (any issuer, audience and time are the caller's to check). */
  async verifyOwnSignature(token: string): Promise<JWTPayload> {
    const { payload } = await compactVerify(token, this.verifyKeySet, { algorithms: ['RS256'] });
    return JSON.parse(new TextDecoder().decode(payload)) as JWTPayload;
  }

  expireAllIssued(): void {
    for (const rec of this.issued.values()) rec.expiredByFault = true;
  }

  /**
   * One user's access tokens stop working before their `exp` (a revocation, a password reset, a
   * Continuous Access Evaluation event); the refresh token is untouched. Returns how many.
   */
  expireIssuedForUser(userOid: string): number {
    let n = 0;
    for (const rec of this.issued.values()) {
      if (rec.userOid !== userOid.toLowerCase() || rec.expiredByFault) continue;
      rec.expiredByFault = true;
      n++;
    }
    return n;
  }

  /**
   * What a resource does with a bearer token: signature (RS256, our keys), `iss` = v1 issuer of a
   * known tenant, `aud` in `audiences`, `exp`/`nbf` against the emulator clock with no skew
   * allowance (determinism beats realism here), and the expire-now fault.
   */
  async verifyV1(token: string, audiences: ReadonlySet<string>, tenantExists: (tid: string) => boolean): Promise<JWTPayload> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.verifyKeySet, {
        algorithms: ['RS256'],
        currentDate: new Date(this.nowMs()),
        typ: 'JWT',
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new EntraTokenError('expired', 'The access token has expired.');
      const code = (err as { code?: unknown }).code;
      throw new EntraTokenError('invalid', 'The access token is not valid: ' + (typeof code === 'string' ? code : 'unknown error'));
    }
    const tid = typeof payload.tid === 'string' ? payload.tid : '';
    if (!tid || !tenantExists(tid) || payload.iss !== v1Issuer(tid)) {
      throw new EntraTokenError('invalid', 'The access token was not issued by a known tenant.');
    }
    const aud = typeof payload.aud === 'string' ? payload.aud : '';
    if (!audiences.has(aud)) throw new EntraTokenError('invalid', `The access token audience '${aud}' is not accepted here.`);
    const rec = this.issued.get(typeof payload.uti === 'string' ? payload.uti : '');
    if (!rec) throw new EntraTokenError('invalid', 'The access token was not issued by this emulator.');
    if (rec.expiredByFault) throw new EntraTokenError('expired', 'The access token has expired.');
    return payload;
  }

  /**
   * Azure DevOps' view of a token. `idtyp` is the token's own claim when present; otherwise
   * derived: `user` when the token has `scp`, `app` when not.
   */
  async verifyAdoAccessToken(token: string, tenantExists: (tid: string) => boolean): Promise<VerifiedAccessToken> {
    const payload = await this.verifyV1(token, ADO_AUDIENCES, tenantExists);
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    const scp = str(payload.scp);
    const idtyp = payload.idtyp === 'app' || payload.idtyp === 'user' ? payload.idtyp : scp !== undefined ? 'user' : 'app';
    const out: VerifiedAccessToken = {
      tid: str(payload.tid) ?? '',
      oid: str(payload.oid) ?? '',
      appid: str(payload.appid) ?? '',
      idtyp,
      aud: str(payload.aud) ?? '',
      exp: typeof payload.exp === 'number' ? payload.exp : 0,
    };
    if (scp !== undefined) out.scp = scp;
    const upn = str(payload.upn);
    if (upn !== undefined) out.upn = upn;
    return out;
  }
}
