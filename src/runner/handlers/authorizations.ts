import { open, UnsealError } from '../../crypto/sealing.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import { createAzureDevOpsClient } from '../../azure-devops/client.ts';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import type { AzureDevOpsEndpoints, AzureDevOpsTarget } from '../../azure-devops/endpoints.ts';
import type { RunnerIntegration } from '../../control/integration.ts';
import type { AuthorizationSummary } from '../../control/registry.ts';
import { HandlerError } from '../agent.ts';
import type { HandlerSet } from '../agent.ts';
import type { CredentialStore } from '../credentials/store.ts';
import type { IntegrationSource } from '../oauth/integration-config.ts';
import type { createOAuthFlow } from '../oauth/flow.ts';
import type { TokenService } from '../oauth/tokens.ts';
import { patCannotPush } from '../repositories/access.ts';

const EXPIRY_WARNING_DAYS = 7;

export interface AuthorizationHandlerDeps {
  privateKey: string;
  credentials: CredentialStore;
  integrations: IntegrationSource;
  flow: ReturnType<typeof createOAuthFlow>;
  tokens: TokenService;
  endpoints: AzureDevOpsEndpoints;
  now?: () => Date;
}

/** The requests of this module; each remembers the integration it was given (the runner's copy of it). */
type AuthorizationKind =
  'check-authentication' | 'oauth-begin' | 'oauth-complete' | 'pat-store' | 'list-authorizations' | 'delete-authorization';

export function targetFor(integration: RunnerIntegration, organization: string): AzureDevOpsTarget {
  return integration.kind === 'services'
    ? { kind: 'services', organization }
    : { kind: 'server', origin: integration.origin, virtualDirectory: integration.virtualDirectory, collection: organization };
}

export interface PushAccess {
  pushAccess: 'confirmed' | 'refused' | 'unconfirmed';
  pushAccessNote: string | null;
}

/**
 * Can the PAT push? Nothing reports a PAT's scopes, and pushing to find out would change a
 * repository; git's receive-pack advertisement for one repository the token can read asks the same
 * question and changes nothing. The service refuses it (403) for a token without write access, as
 * it refuses the push itself (TF401027). That it checks the PAT's scope already there is what the
 * emulator does and pushes with read-only tokens report; unconfirmed against Microsoft's
 * documentation, so anything but a clear answer is "could not be confirmed" (docs/azure-devops.md).
 */
async function pushAccess(
  client: ReturnType<typeof createAzureDevOpsClient>,
  repos: readonly { name: string; project?: { name?: string } | null; isDisabled?: boolean }[],
): Promise<PushAccess> {
  const repo = repos.find((r) => r.project?.name && !r.isDisabled);
  if (!repo?.project?.name)
    return { pushAccess: 'unconfirmed', pushAccessNote: 'the token reaches no repository, so push rights could not be confirmed' };
  const answer = await client.probeReceivePack(repo.project.name, repo.name);
  if (answer === 'allowed') return { pushAccess: 'confirmed', pushAccessNote: null };
  if (answer === 'refused')
    return {
      pushAccess: 'refused',
      pushAccessNote: `${patCannotPush()} (Azure DevOps refused to receive a push to ${repo.project.name}/${repo.name}); it can still clone and fetch`,
    };
  return { pushAccess: 'unconfirmed', pushAccessNote: 'Azure DevOps gave no clear answer, so push rights could not be confirmed' };
}

/** The runner's handlers for a user's host authorizations (journey 2 of the design). */
export function createAuthorizationHandlers(deps: AuthorizationHandlerDeps): HandlerSet<AuthorizationKind> {
  const now = deps.now ?? (() => new Date());

  function summarize(record: Awaited<ReturnType<CredentialStore['listForSubject']>>[number]): AuthorizationSummary {
    const meta = record.metadata as {
      scopes?: string[];
      scopesKnown?: boolean;
      upn?: string;
      name?: string;
      organization?: string;
      reauthorizationReason?: string;
    } & Partial<PushAccess>;
    // PAT scopes are never reported by Azure DevOps: rows stored before this knew it list none.
    const scopesKnown = record.method !== 'pat' && meta.scopesKnown !== false && Array.isArray(meta.scopes);
    const warnings: string[] = [];
    if (record.expiresAt) {
      const daysLeft = (Date.parse(record.expiresAt) - now().getTime()) / 86_400_000;
      if (daysLeft <= 0) warnings.push('expired');
      else if (daysLeft <= EXPIRY_WARNING_DAYS) warnings.push('expires-soon');
    }
    if (record.status === 'needs-reauthorization') warnings.push('needs-reauthorization');
    // The last real outcome, not only the recorded expiry: working, failing since when (and why),
    // or waiting for the user to connect again.
    const state = record.status === 'needs-reauthorization' ? 'needs-reauthorization' : record.failingSince ? 'failing' : 'working';
    return {
      id: record.id,
      integrationId: record.integrationId,
      host: record.host,
      method: record.method,
      scopes: scopesKnown ? (meta.scopes ?? []) : [],
      scopesKnown,
      ...(record.method === 'pat'
        ? { pushAccess: meta.pushAccess ?? 'unconfirmed', pushAccessNote: meta.pushAccessNote ?? 'push rights could not be confirmed' }
        : {}),
      identity: meta.upn ?? meta.name ?? null,
      organization: meta.organization ?? null,
      status: record.status,
      state,
      failingSince: record.failingSince,
      failureReason: record.failureReason,
      reauthorizationReason: meta.reauthorizationReason ?? null,
      createdAt: record.createdAt,
      expiresAt: record.expiresAt,
      lastUsedAt: record.lastUsedAt,
      warnings,
    };
  }

  return {
    'check-authentication': async ({ userId, integration }) => {
      deps.integrations.remember(integration);
      const record = await deps.credentials.findForIntegration({ type: 'user', id: userId }, integration.id);
      if (!record) return { authenticated: false, authorization: null };
      const summary = summarize(record);
      const usable = record.status === 'active' && !summary.warnings.includes('expired');
      return { authenticated: usable, authorization: summary };
    },

    'oauth-begin': async (p) => {
      deps.integrations.remember(p.integration);
      return deps.flow.begin({ userId: p.userId, integration: p.integration, redirectUri: p.redirectUri, loginHint: p.loginHint });
    },

    'oauth-complete': async (p) => {
      deps.integrations.remember(p.integration);
      return deps.flow.complete({ userId: p.userId, integration: p.integration, callbackUrl: p.callbackUrl, params: p.params });
    },

    'pat-store': async (p) => {
      deps.integrations.remember(p.integration);
      if (!p.integration.patEnabled)
        throw new HandlerError('pat_disabled', 'Personal Access Tokens are not enabled for this host; ask an admin, or connect with OAuth');
      if (!p.organization)
        throw new HandlerError('organization_required', 'say which organization (or collection) the token is for', 'organization');
      let token: string;
      try {
        token = await open(deps.privateKey, p.sealedToken, sealingContext.userPat(p.integration.id, p.userId));
      } catch (err) {
        throw new HandlerError(
          'invalid_sealed_token',
          err instanceof UnsealError && err.reason === 'wrong-recipient'
            ? 'the token was sealed for another runner key; reload the page and paste it again'
            : 'the sealed token could not be opened; paste it again',
          'token',
        );
      }
      const client = createAzureDevOpsClient({
        target: targetFor(p.integration, p.organization),
        endpoints: deps.endpoints,
        credential: { kind: 'pat', token },
        maxRetries: 2,
      });
      let identity: string | undefined;
      let push: PushAccess = {
        pushAccess: 'unconfirmed',
        pushAccessNote: `no repository in ${p.organization} could be asked, so push rights could not be confirmed`,
      };
      try {
        const data = await client.connectionData();
        identity = data.authenticatedUser?.providerDisplayName ?? data.authenticatedUser?.displayName;
        if (!data.authenticatedUser || data.authenticatedUser.id === '00000000-0000-0000-0000-000000000000') {
          throw new HandlerError(
            'pat_rejected',
            `Azure DevOps did not accept the token for ${p.organization}: it is wrong, expired or revoked`,
            'token',
          );
        }
        // One repository read proves the Code scope and access to this organization.
        const repos = (await client.listRepositories(undefined, {})).items;
        push = await pushAccess(client, repos);
      } catch (err) {
        if (err instanceof HandlerError) throw err;
        if (err instanceof AzureDevOpsError) {
          if (err.kind === 'unauthenticated' || err.kind === 'forbidden') {
            throw new HandlerError(
              'pat_rejected',
              identity
                ? `the token works but cannot read code in ${p.organization}: give it the scope Code (Read & write) and access to this organization`
                : `Azure DevOps did not accept the token for ${p.organization}: it is wrong, expired, revoked, or not valid for this organization`,
              'token',
            );
          }
          if (err.kind === 'not-found')
            throw new HandlerError(
              'organization_not_found',
              `no organization or collection named ${p.organization} is reachable with this token`,
              'organization',
            );
          throw new HandlerError('azure_devops_unavailable', `could not check the token: ${err.describe()}`);
        }
        throw err;
      }
      const subject = { type: 'user' as const, id: p.userId };
      const previous = await deps.credentials.findForIntegration(subject, p.integration.id);
      const expiresAt = p.expiresAt ?? null;
      const record = await deps.credentials.insert({
        subject,
        integrationId: p.integration.id,
        host: p.integration.host,
        method: 'pat',
        secret: token,
        // Azure DevOps tells nobody a PAT's scopes (only the PAT lifecycle API, with an Entra user
        // token, could): none are recorded rather than guessed. What was seen is recorded.
        metadata: { scopesKnown: false, requestedScopes: ['vso.code_write'], upn: identity, organization: p.organization, ...push },
        expiresAt,
      });
      if (previous) await deps.credentials.delete(previous.id);
      return { authorizationId: record.id, identity: identity ?? null, expiresAt, ...push };
    },

    'list-authorizations': async ({ userId }) => {
      const records = await deps.credentials.listForSubject({ type: 'user', id: userId });
      return { authorizations: records.map(summarize) };
    },

    'delete-authorization': async ({ userId, authorizationId }) => {
      const record = await deps.credentials.get(authorizationId);
      // Another user's authorization is indistinguishable from a missing one.
      if (!record || record.subject.type !== 'user' || record.subject.id !== userId)
        throw new HandlerError('not_found', 'authorization not found');
      // Entra ID has no refresh-token revocation endpoint (no RFC 7009 support) and the PAT lifecycle
      // API needs an Entra user token, so revocation upstream is not possible here: the credential is
      // destroyed on the runner, and the listing tells the user to revoke a PAT in Azure DevOps.
      await deps.credentials.delete(record.id);
      return { deleted: true, revokedUpstream: false, method: record.method };
    },
  };
}
