// The management plane's half of environments: parse the context URL, pick the user's integration on
// the chosen runner, ask the runner to clone, and keep the progress the runner reports. The clone,
// the token and the workspace never leave the runner.
//
// Progress travels runner → management (POST /api/v1/runner/environments/:id/progress): the runner
// reports as git progresses, so reading an environment costs no runner round trip and works on any
// management replica. A report lost for good (the runner restarted, the network failed) is repaired
// on read: an environment that has not moved for a while is asked about (environment-status).

import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError, badRequest, conflict, notFound, AuthorizationRequiredError } from '../../http/errors.ts';
import { authenticationPath } from '../repositories/service.ts';
import { formatRepositoryUrl, NotAnAzureDevOpsUrlError, parseRepositoryUrl, SERVICES_ORIGIN } from '../../azure-devops/url.ts';
import type { RepositoryContext, RepositoryRef, ServerHostConfig } from '../../azure-devops/url.ts';
import { ENVIRONMENT_REQUESTS } from '../../control/environments.ts';
import type {
  EnvironmentCheckout,
  EnvironmentCloneOptions,
  EnvironmentCreatePayload,
  EnvironmentProgressReport,
  EnvironmentProgressValue,
  PullRequestCheckout,
} from '../../control/environments.ts';
import { newId } from '../identity/tokens.ts';
import type { RunnerPrincipal, UserPrincipal } from '../identity/principal.ts';
import type { Affinity, ControlChannel } from '../runners/control.ts';
import type { RunnerService } from '../runners/service.ts';
import type { ScmIntegrationService } from '../scm-integrations/service.ts';
import { createEnvironmentStore } from './store.ts';
import { createScmIntegrationStore } from '../scm-integrations/store.ts';
import type { EnvironmentRow } from './store.ts';
import { clonePayload, createCloneDefaultsStore, FULL_CLONE, resolveCloneOptions } from './clone-options.ts';
import type { ResolvedCloneOptions } from './clone-options.ts';

/** An environment's workspace is on the runner replica that cloned it: later requests follow it there. */
const workspaceOf = (environmentId: string, mode: Affinity['mode']): Affinity => ({ key: `environment:${environmentId}`, mode });

export interface EnvironmentServiceDeps {
  db: Kysely<ManagementDB>;
  runners: Pick<RunnerService, 'get'>;
  control: Pick<ControlChannel, 'call' | 'enqueue'>;
  integrations: Pick<ScmIntegrationService, 'toRunnerIntegration'>;
  /** KEYWAY_AZURE_DEVOPS_SERVICES_URL when it is not dev.azure.com (the emulator): URLs on it are Services URLs too. */
  azureDevOpsServicesUrl?: string;
  now?: () => Date;
  /** A cloning environment silent for this long is asked about on read. Default 20 s. */
  staleAfterMs?: number;
  createTimeoutMs?: number;
  /** Per user (in an organization): environments kept and clones at once; 0 means no limit. */
  limits?: Partial<EnvironmentLimits>;
}

export interface EnvironmentLimits {
  /** KEYWAY_ENVIRONMENTS_PER_USER; default 20. */
  environmentsPerUser: number;
  /** KEYWAY_CLONES_PER_USER; default 3. */
  clonesPerUser: number;
}

export const DEFAULT_ENVIRONMENT_LIMITS: EnvironmentLimits = { environmentsPerUser: 20, clonesPerUser: 3 };

export interface EnvironmentView {
  id: string;
  runnerId: string;
  integrationId: string;
  contextUrl: string;
  repository: { kind: string; host: string; organization: string; project: string; repository: string; webUrl: string };
  ref: (RepositoryRef & { checkout?: PullRequestCheckout }) | null;
  status: EnvironmentRow['status'];
  progress: EnvironmentProgressValue | null;
  error: { code: string; message: string } | null;
  workspacePath: string | null;
  checkout: EnvironmentCheckout | null;
  /** The workspace's size on the runner's disk, as last measured; null before the first measure. */
  diskBytes: number | null;
  /** When the environment's git last asked for a credential (the runner's idle clock). */
  lastUsedAt: string | null;
  /** How much of the repository it fetched (blobless, shallow), from the request or the integration's defaults. */
  clone: ResolvedCloneOptions;
  createdAt: string;
  updatedAt: string;
}

function parseJson<T>(value: string | null): T | null {
  return value === null ? null : (JSON.parse(value) as T);
}

export function environmentView(row: EnvironmentRow): EnvironmentView {
  const repo = JSON.parse(row.repository) as EnvironmentView['repository'];
  return {
    id: row.id,
    runnerId: row.runner_id,
    integrationId: row.integration_id,
    contextUrl: row.context_url,
    repository: {
      kind: repo.kind,
      host: repo.host,
      organization: repo.organization,
      project: repo.project,
      repository: repo.repository,
      webUrl: repo.webUrl,
    },
    ref: parseJson(row.ref),
    status: row.status,
    progress: parseJson(row.progress),
    error: parseJson(row.error),
    workspacePath: row.workspace_path,
    checkout: parseJson(row.checkout),
    diskBytes: row.disk_bytes,
    lastUsedAt: row.last_used_at,
    clone: parseJson<ResolvedCloneOptions>(row.clone_options) ?? { ...FULL_CLONE },
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function createEnvironmentService(deps: EnvironmentServiceDeps) {
  const { db } = deps;
  const now = deps.now ?? (() => new Date());
  const store = createEnvironmentStore(db, now);
  const integrationStore = createScmIntegrationStore(db);
  const cloneDefaults = createCloneDefaultsStore(db, now);
  const staleAfterMs = deps.staleAfterMs ?? 20_000;
  const servicesOrigins = servicesOriginsOf(deps.azureDevOpsServicesUrl);
  const limits: EnvironmentLimits = { ...DEFAULT_ENVIRONMENT_LIMITS, ...deps.limits };
  // Count and insert of one user happen one at a time in this process (a flood of parallel
  // creations cannot all pass the count); a recount after the insert covers other replicas.
  const admissions = new Map<string, Promise<unknown>>();

  function overLimit(counts: { active: number; cloning: number }, including: number): ApiError | undefined {
    if (limits.environmentsPerUser > 0 && counts.active + including > limits.environmentsPerUser) {
      return new ApiError(
        429,
        'environment_limit',
        `you have ${counts.active + including - 1} environments, the most one person may keep (KEYWAY_ENVIRONMENTS_PER_USER=${limits.environmentsPerUser}): delete environments you no longer need (Environments page, or DELETE /api/v1/environments/{id}), then try again`,
      );
    }
    if (limits.clonesPerUser > 0 && counts.cloning + including > limits.clonesPerUser) {
      return new ApiError(
        429,
        'clone_limit',
        `${counts.cloning + including - 1} of your environments are still cloning, the most one person may clone at once (KEYWAY_CLONES_PER_USER=${limits.clonesPerUser}): wait until one is ready (or delete one), then try again`,
        undefined,
        { 'retry-after': '30' },
      );
    }
    return undefined;
  }

  /** Inserts the row if the user's limits allow it; the error says which limit and how to free it. */
  async function admit(row: EnvironmentRow): Promise<void> {
    const key = `${row.organization_id}:${row.user_id}`;
    const previous = admissions.get(key) ?? Promise.resolve();
    const mine = previous
      .catch(() => undefined)
      .then(async () => {
        const refusal = overLimit(await store.countForUser(row.organization_id, row.user_id), 1);
        if (refusal) throw refusal;
        await store.insert(row);
        const after = overLimit(await store.countForUser(row.organization_id, row.user_id), 0);
        if (after) {
          await store.delete(row.id);
          throw after;
        }
      });
    admissions.set(key, mine);
    try {
      await mine;
    } finally {
      if (admissions.get(key) === mine) admissions.delete(key);
    }
  }

  async function owned(user: UserPrincipal, id: string): Promise<EnvironmentRow> {
    const row = await store.get(id);
    // Someone else's environment is indistinguishable from a missing one.
    if (!row || row.organization_id !== user.organizationId || row.user_id !== user.userId) throw notFound('environment');
    return row;
  }

  /**
   * The control channel already gives runner refusals their status (statusForFailure); here a
   * missing authorization learns where to authorize, and Azure DevOps' refusal is a 403.
   */
  function runnerError(err: unknown, integrationId: string): unknown {
    if (!(err instanceof ApiError)) return err;
    if (err.code === 'not_authorized' || err.code === 'reauthorization_required') {
      return new AuthorizationRequiredError(
        err.statusCode,
        err.code,
        `${err.message} (see GET ${authenticationPath(integrationId)})`,
        authenticationPath(integrationId),
      );
    }
    if (err.code === 'access_denied') return new ApiError(403, err.code, err.message, err.field);
    return err;
  }

  async function refresh(row: EnvironmentRow): Promise<EnvironmentRow> {
    if (row.status !== 'cloning' || now().getTime() - Date.parse(row.updated_at) < staleAfterMs) return row;
    try {
      const answer = await deps.control.call(
        row.runner_id,
        ENVIRONMENT_REQUESTS.status,
        { environmentId: row.id },
        { timeoutMs: 5_000, affinity: workspaceOf(row.id, 'follow') },
      );
      const { exists: _exists, ...report } = answer;
      if (report.status !== 'cloning') await store.applyReport(row.id, row.runner_id, report);
      else await store.setStatus(row.id, 'cloning');
      return (await store.get(row.id)) ?? row;
    } catch {
      // The runner cannot be asked right now: show what is known.
      return row;
    }
  }

  return {
    async create(
      user: UserPrincipal,
      input: { contextUrl: string; runnerId: string; pullRequestCheckout?: PullRequestCheckout; clone?: EnvironmentCloneOptions },
    ): Promise<EnvironmentView> {
      const runner = await deps.runners.get(user.organizationId, input.runnerId);
      if (runner.revoked_at) throw conflict('runner_revoked', `runner "${runner.name}" was revoked; pick another runner`, 'runnerId');
      const rows = await integrationStore.listForOrganization(user.organizationId, { runnerId: runner.id });
      const serverHosts: ServerHostConfig[] = [];
      for (const row of rows) {
        const settings = JSON.parse(row.settings) as { kind?: string; origin?: string };
        if (settings.kind === 'server' && settings.origin)
          serverHosts.push({ origin: settings.origin, virtualDirectory: row.virtual_directory });
      }
      let ctx: RepositoryContext;
      try {
        ctx = parseRepositoryUrl(input.contextUrl, { serverHosts, servicesOrigins });
      } catch (err) {
        if (err instanceof NotAnAzureDevOpsUrlError) throw badRequest('invalid_context_url', err.message, 'contextUrl');
        throw err;
      }
      const integrationRow =
        ctx.kind === 'services'
          ? rows.find((r) => (JSON.parse(r.settings) as { kind?: string }).kind === 'services')
          : rows.find((r) => r.host === ctx.host.toLowerCase() && r.virtual_directory === (ctx.virtualDirectory ?? ''));
      if (!integrationRow) {
        const host = ctx.kind === 'services' ? 'dev.azure.com' : `${ctx.host}${ctx.virtualDirectory ?? ''}`;
        throw conflict(
          'no_repository_access',
          `runner "${runner.name}" has no repository access configured for ${host}; ask an admin to configure it, or pick another runner`,
          'runnerId',
        );
      }
      const checkout: PullRequestCheckout | undefined =
        ctx.ref?.type === 'pullRequest' ? (input.pullRequestCheckout ?? 'merge') : undefined;
      if (input.pullRequestCheckout && !checkout)
        throw badRequest('invalid_request', 'pullRequestCheckout applies to pull request URLs only', 'pullRequestCheckout');

      const cloneOptions = resolveCloneOptions(input.clone, await cloneDefaults.get(integrationRow.id));
      const at = now().toISOString();
      const row: EnvironmentRow = {
        id: newId('env'),
        organization_id: user.organizationId,
        user_id: user.userId,
        runner_id: runner.id,
        integration_id: integrationRow.id,
        // What Keyway resolved, never what was typed: the repository at its ref. Credentials,
        // unknown query parameters, fragments and file paths of the input go no further than the parser.
        context_url: formatRepositoryUrl({ ...ctx, path: undefined }),
        repository: JSON.stringify({
          kind: ctx.kind,
          host: ctx.host,
          organization: ctx.organization,
          project: ctx.project,
          repository: ctx.repository,
          webUrl: formatRepositoryUrl({ ...ctx, ref: undefined, path: undefined }),
        }),
        ref: ctx.ref ? JSON.stringify(checkout ? { ...ctx.ref, checkout } : ctx.ref) : null,
        status: 'cloning',
        progress: JSON.stringify({ phase: 'Queued', percent: 0, phases: [] } satisfies EnvironmentProgressValue),
        error: null,
        workspace_path: null,
        checkout: null,
        created_at: at,
        updated_at: at,
        disk_bytes: null,
        last_used_at: null,
        clone_options: JSON.stringify(cloneOptions),
      };
      // The row exists before the runner hears of it, so its first progress report has a home.
      await admit(row);
      const payload: EnvironmentCreatePayload = {
        environmentId: row.id,
        userId: user.userId,
        integration: deps.integrations.toRunnerIntegration(integrationRow),
        repository: {
          kind: ctx.kind,
          host: ctx.host,
          origin: ctx.origin,
          organization: ctx.organization,
          project: ctx.project,
          repository: ctx.repository,
          ...(ctx.virtualDirectory !== undefined ? { virtualDirectory: ctx.virtualDirectory } : {}),
          ...(ctx.collection !== undefined ? { collection: ctx.collection } : {}),
        },
        ...(ctx.ref ? { ref: ctx.ref } : {}),
        ...(checkout ? { pullRequestCheckout: checkout } : {}),
        ...(clonePayload(cloneOptions) ? { clone: clonePayload(cloneOptions)! } : {}),
      };
      try {
        const created = await deps.control.call(runner.id, ENVIRONMENT_REQUESTS.create, payload, {
          timeoutMs: deps.createTimeoutMs ?? 45_000,
          affinity: workspaceOf(row.id, 'claim'),
        });
        await store.setWorkspacePath(row.id, created.workspacePath);
      } catch (err) {
        await store.delete(row.id);
        // No answer (timeout, runner gone mid-request): the runner may have started anyway; clean up there.
        if (err instanceof ApiError && (err.code === 'runner_timeout' || err.code === 'runner_offline')) {
          await deps.control
            .enqueue(
              runner.id,
              ENVIRONMENT_REQUESTS.delete,
              { environmentId: row.id, userId: user.userId },
              undefined,
              workspaceOf(row.id, 'release'),
            )
            .catch(() => undefined);
        }
        throw runnerError(err, integrationRow.id);
      }
      return environmentView((await store.get(row.id)) ?? row);
    },

    async list(user: UserPrincipal): Promise<EnvironmentView[]> {
      return (await store.listForUser(user.organizationId, user.userId)).map(environmentView);
    },

    async get(user: UserPrincipal, id: string): Promise<EnvironmentView> {
      return environmentView(await refresh(await owned(user, id)));
    },

    /**
     * Deletes on the runner first (the helper's secret stops working, the clone stops, the files go),
     * then here: 'deleted'. When the runner cannot be reached the deletion is queued for it and the
     * environment stays `deleting` until the runner confirms: 'queued'.
     */
    async delete(user: UserPrincipal, id: string): Promise<'deleted' | 'queued'> {
      const row = await owned(user, id);
      await store.setStatus(row.id, 'deleting');
      const payload = { environmentId: row.id, userId: row.user_id };
      try {
        await deps.control.call(row.runner_id, ENVIRONMENT_REQUESTS.delete, payload, {
          timeoutMs: 30_000,
          affinity: workspaceOf(row.id, 'release'),
        });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        // A revoked runner will never run anything again: its workspaces are gone with it.
        if (err.code !== 'runner_revoked' && err.code !== 'not_found') {
          if (err.code !== 'runner_offline' && err.code !== 'runner_timeout') throw err;
          await deps.control.enqueue(row.runner_id, ENVIRONMENT_REQUESTS.delete, payload, undefined, workspaceOf(row.id, 'release'));
          return 'queued';
        }
      }
      await store.delete(row.id);
      return 'deleted';
    },

    /** A runner's report about one of its own environments. */
    async report(runner: RunnerPrincipal, id: string, report: EnvironmentProgressReport): Promise<void> {
      // A confirmation may arrive after the row is gone (the synchronous path removed it): nothing to do.
      if (report.status === 'deleted') return store.deleteConfirmed(id, runner.runnerId);
      const row = await store.get(id);
      if (!row || row.runner_id !== runner.runnerId) throw notFound('environment');
      if (report.status === 'usage') {
        if (report.usage) await store.applyUsage(id, runner.runnerId, report.usage);
        return;
      }
      if (report.status === 'removed') {
        await store.applyRemoved(id, runner.runnerId, report.error ?? { code: 'removed', message: 'the runner removed this environment' });
        return;
      }
      await store.applyReport(id, runner.runnerId, { ...report, status: report.status });
    },
  };
}

function servicesOriginsOf(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const u = new URL(url);
    // A bare origin only: parseRepositoryUrl lays it out like dev.azure.com/{org}/...
    return u.origin !== SERVICES_ORIGIN && (u.pathname === '/' || u.pathname === '') ? [u.origin] : [];
  } catch {
    return [];
  }
}

export type EnvironmentService = ReturnType<typeof createEnvironmentService>;
