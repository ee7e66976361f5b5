import type { Kysely } from 'kysely';
import * as client from 'openid-client';
import { AuthorizationResponseError, ResponseBodyError } from 'openid-client';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { USER_SCOPES, describeEntraFailure } from '../../entra/oidc.ts';
import type { RunnerIntegration } from '../../control/integration.ts';
import { HandlerError } from '../agent.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { FieldCrypto } from '../keys/field-crypto.ts';
import { beginCodeFlow, redeemCode, takePending } from './code-flow.ts';
import type { OidcConfigs } from './integration-config.ts';

export { hashState } from './code-flow.ts';
export type { OAuthMetadata, OAuthTokenSet } from './code-flow.ts';

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
  const flow = { db: deps.db, crypto: deps.crypto, now: deps.now ?? (() => new Date()) };

  return {
    async begin(input: { userId: string; integration: RunnerIntegration; redirectUri: string; loginHint?: string }) {
      const config = await deps.configFor(input.integration).catch((err: unknown) => {
        if (err instanceof HandlerError) throw err;
        throw new HandlerError(
          'oauth_unavailable',
          describeEntraFailure(err, { issuerUrl: input.integration.oauth?.issuerUrl ?? '' }).message,
        );
      });
      return beginCodeFlow(flow, config, {
        userId: input.userId,
        integrationId: input.integration.id,
        clientId: input.integration.oauth?.clientId ?? '',
        redirectUri: input.redirectUri,
        scopes: USER_SCOPES,
        loginHint: input.loginHint,
      });
    },

    async complete(input: { userId: string; integration: RunnerIntegration; callbackUrl: string; params: Record<string, string> }) {
      const pending = await takePending(flow, input.params, {
        userId: input.userId,
        integrationId: input.integration.id,
        clientId: input.integration.oauth?.clientId,
      });
      const config = await deps.configFor(input.integration);
      const { tokenSet, metadata } = await redeemCode(flow, config, pending, input.params, {
        requestedScopes: USER_SCOPES,
        describeError: oauthHandlerError,
      });
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
      return {
        authorizationId: record.id,
        identity: { upn: metadata.upn, name: metadata.name, tid: metadata.tid },
        scopes: metadata.scopes,
      };
    },
  };
}

export function oauthHandlerError(err: unknown, issuerUrl: string): HandlerError {
  if (err instanceof AuthorizationResponseError) {
    const description = err.error_description ?? '';
    if (err.error === 'access_denied')
      return new HandlerError(
        'consent_denied',
        'you declined the consent prompt, so nothing was connected; choose Connect again and accept to continue',
      );
    if (err.error === 'invalid_scope') {
      return new HandlerError(
        'oauth_blocked',
        `the organization does not allow third-party applications via OAuth, or the scope is invalid (${description.split(/\r?\n/)[0]?.slice(0, 200)}); an Azure DevOps organization admin must enable "Third-party application access via OAuth", or use a Personal Access Token`,
      );
    }
    return new HandlerError(
      'authorization_failed',
      `Entra ID refused the sign-in: ${err.error}${description ? ` — ${description.split(/\r?\n/)[0]?.slice(0, 200)}` : ''}`,
    );
  }
  if (err instanceof ResponseBodyError) {
    const failure = describeEntraFailure(err, { issuerUrl });
    return new HandlerError(failure.error === 'invalid_grant' ? 'invalid_grant' : 'token_request_failed', failure.message);
  }
  if (err instanceof client.ClientError) {
    // openid-client's own checks of the response (ID token signature, issuer, audience, nonce,
    // state, expiry) throw ClientError; discovery errors never reach here (configFor ran first).
    return new HandlerError(
      'id_token_invalid',
      `the sign-in response failed validation (${err.code ?? 'invalid'}: ${err.message.slice(0, 160)}); nothing was stored`,
    );
  }
  const failure = describeEntraFailure(err, { issuerUrl });
  if (failure.error === 'unexpected' && err instanceof Error) {
    // openid-client's own checks (ID token signature, audience, nonce, state, PKCE) land here.
    return new HandlerError(
      'id_token_invalid',
      `the sign-in response failed validation (${(err as { code?: string }).code ?? err.name}: ${err.message.slice(0, 160)}); nothing was stored`,
    );
  }
  return new HandlerError(failure.error, failure.message);
}
