import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError, badRequest, forbidden } from '../../http/errors.ts';
import { APP_CONNECTION_REQUESTS } from '../../control/app-connections.ts';
import type { ConnectionValidation, OAuthCompleteResult } from '../../control/app-connections.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { ProjectService } from '../projects/service.ts';
import { safeReturnTo } from '../oauth/return-to.ts';
import { hashState, STATE_MINUTES, takeBoundState } from '../oauth/bound-state.ts';
import type { AppConnectionService } from './service.ts';
import { createAppConnectionStore } from './store.ts';

export interface ConsentDeps {
  db: Kysely<ManagementDB>;
  control: Pick<ControlChannel, 'call'>;
  projects: Pick<ProjectService, 'require'>;
  connections: Pick<AppConnectionService, 'getRow' | 'toRunner' | 'oauthConfiguration' | 'callbackMismatch' | 'runnerOf' | 'details'>;
  now?: () => Date;
}

export interface ConsentOutcome {
  ok: boolean;
  code: string;
  message: string;
  returnTo: string;
  display: 'page';
  audit: { organizationId: string | null; userId: string | null; connectionId: string | null };
}

/**
 * The management plane's half of connecting an oauth app connection, as for a user's "Connect":
 * the state is bound to the browser session that started it and to the connection, the browser's
 * return is relayed to the connection's runner. The PKCE verifier, the code's redemption and the
 * tokens stay on the runner; the instance app's client secret reaches it only sealed (toRunner).
 * Entra comes back to one fixed callback for every connection
 * (KEYWAY_PUBLIC_URL + OAUTH_CALLBACK_PATH), so the state alone says which connection it is for.
 */
export function createAppConnectionConsent(deps: ConsentDeps) {
  const { connections } = deps;
  const store = createAppConnectionStore(deps.db);
  const now = deps.now ?? (() => new Date());

  return {
    /** Starts (or restarts) the consent; answers Entra's authorization URL for the browser. */
    async begin(user: UserPrincipal, projectId: string, id: string, options: { returnTo?: string }): Promise<string> {
      if (user.via !== 'session' || !user.sessionId)
        throw forbidden('connecting an oauth app connection happens in a browser session: sign in to Keyway in the browser');
      await deps.projects.require(user, projectId, 'owner');
      let row = await connections.getRow(projectId, id);
      if (row.method !== 'oauth')
        throw badRequest('not_oauth', `this is a ${row.method} connection; only oauth connections are connected through Entra ID`);
      const config = connections.oauthConfiguration();
      if (!config.configured || !config.clientId)
        throw badRequest('oauth_not_configured', `oauth app connections are not available on this Keyway: ${config.problems.join('; ')}`);
      await connections.runnerOf(user, row.runner_id);
      if (row.client_id !== config.clientId) {
        // The instance app changed since the last consent: the new consent is for the new app.
        await store.update(id, { client_id: config.clientId, updated_at: now().toISOString() });
        row = { ...row, client_id: config.clientId };
      }
      const begun = await deps.control.call(
        row.runner_id,
        APP_CONNECTION_REQUESTS.oauthBegin,
        { connection: await connections.toRunner(row), userId: user.userId, redirectUri: config.redirectUri },
        { timeoutMs: 20_000 },
      );
      await store.insertOAuthState({
        state_hash: hashState(begun.state),
        session_id: user.sessionId,
        user_id: user.userId,
        organization_id: user.organizationId,
        project_id: projectId,
        connection_id: id,
        runner_id: row.runner_id,
        issuer: begun.issuer,
        return_to: safeReturnTo(options.returnTo, `/projects/${encodeURIComponent(projectId)}`),
        created_at: now().toISOString(),
        expires_at: new Date(now().getTime() + STATE_MINUTES * 60_000).toISOString(),
      });
      await store.deleteExpiredOAuthStates(now().toISOString());
      return begun.authorizationUrl;
    },

    /** The browser's return from Entra at `origin`. Refuses anything not bound to this session and connection. */
    async complete(user: UserPrincipal | undefined, origin: string, params: Record<string, string>): Promise<ConsentOutcome> {
      type Bound = ManagementDB['app_connection_oauth_states'];
      const fail = (code: string, message: string, bound?: Bound): ConsentOutcome => ({
        ok: false,
        code,
        message,
        returnTo: bound?.return_to ?? '/',
        display: 'page',
        audit: {
          organizationId: bound?.organization_id ?? null,
          userId: bound?.user_id ?? null,
          connectionId: bound?.connection_id ?? null,
        },
      });
      // Checked first: when the browser came back to another address than KEYWAY_PUBLIC_URL, the
      // session cookie was not sent either, and the fix is in the configuration.
      const mismatch = connections.callbackMismatch(origin);
      if (mismatch) return fail('callback_mismatch', `the redirect URI does not match: ${mismatch}`);
      if (!params.state) {
        if (/AADSTS50011/.test(params.error_description ?? '')) {
          return fail(
            'callback_mismatch',
            `Entra ID refused the redirect URI: register ${connections.oauthConfiguration().redirectUri} as a Web redirect URI of the app registration`,
          );
        }
        if (params.error)
          return fail(
            params.error.slice(0, 60),
            `Entra ID answered ${params.error.slice(0, 60)}: ${(params.error_description ?? '').split(/\r?\n/)[0]?.slice(0, 300) ?? ''}`,
          );
      }
      const taken = await takeBoundState(params.state, { find: store.findOAuthState, consume: store.consumeOAuthState }, user, {
        now: now(),
        again: 'start connecting again',
      });
      if (!taken.ok) return fail(taken.code, taken.message, taken.row);
      const bound = taken.row;
      if (params.iss !== undefined && params.iss !== bound.issuer) {
        return fail(
          'issuer_mismatch',
          'the sign-in response names another issuer than the one asked (possible mix-up attack); nothing was stored',
          bound,
        );
      }
      let row;
      try {
        row = await connections.getRow(bound.project_id, bound.connection_id);
      } catch {
        return fail('connection_gone', 'the app connection was deleted during sign-in; nothing was stored', bound);
      }
      const relayed: Record<string, string> = {};
      for (const key of ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state']) {
        const value = params[key];
        if (typeof value === 'string') relayed[key] = value.slice(0, 4096);
      }
      const record = async (validation: ConnectionValidation, status: string, extra: Partial<ManagementDB['app_connections']> = {}) => {
        const at = now().toISOString();
        await store.update(row.id, { last_test: JSON.stringify({ ...validation, testedAt: at }), status, updated_at: at, ...extra });
      };
      let result: OAuthCompleteResult;
      try {
        result = await deps.control.call(
          row.runner_id,
          APP_CONNECTION_REQUESTS.oauthComplete,
          { connection: await connections.toRunner(row), userId: bound.user_id, params: relayed },
          { timeoutMs: 45_000 },
        );
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // A refused consent changes nothing that worked: a connected connection keeps its tokens.
        await record({ valid: false, code: err.code, message: err.message }, row.status);
        return fail(err.code, err.message, bound);
      }
      const { validation } = result;
      await record(validation, validation.valid ? 'active' : 'invalid', { details: connections.details(validation) });
      const as = result.account ? ` as ${result.account}` : '';
      return {
        ok: validation.valid,
        code: validation.valid ? 'connected' : (validation.code ?? 'invalid_connection'),
        message: validation.valid
          ? `connected${as}${validation.message ? ` (${validation.message})` : ''}`
          : `signed in${as}, but the connection does not work yet: ${validation.message ?? 'it did not validate'}`,
        returnTo: bound.return_to,
        display: 'page',
        audit: { organizationId: bound.organization_id, userId: bound.user_id, connectionId: bound.connection_id },
      };
    },
  };
}

export type AppConnectionConsent = ReturnType<typeof createAppConnectionConsent>;
