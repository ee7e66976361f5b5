import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError, AuthorizationRequiredError, badRequest, notFound } from '../../http/errors.ts';
import { formatRepositoryUrl, NotAnAzureDevOpsUrlError, parseRepositoryUrl } from '../../azure-devops/url.ts';
import type { RepositoryContext } from '../../azure-devops/url.ts';
import type { AccessReason, RepositoryInfo, ResolvedRef } from '../../control/repositories.ts';
import type { ControlKind, ControlPayload, ControlResult } from '../../control/registry.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { ScmIntegrationService } from '../scm-integrations/service.ts';
import type { OAuthService } from '../oauth/service.ts';
import { parseOptionsFor, servicesOriginsFor } from './parse-options.ts';
import { parseHostQuery, pickByHost } from '../scm-integrations/host-lookup.ts';
import { createScmIntegrationStore } from '../scm-integrations/store.ts';
import type { IntegrationRow } from '../scm-integrations/store.ts';

type Row = IntegrationRow;

export interface RepositoryServiceDeps {
  db: Kysely<ManagementDB>;
  control: Pick<ControlChannel, 'call'>;
  integrations: Pick<ScmIntegrationService, 'toRunnerIntegration'>;
  oauth: Pick<OAuthService, 'checkAuthentication'>;
  /** KEYWAY_AZURE_DEVOPS_SERVICES_URL: when not https://dev.azure.com, its URLs parse as Services URLs. */
  servicesUrl?: string;
  /** How long to wait for the runner. */
  timeoutMs?: number;
}

export interface IntegrationChoice {
  integrationId?: string;
  runnerId?: string;
}

export type ListingKind = 'organizations' | 'projects' | 'repositories' | 'branches' | 'commits' | 'pull-requests';

export interface ListingQuery extends IntegrationChoice {
  host?: string;
  organization?: string;
  project?: string;
  repository?: string;
  branch?: string;
  status?: string;
  top?: number;
  continuationToken?: string;
}

// The runner could not be asked: CheckRepositoryAccess answers "unavailable" instead of failing.
const RUNNER_UNREACHABLE = new Set(['runner_offline', 'runner_timeout', 'runner_revoked']);
// Refusals the user fixes by authorizing: every answer with one of them says where to do it.
const AUTHORIZATION_REQUIRED = new Set(['not_authorized', 'reauthorization_required']);

/** CheckAuthenticationForHost for an integration (relative to the API's origin). */
export const authenticationPath = (integrationId: string) =>
  `/api/v1/scm/authentication?integrationId=${encodeURIComponent(integrationId)}`;

interface ResolveAnswer {
  repository: RepositoryInfo;
  ref: ResolvedRef | null;
  calls: number;
  cached: boolean;
}

interface AccessAnswer {
  hasAccess: boolean;
  reason: AccessReason | null;
  errorMessage: string | null;
  repository?: RepositoryInfo;
  calls: number;
}

function settingsOf(row: Row): { kind: 'services' | 'server'; origin: string } {
  const s = JSON.parse(row.settings) as { kind?: 'services' | 'server'; origin?: string };
  return { kind: s.kind ?? 'services', origin: s.origin ?? 'https://dev.azure.com' };
}

/**
 * ParseContextURL, CheckRepositoryAccess and the SCM listings (journey 3): the management plane
 * parses and picks the user's integration for the host; the runner that holds the user's credential
 * talks to Azure DevOps.
 */
export function createRepositoryService(deps: RepositoryServiceDeps) {
  const integrationStore = createScmIntegrationStore(deps.db);
  const timeoutMs = deps.timeoutMs ?? 30_000;
  const servicesHosts = new Set(['dev.azure.com', ...servicesOriginsFor(deps.servicesUrl).map((o) => new URL(o).host)]);

  async function organizationIntegrations(user: UserPrincipal): Promise<Row[]> {
    return integrationStore.listForOrganization(user.organizationId);
  }

  function parse(url: string, rows: Row[]): RepositoryContext {
    const options = parseOptionsFor(
      rows.map((r) => ({ ...settingsOf(r), virtualDirectory: r.virtual_directory })),
      deps.servicesUrl,
    );
    try {
      return parseRepositoryUrl(url, options);
    } catch (err) {
      if (err instanceof NotAnAzureDevOpsUrlError) throw badRequest('not_azure_devops_url', err.reason, 'url');
      throw err;
    }
  }

  function servesContext(row: Row, context: RepositoryContext): boolean {
    const s = settingsOf(row);
    if (context.kind === 'services') return s.kind === 'services';
    return (
      s.kind === 'server' &&
      s.origin === context.origin &&
      row.virtual_directory.toLowerCase() === (context.virtualDirectory ?? '').toLowerCase()
    );
  }

  function describeHost(context: RepositoryContext): string {
    return context.kind === 'services' ? 'dev.azure.com' : `${context.host}${context.virtualDirectory ?? ''}`;
  }

  /** The user's integration for the URL's host; another organization's integration is not found. */
  function integrationForContext(rows: Row[], context: RepositoryContext, choice: IntegrationChoice): Row {
    if (choice.integrationId) {
      const row = rows.find((r) => r.id === choice.integrationId);
      if (!row) throw notFound('integration');
      if (!servesContext(row, context))
        throw badRequest(
          'integration_host_mismatch',
          `this integration serves ${row.host}${row.virtual_directory}, not ${describeHost(context)}; leave integrationId out or pick the integration for ${describeHost(context)}`,
          'integrationId',
        );
      return row;
    }
    const matching = rows.filter((r) => servesContext(r, context) && (!choice.runnerId || r.runner_id === choice.runnerId));
    const row = matching[0];
    if (!row) {
      throw new ApiError(
        404,
        'host_not_configured',
        `repository access for ${describeHost(context)} is not configured${choice.runnerId ? ' on this runner' : ''}; ask an admin to add it to a runner`,
      );
    }
    return row;
  }

  // {org}.visualstudio.com organizations are served at dev.azure.com too, and so are the
  // configured Services endpoint's (the emulator's).
  const isServicesHost = (bare: string) => /^[a-z0-9][a-z0-9-]*\.visualstudio\.com$/.test(bare) || servicesHosts.has(bare);

  async function integrationForListing(user: UserPrincipal, query: ListingQuery): Promise<Row> {
    const rows = await organizationIntegrations(user);
    if (query.integrationId) {
      const row = rows.find((r) => r.id === query.integrationId);
      if (!row) throw notFound('integration');
      return row;
    }
    if (!query.host) throw badRequest('invalid_request', 'give integrationId or host', 'host');
    const wanted = parseHostQuery(query.host, isServicesHost);
    const row = pickByHost(
      rows.filter((r) => !query.runnerId || r.runner_id === query.runnerId),
      wanted,
    );
    if (!row)
      throw new ApiError(
        404,
        'host_not_configured',
        `repository access for ${[wanted.host, ...wanted.segments].join('/')} is not configured${query.runnerId ? ' on this runner' : ''}; ask an admin to add it to a runner`,
      );
    return row;
  }

  async function ask<K extends ControlKind>(row: Row, kind: K, payload: ControlPayload<K>): Promise<ControlResult<K>> {
    // control.call already gives each runner answer code its HTTP status (statusForFailure).
    try {
      return await deps.control.call(row.runner_id, kind, payload, { timeoutMs });
    } catch (err) {
      if (err instanceof ApiError && AUTHORIZATION_REQUIRED.has(err.code)) {
        throw new AuthorizationRequiredError(
          err.statusCode,
          err.code,
          `${err.message} (see GET ${authenticationPath(row.id)})`,
          authenticationPath(row.id),
        );
      }
      throw err;
    }
  }

  /** The parsed context with the names Azure DevOps uses, and the resolved commit id. */
  function canonicalContext(context: RepositoryContext, answer: ResolveAnswer): RepositoryContext {
    const ref = context.ref?.type === 'commit' && answer.ref?.sha ? { type: 'commit' as const, sha: answer.ref.sha } : context.ref;
    const named = {
      ...context,
      project: answer.repository.project.name || context.project,
      repository: answer.repository.name || context.repository,
    };
    return {
      ...named,
      cloneUrl: formatRepositoryUrl({ ...named, ref: undefined, path: undefined }),
      webUrl: formatRepositoryUrl({ ...named, ref, path: context.path }),
      ...(ref ? { ref } : {}),
    };
  }

  return {
    /** `POST /api/v1/context/parse`: parse, then resolve through the API with the user's credential. */
    async resolve(user: UserPrincipal, input: { url: string } & IntegrationChoice) {
      const rows = await organizationIntegrations(user);
      const context = parse(input.url, rows);
      const row = integrationForContext(rows, context, input);
      const answer = await ask(row, 'resolve-context', {
        userId: user.userId,
        integration: deps.integrations.toRunnerIntegration(row),
        context,
      });
      return {
        context: canonicalContext(context, answer),
        repository: answer.repository,
        ref: answer.ref,
        calls: answer.calls,
        cached: answer.cached,
        integrationId: row.id,
        runnerId: row.runner_id,
      };
    },

    /** `POST /api/v1/context/access`: yes, or why not. */
    async checkAccess(user: UserPrincipal, input: { url: string } & IntegrationChoice) {
      const rows = await organizationIntegrations(user);
      const context = parse(input.url, rows);
      const row = integrationForContext(rows, context, input);
      const integration = deps.integrations.toRunnerIntegration(row);
      let answer: AccessAnswer;
      try {
        answer = await deps.control.call(
          row.runner_id,
          'check-repository-access',
          { userId: user.userId, integration, context },
          { timeoutMs },
        );
      } catch (err) {
        if (err instanceof ApiError && RUNNER_UNREACHABLE.has(err.code)) {
          answer = { hasAccess: false, reason: 'unavailable', errorMessage: err.message, calls: 0 };
        } else {
          throw err;
        }
      }
      let authentication: unknown;
      if (answer.reason && AUTHORIZATION_REQUIRED.has(answer.reason)) {
        // What CheckAuthenticationForHost offers, so the caller can connect at once.
        try {
          const offers = await deps.oauth.checkAuthentication(user, { integrationId: row.id, organization: context.organization });
          authentication = {
            integrationId: offers.integrationId,
            runnerId: offers.runnerId,
            host: offers.host,
            ...(offers.supportsOauth2 ? { supportsOauth2: offers.supportsOauth2 } : {}),
            ...(offers.supportsPat ? { supportsPat: offers.supportsPat } : {}),
          };
        } catch {
          authentication = undefined;
        }
      }
      return {
        hasAccess: answer.hasAccess,
        reason: answer.reason,
        errorMessage: answer.errorMessage,
        ...(answer.repository ? { repository: answer.repository } : {}),
        ...(authentication ? { authentication } : {}),
        ...(answer.reason && AUTHORIZATION_REQUIRED.has(answer.reason) ? { authorizationUrl: authenticationPath(row.id) } : {}),
        context,
        calls: answer.calls,
        integrationId: row.id,
        runnerId: row.runner_id,
      };
    },

    /** `GET /api/v1/scm/{kind}`: one page of what the user can reach, through their credential. */
    async list(user: UserPrincipal, kind: ListingKind, query: ListingQuery) {
      const row = await integrationForListing(user, query);
      const { integrationId: _id, host: _host, runnerId: _runner, ...args } = query;
      const answer = await ask(row, `list-${kind}`, {
        userId: user.userId,
        integration: deps.integrations.toRunnerIntegration(row),
        ...args,
      });
      return { ...answer, integrationId: row.id, runnerId: row.runner_id };
    },
  };
}

export type RepositoryService = ReturnType<typeof createRepositoryService>;
