import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import * as client from 'openid-client';
import { AuthorizationResponseError, ResponseBodyError } from 'openid-client';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { USER_SCOPES, describeEntraFailure } from '../../entra/oidc.ts';
import type { RunnerIntegration } from '../../management/scm-integrations/service.ts';
import { HandlerError } from '../agent.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';
import type { OidcConfigs } from './integration-config.ts';

/** How long a user has to finish signing in at Entra. */
const PENDING_MINUTES = 10;

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

export interface OAuthFlowDeps {
  db: Kysely<RunnerDB>;
  crypto: FieldCrypto;
  credentials: CredentialStore;
  configFor: OidcConfigs;
  now?: () => Date;
}

/**
 * The runner's half of "Connect": it alone makes the PKCE verifier and nonce, opens the client
 * secret, redeems the code and checks the ID token. The management plane only relays the browser.
 */
export function createOAuthFlow(deps: OAuthFlowDeps) {
  const now = deps.now ?? (() => new Date());

  return {
    async begin(input: { userId: string; integration: RunnerIntegration; redirectUri: string; loginHint?: string }) {
      const config = await deps.configFor(input.integration).catch((err: unknown) => {
        if (err instanceof HandlerError) throw err;
        throw new HandlerError('oauth_unavailable', describeEntraFailure(err, { issuerUrl: input.integration.oauth?.issuerUrl ?? '' }).message);
      });
      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const nonce = client.randomNonce();
      const issuer = config.serverMetadata().issuer;
      const stateHash = hashState(state);
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: input.redirectUri,
        scope: USER_SCOPES.join(' '),
        response_type: 'code',
        response_mode: 'query',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
        ...(input.loginHint ? { login_hint: input.loginHint } : {}),
      });
      await deps.db
        .insertInto('oauth_pending')
        .values({
          state_hash: stateHash,
          user_id: input.userId,
          integration_id: input.integration.id,
          issuer,
          client_id: input.integration.oauth?.clientId ?? '',
          redirect_uri: input.redirectUri,
          verifier: deps.crypto.encrypt(verifier, { table: 'oauth_pending', column: 'verifier', rowId: stateHash }),
          nonce,
          created_at: now().toISOString(),
          expires_at: new Date(now().getTime() + PENDING_MINUTES * 60_000).toISOString(),
        })
        .execute();
      await deps.db.deleteFrom('oauth_pending').where('expires_at', '<', now().toISOString()).execute();
      return { authorizationUrl: url.href, state, issuer };
    },

    async complete(input: { userId: string; integration: RunnerIntegration; callbackUrl: string; params: Record<string, string> }) {
      const state = input.params.state ?? '';
      const stateHash = hashState(state);
      // Single use: the pending row is deleted before the code is redeemed, so a replay finds nothing.
      const pending = await deps.db.selectFrom('oauth_pending').selectAll().where('state_hash', '=', stateHash).executeTakeFirst();
      const deleted = pending ? await deps.db.deleteFrom('oauth_pending').where('state_hash', '=', stateHash).executeTakeFirst() : undefined;
      if (!pending || Number(deleted?.numDeletedRows ?? 0) !== 1) throw new HandlerError('invalid_state', 'this sign-in is unknown or was already completed; start Connect again');
      if (pending.expires_at < now().toISOString()) throw new HandlerError('expired_state', `the sign-in took longer than ${PENDING_MINUTES} minutes; start Connect again`);
      if (pending.user_id !== input.userId || pending.integration_id !== input.integration.id) {
        throw new HandlerError('state_mismatch', 'this sign-in was started by another user or for another host; start Connect again');
      }
      if (input.integration.oauth?.clientId !== pending.client_id) throw new HandlerError('state_mismatch', 'the OAuth app changed during sign-in; start Connect again');

      const config = await deps.configFor(input.integration);
      const issuer = config.serverMetadata().issuer;
      // RFC 9700 §4.4: the response must come from the issuer the request was sent to.
      if (issuer !== pending.issuer) throw new HandlerError('issuer_mismatch', 'the authorization server changed during sign-in; start Connect again');
      if (input.params.iss !== undefined && input.params.iss !== pending.issuer) {
        throw new HandlerError('issuer_mismatch', 'the authorization response came from another issuer than the request went to (possible mix-up attack); nothing was stored');
      }
      const verifier = await deps.crypto.decrypt(pending.verifier, { table: 'oauth_pending', column: 'verifier', rowId: stateHash });
      const currentUrl = new URL(pending.redirect_uri);
      for (const [k, v] of Object.entries(input.params)) currentUrl.searchParams.set(k, v);

      let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
      try {
        tokens = await client.authorizationCodeGrant(config, currentUrl, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true });
      } catch (err) {
        throw oauthHandlerError(err, pending.issuer);
      }
      const claims = tokens.claims();
      if (!claims || claims.iss !== pending.issuer) throw new HandlerError('issuer_mismatch', 'the ID token was issued by another issuer than the one asked; nothing was stored');
      if (!tokens.refresh_token) throw new HandlerError('no_refresh_token', 'Entra ID returned no refresh token (offline_access was not granted); nothing was stored');

      const metadata: OAuthMetadata = {
        issuer: pending.issuer,
        clientId: pending.client_id,
        scopes: (tokens.scope ?? USER_SCOPES.join(' ')).split(' ').filter(Boolean),
        accessTokenExpiresAt: new Date(now().getTime() + (tokens.expires_in ?? 3600) * 1000).toISOString(),
        tid: typeof claims.tid === 'string' ? claims.tid : undefined,
        oid: typeof claims.oid === 'string' ? claims.oid : undefined,
        upn: typeof claims.preferred_username === 'string' ? claims.preferred_username : undefined,
        name: typeof claims.name === 'string' ? claims.name : undefined,
      };
      const tokenSet: OAuthTokenSet = { access_token: tokens.access_token, refresh_token: tokens.refresh_token, id_token: tokens.id_token };
      const subject = { type: 'user' as const, id: input.userId };
      const previous = await deps.credentials.findForIntegration(subject, input.integration.id);
      const record = await deps.credentials.insert({
        subject,
        integrationId: input.integration.id,
        host: input.integration.host,
        method: 'oauth',
        secret: JSON.stringify(tokenSet),
        metadata: { ...metadata },
      });
      // Replaced only once the new one is stored: a failure above leaves the old authorization working.
      if (previous) await deps.credentials.delete(previous.id);
      return { authorizationId: record.id, identity: { upn: metadata.upn, name: metadata.name, tid: metadata.tid }, scopes: metadata.scopes };
    },
  };
}

export function oauthHandlerError(err: unknown, issuerUrl: string): HandlerError {
  if (err instanceof AuthorizationResponseError) {
    const description = err.error_description ?? '';
    if (err.error === 'access_denied') return new HandlerError('consent_denied', 'you declined the consent prompt, so nothing was connected; choose Connect again and accept to continue');
    if (err.error === 'invalid_scope') {
      return new HandlerError('oauth_blocked', `the organization does not allow third-party applications via OAuth, or the scope is invalid (${description.split(/\r?\n/)[0]?.slice(0, 200)}); an Azure DevOps organization admin must enable "Third-party application access via OAuth", or use a Personal Access Token`);
    }
    return new HandlerError('authorization_failed', `Entra ID refused the sign-in: ${err.error}${description ? ` — ${description.split(/\r?\n/)[0]?.slice(0, 200)}` : ''}`);
  }
  if (err instanceof ResponseBodyError) {
    const failure = describeEntraFailure(err, { issuerUrl });
    return new HandlerError(failure.error === 'invalid_grant' ? 'invalid_grant' : 'token_request_failed', failure.message);
  }
  if (err instanceof client.ClientError) {
    // openid-client's own checks of the response (ID token signature, issuer, audience, nonce,
    // state, expiry) throw ClientError; discovery errors never reach here (configFor ran first).
    return new HandlerError('id_token_invalid', `the sign-in response failed validation (${err.code ?? 'invalid'}: ${err.message.slice(0, 160)}); nothing was stored`);
  }
  const failure = describeEntraFailure(err, { issuerUrl });
  if (failure.error === 'unexpected' && err instanceof Error) {
    // openid-client's own checks (ID token signature, audience, nonce, state, PKCE) land here.
    return new HandlerError('id_token_invalid', `the sign-in response failed validation (${(err as { code?: string }).code ?? err.name}: ${err.message.slice(0, 160)}); nothing was stored`);
  }
  return new HandlerError(failure.error, failure.message);
}
