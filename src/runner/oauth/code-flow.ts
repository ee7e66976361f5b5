import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import {
  authorizationUrl,
  pkceChallenge,
  randomNonce,
  randomPKCECodeVerifier,
  randomState,
  redeemAuthorizationCode,
} from '../../entra/client.ts';
import type { EntraConfiguration, EntraTokenResponse } from '../../entra/client.ts';
import { HandlerError } from '../agent.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';

// The authorization code flow with PKCE, as the runner runs it for every consent (a user
// authorizing a host, a project owner connecting an app connection). The runner alone makes the
// verifier and nonce and redeems the code; the pending sign-in is a row, single use, 10 minutes.

/** How long a user has to finish signing in at Entra. */
export const PENDING_MINUTES = 10;

export interface OAuthTokenSet {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

export interface OAuthMetadata {
  issuer: string;
  clientId: string;
  scopes: string[];
  accessTokenExpiresAt: string;
  tid?: string;
  oid?: string;
  upn?: string;
  name?: string;
  reauthorizationReason?: string;
}

export const hashState = (state: string) => createHash('sha256').update(state, 'utf8').digest('hex');

export interface CodeFlowDeps {
  db: Kysely<RunnerDB>;
  crypto: FieldCrypto;
  now: () => Date;
}

/** Who the pending sign-in is for: a user's authorization of an integration, or an app connection. */
export interface PendingFor {
  userId: string;
  /** '' for an app connection. */
  integrationId: string;
  appConnectionId?: string;
}

export type PendingRow = RunnerDB['oauth_pending'];

export async function beginCodeFlow(
  deps: CodeFlowDeps,
  config: EntraConfiguration,
  input: PendingFor & { clientId: string; redirectUri: string; scopes: readonly string[]; loginHint?: string },
): Promise<{ authorizationUrl: string; state: string; issuer: string }> {
  const verifier = randomPKCECodeVerifier();
  const state = randomState();
  const nonce = randomNonce();
  const issuer = config.serverMetadata().issuer;
  const stateHash = hashState(state);
  const url = authorizationUrl(config, {
    redirect_uri: input.redirectUri,
    scope: input.scopes.join(' '),
    response_type: 'code',
    response_mode: 'query',
    code_challenge: await pkceChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(input.loginHint ? { login_hint: input.loginHint } : {}),
  });
  const now = deps.now();
  await deps.db
    .insertInto('oauth_pending')
    .values({
      state_hash: stateHash,
      user_id: input.userId,
      integration_id: input.integrationId,
      app_connection_id: input.appConnectionId ?? null,
      issuer,
      client_id: input.clientId,
      redirect_uri: input.redirectUri,
      verifier: deps.crypto.encrypt(verifier, { table: 'oauth_pending', column: 'verifier', rowId: stateHash }),
      nonce,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + PENDING_MINUTES * 60_000).toISOString(),
    })
    .execute();
  await deps.db.deleteFrom('oauth_pending').where('expires_at', '<', now.toISOString()).execute();
  return { authorizationUrl: url.href, state, issuer };
}

/**
 * Consumes the pending sign-in named by the response's state (single use: deleted before the code
 * is redeemed, so a replay finds nothing) and checks it is for `expected`.
 */
export async function takePending(
  deps: CodeFlowDeps,
  params: Record<string, string>,
  expected: PendingFor & { clientId: string | undefined },
): Promise<PendingRow> {
  const stateHash = hashState(params.state ?? '');
  const pending = await deps.db.selectFrom('oauth_pending').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
  const deleted = pending ? await deps.db.deleteFrom('oauth_pending').where('state_hash', '=', stateHash).executeTakeFirst() : undefined;
  if (!pending || Number(deleted?.numDeletedRows ?? 0) !== 1)
    throw new HandlerError('invalid_state', 'this sign-in is unknown or was already completed; start again');
  if (pending.expires_at < deps.now().toISOString())
    throw new HandlerError('expired_state', `the sign-in took longer than ${PENDING_MINUTES} minutes; start again`);
  if (
    pending.user_id !== expected.userId ||
    pending.integration_id !== expected.integrationId ||
    (pending.app_connection_id ?? undefined) !== expected.appConnectionId
  ) {
    throw new HandlerError('state_mismatch', 'this sign-in was started by another user or for something else; start again');
  }
  if (expected.clientId !== pending.client_id)
    throw new HandlerError('state_mismatch', 'the OAuth app changed during sign-in; start again');
  return pending;
}

/**
 * Redeems the code of a taken pending sign-in: issuer, state, nonce, PKCE and the ID token are
 * checked; a refresh token is required (offline_access). Returns the tokens and what they say.
 */
export async function redeemCode(
  deps: CodeFlowDeps,
  config: EntraConfiguration,
  pending: PendingRow,
  params: Record<string, string>,
  options: { requestedScopes: readonly string[]; describeError: (err: unknown, issuer: string) => HandlerError },
): Promise<{ tokenSet: OAuthTokenSet; metadata: OAuthMetadata }> {
  const issuer = config.serverMetadata().issuer;
  // RFC 9700 §4.4: the response must come from the issuer the request was sent to.
  if (issuer !== pending.issuer) throw new HandlerError('issuer_mismatch', 'the authorization server changed during sign-in; start again');
  if (params.iss !== undefined && params.iss !== pending.issuer) {
    throw new HandlerError(
      'issuer_mismatch',
      'the authorization response came from another issuer than the request went to (possible mix-up attack); nothing was stored',
    );
  }
  const verifier = await deps.crypto.decrypt(pending.verifier, { table: 'oauth_pending', column: 'verifier', rowId: pending.state_hash });
  const currentUrl = new URL(pending.redirect_uri);
  for (const [k, v] of Object.entries(params)) currentUrl.searchParams.set(k, v);

  let tokens: EntraTokenResponse;
  try {
    tokens = await redeemAuthorizationCode(config, currentUrl, {
      pkceCodeVerifier: verifier,
      expectedState: params.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
  } catch (err) {
    throw options.describeError(err, pending.issuer);
  }
  const claims = tokens.claims();
  if (!claims || claims.iss !== pending.issuer)
    throw new HandlerError('issuer_mismatch', 'the ID token was issued by another issuer than the one asked; nothing was stored');
  if (!tokens.refresh_token)
    throw new HandlerError('no_refresh_token', 'Entra ID returned no refresh token (offline_access was not granted); nothing was stored');
  const metadata: OAuthMetadata = {
    issuer: pending.issuer,
    clientId: pending.client_id,
    scopes: (tokens.scope ?? options.requestedScopes.join(' ')).split(' ').filter(Boolean),
    accessTokenExpiresAt: new Date(deps.now().getTime() + (tokens.expires_in ?? 3600) * 1000).toISOString(),
    tid: typeof claims.tid === 'string' ? claims.tid : undefined,
    oid: typeof claims.oid === 'string' ? claims.oid : undefined,
    upn: typeof claims.preferred_username === 'string' ? claims.preferred_username : undefined,
    name: typeof claims.name === 'string' ? claims.name : undefined,
  };
  return { tokenSet: { access_token: tokens.access_token, refresh_token: tokens.refresh_token, id_token: tokens.id_token }, metadata };
}
