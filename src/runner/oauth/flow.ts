import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { describeCodeFlowFailure, describeEntraFailure } from '../../entra/errors.ts';
import { USER_SCOPES } from '../../entra/scopes.ts';
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

/** A failed code flow (src/entra/errors.ts, describeCodeFlowFailure) as the handler's error. */
export function oauthHandlerError(err: unknown, issuerUrl: string): HandlerError {
  const failure = describeCodeFlowFailure(err, issuerUrl);
  return new HandlerError(failure.code, failure.message);
}
