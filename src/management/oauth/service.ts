import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError, badRequest, forbidden, notFound } from '../../http/errors.ts';
import { isSealed, seal } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import { PAT_DOCS_URL, patCreationLink } from '../../azure-devops/pat.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { RunnerService } from '../runners/service.ts';
import type { ScmIntegrationService } from '../scm-integrations/service.ts';
import { safeReturnTo } from './return-to.ts';
import { parseHostQuery, pickByHost } from '../scm-integrations/host-lookup.ts';
import { createScmIntegrationStore } from '../scm-integrations/store.ts';
import { createOAuthStateStore } from './store.ts';
import { hashState, STATE_MINUTES, takeBoundState } from './bound-state.ts';

export const OAUTH_DOCS_URL = 'https://learn.microsoft.com/azure/devops/integrate/get-started/authentication/entra-oauth';

export interface OAuthServiceDeps {
  db: Kysely<ManagementDB>;
  runners: Pick<RunnerService, 'get'>;
  control: Pick<ControlChannel, 'call'>;
  integrations: Pick<ScmIntegrationService, 'getRow' | 'toRunnerIntegration'>;
  publicUrl: () => string;
  /** KEYWAY_AZURE_DEVOPS_SERVICES_URL: where dev.azure.com really is (the emulator in demo mode), for PAT links. */
  azureDevOpsServicesUrl?: string;
  now?: () => Date;
}

export interface CallbackOutcome {
  ok: boolean;
  code: string;
  message: string;
  returnTo: string;
  display: 'popup' | 'page';
  audit: { organizationId: string | null; userId: string | null; integrationId: string };
}

/**
 * The management plane's half of "Authorize": it binds OAuth state to the browser session and the
 * integration's own callback path, relays the browser's callback to the runner, and relays PATs
 * sealed. It never sees a verifier, a client secret, a token or a PAT in clear.
 */
export function createOAuthService(deps: OAuthServiceDeps) {
  const { db } = deps;
  const integrationStore = createScmIntegrationStore(db);
  const states = createOAuthStateStore(db);
  const now = deps.now ?? (() => new Date());
  const callbackUrl = (integrationId: string) => `${deps.publicUrl()}/api/v1/oauth/callback/${integrationId}`;

  async function integrationFor(user: UserPrincipal, integrationId: string) {
    const row = await integrationStore.get(integrationId);
    // A runner or integration of another organization is indistinguishable from a missing one.
    if (!row || row.organization_id !== user.organizationId) throw notFound('integration');
    const runner = await deps.runners.get(user.organizationId, row.runner_id);
    if (runner.revoked_at)
      throw new ApiError(409, 'runner_revoked', 'the runner for this host was revoked; ask an admin to configure repository access again');
    return row;
  }

  async function findByHost(user: UserPrincipal, host: string, runnerId?: string) {
    const wanted = parseHostQuery(host, () => false);
    const rows = await integrationStore.listForOrganization(user.organizationId, { host: wanted.host, ...(runnerId ? { runnerId } : {}) });
    // The longest virtual directory that the given path starts with (never simply the oldest).
    const row = pickByHost(rows, wanted);
    if (!row) throw notFound(`repository access for ${host}`);
    return row;
  }

  return {
    /** CheckAuthenticationForHost: what the user may do for a host, and whether they already did it. */
    async checkAuthentication(
      user: UserPrincipal,
      input: { integrationId?: string; host?: string; runnerId?: string; organization?: string; returnTo?: string },
    ) {
      if (!input.integrationId && !input.host) throw badRequest('invalid_request', 'give integrationId or host', 'host');
      const row = input.integrationId
        ? await integrationFor(user, input.integrationId)
        : await findByHost(user, input.host ?? '', input.runnerId);
      const integration = deps.integrations.toRunnerIntegration(row);
      const answer = await deps.control.call(
        row.runner_id,
        'check-authentication',
        { userId: user.userId, integration },
        { timeoutMs: 15_000 },
      );
      const returnTo = safeReturnTo(input.returnTo);
      const organization = input.organization?.trim();
      const patLink =
        integration.patEnabled && organization
          ? patCreationLink({
              kind: integration.kind,
              origin: integration.kind === 'services' && deps.azureDevOpsServicesUrl ? deps.azureDevOpsServicesUrl : integration.origin,
              organization,
              virtualDirectory: integration.virtualDirectory,
              collection: organization,
            })
          : undefined;
      return {
        authenticated: answer.authenticated,
        authorization: answer.authorization,
        scmId: row.scm_id,
        scmName: 'Azure DevOps',
        integrationId: row.id,
        runnerId: row.runner_id,
        host: row.host,
        ...(integration.oauth
          ? {
              supportsOauth2: {
                authUrl: `${deps.publicUrl()}/api/v1/oauth/authorize/${row.id}?returnTo=${encodeURIComponent(returnTo)}`,
                docsUrl: OAUTH_DOCS_URL,
              },
            }
          : {}),
        ...(integration.patEnabled
          ? {
              supportsPat: {
                createUrl: patLink?.createUrl ?? null,
                docsUrl: PAT_DOCS_URL,
                example: patLink?.example ?? null,
                requiredScopes: (patLink?.requiredScopes ?? [{ scope: 'vso.code_write', label: 'Code (Read & write)' }]).map((s) => ({
                  scope: s.scope,
                  label: s.label,
                })),
                suggestedName: patLink?.suggestedName ?? 'Keyway',
                suggestedExpiryDays: patLink?.suggestedExpiryDays ?? 30,
              },
            }
          : {}),
      };
    },

    /** Starts Connect: asks the runner for an authorization URL and binds its state to this session. */
    async begin(
      user: UserPrincipal,
      integrationId: string,
      options: { returnTo?: string; display?: 'popup' | 'page'; loginHint?: string },
    ) {
      if (user.via !== 'session' || !user.sessionId) throw forbidden('Connect runs in a browser session; sign in to Keyway in the browser');
      const row = await integrationFor(user, integrationId);
      const integration = deps.integrations.toRunnerIntegration(row);
      if (!integration.oauth)
        throw badRequest(
          'oauth_disabled',
          'OAuth is not enabled for this host; use a Personal Access Token or ask an admin to enable OAuth',
        );
      const begun = await deps.control.call(
        row.runner_id,
        'oauth-begin',
        { userId: user.userId, integration, redirectUri: callbackUrl(row.id), loginHint: options.loginHint },
        { timeoutMs: 20_000 },
      );
      await states.insert({
        state_hash: hashState(begun.state),
        session_id: user.sessionId,
        user_id: user.userId,
        organization_id: user.organizationId,
        runner_id: row.runner_id,
        integration_id: row.id,
        issuer: begun.issuer,
        return_to: safeReturnTo(options.returnTo),
        display: options.display === 'popup' ? 'popup' : 'page',
        created_at: now().toISOString(),
        expires_at: new Date(now().getTime() + STATE_MINUTES * 60_000).toISOString(),
      });
      await states.deleteExpired(now().toISOString());
      return { authorizationUrl: begun.authorizationUrl };
    },

    /** The browser's return from Entra. Refuses anything not bound to this session, path and issuer. */
    async complete(user: UserPrincipal | undefined, integrationId: string, params: Record<string, string>): Promise<CallbackOutcome> {
      const fail = (
        code: string,
        message: string,
        bound?: { return_to: string; display: string; organization_id: string; user_id: string },
      ): CallbackOutcome => ({
        ok: false,
        code,
        message,
        returnTo: bound?.return_to ?? '/',
        display: bound?.display === 'popup' ? 'popup' : 'page',
        audit: { organizationId: bound?.organization_id ?? null, userId: bound?.user_id ?? null, integrationId },
      });
      const taken = await takeBoundState(params.state, states, user, { now: now(), again: 'start Connect again' });
      if (!taken.ok) return fail(taken.code, taken.message, taken.row);
      const { row } = taken;
      if (row.integration_id !== integrationId) {
        return fail(
          'callback_mismatch',
          "the sign-in response arrived at another integration's callback address (possible mix-up attack); nothing was stored",
          row,
        );
      }
      if (params.iss !== undefined && params.iss !== row.issuer) {
        return fail(
          'issuer_mismatch',
          'the sign-in response names another issuer than the one asked (possible mix-up attack); nothing was stored',
          row,
        );
      }
      let integrationRow;
      try {
        integrationRow = await deps.integrations.getRow(row.runner_id, row.integration_id);
      } catch {
        return fail('integration_gone', 'repository access for this host was removed during sign-in', row);
      }
      const relayed: Record<string, string> = {};
      for (const key of ['code', 'state', 'iss', 'error', 'error_description', 'error_uri', 'session_state']) {
        const value = params[key];
        if (typeof value === 'string') relayed[key] = value.slice(0, 4096);
      }
      try {
        const result = await deps.control.call(
          row.runner_id,
          'oauth-complete',
          {
            userId: row.user_id,
            integration: deps.integrations.toRunnerIntegration(integrationRow),
            callbackUrl: callbackUrl(row.integration_id),
            params: relayed,
          },
          { timeoutMs: 30_000 },
        );
        return {
          ok: true,
          code: 'connected',
          message: `connected${result.identity?.upn ? ` as ${result.identity.upn}` : ''}`,
          returnTo: row.return_to,
          display: row.display === 'popup' ? 'popup' : 'page',
          audit: { organizationId: row.organization_id, userId: row.user_id, integrationId },
        };
      } catch (err) {
        if (err instanceof ApiError) return fail(err.code, err.message, row);
        throw err;
      }
    },

    /** A PAT from the user: sealed at once (or already sealed in the browser), checked and stored by the runner. */
    async submitPat(
      user: UserPrincipal,
      input: { integrationId: string; organization: string; token?: string; sealedToken?: string; expiresAt?: string },
    ) {
      const row = await integrationFor(user, input.integrationId);
      const integration = deps.integrations.toRunnerIntegration(row);
      if (!integration.patEnabled)
        throw badRequest('pat_disabled', 'Personal Access Tokens are not enabled for this host; ask an admin, or connect with OAuth');
      if ((input.token === undefined) === (input.sealedToken === undefined))
        throw badRequest('invalid_request', 'send exactly one of token or sealedToken', 'token');
      if (input.expiresAt !== undefined && Number.isNaN(Date.parse(input.expiresAt)))
        throw badRequest('invalid_expiry', 'expiresAt must be a date like 2026-12-31', 'expiresAt');
      const runner = await deps.runners.get(user.organizationId, row.runner_id);
      let sealed: string;
      if (input.sealedToken !== undefined) {
        if (!isSealed(input.sealedToken) || input.sealedToken.split('.')[1] !== runner.public_key_fingerprint) {
          throw badRequest(
            'sealed_for_another_key',
            "the token was sealed to another key than the runner's current one; reload the page and paste it again",
            'sealedToken',
          );
        }
        sealed = input.sealedToken;
      } else {
        const token = (input.token ?? '').trim();
        if (!token) throw badRequest('invalid_token', 'token is empty', 'token');
        if (!runner.public_key) throw new ApiError(409, 'runner_not_registered', 'the runner has not registered its key yet');
        sealed = await seal(runner.public_key, token, sealingContext.userPat(row.id, user.userId));
      }
      return deps.control.call(
        row.runner_id,
        'pat-store',
        {
          userId: user.userId,
          integration,
          organization: input.organization.trim(),
          sealedToken: sealed,
          expiresAt: input.expiresAt ? new Date(input.expiresAt).toISOString() : null,
        },
        { timeoutMs: 30_000 },
      );
    },

    async listAuthorizations(user: UserPrincipal) {
      const runnerIds = await integrationStore.runnerIds(user.organizationId);
      const authorizations: unknown[] = [];
      const unavailable: { runnerId: string; reason: string }[] = [];
      await Promise.all(
        runnerIds.map(async (runnerId) => {
          try {
            const answer = await deps.control.call(runnerId, 'list-authorizations', { userId: user.userId }, { timeoutMs: 10_000 });
            for (const a of answer.authorizations) authorizations.push({ ...a, runnerId });
          } catch (err) {
            unavailable.push({ runnerId, reason: err instanceof ApiError ? err.message : 'the runner could not be asked' });
          }
        }),
      );
      return { authorizations, unavailableRunners: unavailable };
    },

    async deleteAuthorization(user: UserPrincipal, runnerId: string, authorizationId: string) {
      await deps.runners.get(user.organizationId, runnerId);
      try {
        return await deps.control.call(runnerId, 'delete-authorization', { userId: user.userId, authorizationId }, { timeoutMs: 15_000 });
      } catch (err) {
        if (err instanceof ApiError && err.code === 'not_found') throw notFound('authorization');
        throw err;
      }
    },
  };
}

export type OAuthService = ReturnType<typeof createOAuthService>;
