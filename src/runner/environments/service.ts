// Environments on the runner: check access, prepare a workspace with its credential helper, clone
// in the background while reporting git's progress, and tear everything down on delete.
//
// Containment (issue 15): the repository's host is resolved and checked once, and REST and git both
// connect only to those addresses, git following no redirect (network.ts); a clone that stalls or
// runs too long is stopped with everything git started; the runner refuses environments and clones
// beyond its limits; idle environments are removed; workspaces can run as users of their own.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import { retry, sleep as defaultSleep } from '../../http/retry.ts';
import type { Logger } from '../../logging/logger.ts';
import type { AzureDevOpsEndpoints } from '../../azure-devops/endpoints.ts';
import { targetFromRepositoryContext } from '../../azure-devops/endpoints.ts';
import { createAzureDevOpsClient } from '../../azure-devops/client.ts';
import { pinnedFetch } from '../../azure-devops/guarded-fetch.ts';
import type { AzureDevOpsClient } from '../../azure-devops/client.ts';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import { gitRemoteUrl } from '../../azure-devops/git-remote.ts';
import type { RepositoryRef } from '../../azure-devops/url.ts';
import type { RunnerIntegration } from '../../control/integration.ts';
import { ENVIRONMENT_REQUESTS } from '../../control/environments.ts';
import type {
  CloneReport,
  EnvironmentCheckout,
  EnvironmentCloneOptions,
  EnvironmentCreatePayload,
  EnvironmentDeletePayload,
  EnvironmentCreateResult,
  EnvironmentProgressReport,
  EnvironmentRepository,
  EnvironmentStatusResult,
  PullRequestCheckout,
} from '../../control/environments.ts';
import { HandlerError } from '../agent.ts';
import type { HandlerSet } from '../agent.ts';
import type { AccessToken } from '../oauth/tokens.ts';
import { patCannotPush } from '../repositories/access.ts';
import { createEnvironmentStore } from './store.ts';
import type { RunnerEnvironment } from './store.ts';
import { credentialSocketPath, hashSecret, startCredentialServer } from './credential-server.ts';
import type { CredentialGrant } from './credential-server.ts';
import { GitCommandError, GitTimeoutError, gitEnvironment, runGit, seconds, subcommand } from './git.ts';
import type { RunGitOptions } from './git.ts';
import { gitNetworkArgs, vetRemote, writeNetworkConfig } from './network.ts';
import type { VettedRemote } from './network.ts';
import { diskUsage } from './disk-usage.ts';
import { allocateUid, checkIsolationPossible } from './isolation.ts';
import type { WorkspaceIsolation } from './isolation.ts';
import type { CloneProgress } from './progress.ts';
import {
  assertEnvironmentId,
  cacheHelperCommand,
  createWorkspace,
  helperCommand,
  helperScript,
  removeWorkspace,
  workspaceLayout,
} from './workspace.ts';
import { environmentSocketPath, startEnvironmentSocket } from './environment-socket.ts';
import type { EnvironmentSocket } from './environment-socket.ts';
import type { WorkspaceLayout } from './workspace.ts';
import { CacheBusyError, createRepositoryCache } from './repository-cache.ts';
import type { CacheUsage, RepositoryCache } from './repository-cache.ts';
import { cloneFromCache } from './cache-clone.ts';
import type { CacheCheckout } from './cache-clone.ts';
import { cacheMetrics } from './cache-metrics.ts';
import type { GitConfigEntry } from './git-config-file.ts';

/** What to check out, decided before the clone starts; with the repository's default branch as the service named it. */
type ClonePlan = (
  | { kind: 'branch'; branch: string | null }
  | { kind: 'tag'; tag: string }
  | { kind: 'commit'; sha: string }
  | { kind: 'pull-merge'; id: number }
  | { kind: 'pull-source'; id: number; branch: string }
) & { defaultBranch?: string | null };

export interface EnvironmentServiceOptions {
  dataDir: string;
  db: Kysely<RunnerDB>;
  getAccessToken(userId: string, integrationId: string): Promise<AccessToken>;
  /** Azure DevOps refused a token before its recorded expiry (REST or git): one early refresh. */
  tokenRejected?(token: AccessToken, via: 'rest' | 'git'): Promise<AccessToken | undefined>;
  rememberIntegration(integration: RunnerIntegration): void;
  endpoints: AzureDevOpsEndpoints;
  logger: Logger;
  /** Sends a report to the management plane; throws on failure (4xx: do not retry). */
  report(environmentId: string, report: EnvironmentProgressReport): Promise<void>;
  /** Default `{dataDir}/run/credentials.sock`. */
  socketPath?: string;
  /** Least time between two progress reports of one environment. Default 500 ms. */
  progressIntervalMs?: number;
  /** How long a secret digest → environment lookup is trusted. Default 30 s. */
  grantCacheMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Stop git when it reports nothing for this long (KEYWAY_GIT_STALL_TIMEOUT_SECONDS). Default 2 minutes. */
  stallTimeoutMs?: number;
  /** Stop a clone, with its fetch and checkout, after this long (KEYWAY_GIT_CLONE_TIMEOUT_MINUTES). Default 60 minutes. */
  cloneTimeoutMs?: number;
  /** Environments this runner process keeps, failed ones aside (KEYWAY_RUNNER_MAX_ENVIRONMENTS). Default 200; 0: no limit. */
  maxEnvironments?: number;
  /** Clones this runner process runs at once (KEYWAY_RUNNER_MAX_CLONES). Default 8; 0: no limit. */
  maxClones?: number;
  /** Remove an environment whose git has not asked for a credential for this long (KEYWAY_ENVIRONMENT_IDLE_HOURS). Default 7 days; 0: never. */
  idleTimeoutMs?: number;
  /** How often workspaces are measured, idle ones removed and pinned addresses checked again. Default 5 minutes. */
  maintenanceIntervalMs?: number;
  /** Where workspaces live (KEYWAY_WORKSPACES_DIR). Default `{dataDir}/workspaces`. */
  workspacesDir?: string;
  /** Run each environment's git as a Unix user of its own (KEYWAY_WORKSPACE_UIDS). */
  isolation?: WorkspaceIsolation;
  /**
   * The repository cache (issue 20): where (KEYWAY_REPOSITORY_CACHE_DIR, default
   * `{dataDir}/repository-cache`), how large (KEYWAY_REPOSITORY_CACHE_MB; 0 turns it off) and how
   * fresh a cache must be to be used without a refresh (KEYWAY_REPOSITORY_CACHE_FRESH_SECONDS).
   */
  repositoryCache?: { dir?: string; maxBytes?: number; freshMs?: number };
  /** Sends the cache's disk use to the management plane (shown on the runner's page). */
  reportCacheUsage?(usage: CacheUsage & { instance: string }): Promise<void>;
  /** Tests: runs inside the cache's lease just before its packs are linked into a workspace. */
  cacheHooks?: { beforeCopy?(gitDir: string): Promise<void> };
}

const FINAL_REPORT_ATTEMPTS = 6;
const HOUR_MS = 3_600_000;
/** Last use is written at most this often per environment (git asks once per command). */
const USE_WRITE_INTERVAL_MS = 60_000;

/** Defaults of the limits above, shared with the configuration's documentation. */
export const ENVIRONMENT_DEFAULTS = {
  stallTimeoutMs: 120_000,
  cloneTimeoutMs: 60 * 60_000,
  maxEnvironments: 200,
  maxClones: 8,
  idleTimeoutMs: 7 * 24 * HOUR_MS,
  maintenanceIntervalMs: 5 * 60_000,
  repositoryCacheBytes: 10 * 1024 * 1024 * 1024,
  repositoryCacheFreshMs: 30_000,
} as const;

/** What a workspace made from the cache checks out before the plan's own steps; undefined: clone instead (an empty repository). */
function cacheCheckout(plan: ClonePlan): CacheCheckout | undefined {
  switch (plan.kind) {
    case 'branch': {
      const branch = plan.branch ?? plan.defaultBranch;
      return branch ? { kind: 'branch', branch } : undefined;
    }
    case 'pull-source':
      return { kind: 'branch', branch: plan.branch };
    case 'tag':
      return { kind: 'tag', tag: plan.tag };
    default:
      return plan.defaultBranch ? { kind: 'none', defaultBranch: plan.defaultBranch } : undefined;
  }
}

/**
 * Azure DevOps (or the way to it) said no: the same request would fail a full clone too, so the
 * environment fails with git's own words instead of trying again without the cache.
 */
function refusedByRemote(err: unknown): boolean {
  if (!(err instanceof GitCommandError)) return false;
  const said = err.outcome.messages.join('\n');
  return /The requested URL returned error: \d{3}|Authentication failed|could not read (Username|Password)|unable to access|^keyway: |TF\d{6}/im.test(
    said,
  );
}

/** Progress of a workspace made from the cache: the step ("Cache refresh", "Local copy", "User fetch", "Checkout") with git's own phase within it. */
function stepReporter(report: { progress(p: CloneProgress): void }) {
  const seen: string[] = [];
  return (step: string) =>
    (p?: CloneProgress): void => {
      const phase = p ? `${step}: ${p.phase}` : step;
      if (!seen.includes(phase) && seen.length < 30) seen.push(phase);
      report.progress({ phase, percent: p?.percent ?? 0, phases: [...seen] });
    };
}

export async function startEnvironments(options: EnvironmentServiceOptions) {
  const { logger } = options;
  const store = createEnvironmentStore(options.db);
  const progressInterval = options.progressIntervalMs ?? 500;
  const grantCacheMs = options.grantCacheMs ?? 30_000;
  const sleep = options.sleep ?? defaultSleep;
  const grants = new Map<string, { grant: CredentialGrant; at: number }>();
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  const states = new Map<string, CloneReport>();
  const instance = `${hostname()}:${resolve(options.dataDir)}`;
  const stallTimeoutMs = options.stallTimeoutMs ?? ENVIRONMENT_DEFAULTS.stallTimeoutMs;
  const cloneTimeoutMs = options.cloneTimeoutMs ?? ENVIRONMENT_DEFAULTS.cloneTimeoutMs;
  const maxEnvironments = options.maxEnvironments ?? ENVIRONMENT_DEFAULTS.maxEnvironments;
  const maxClones = options.maxClones ?? ENVIRONMENT_DEFAULTS.maxClones;
  const idleTimeoutMs = options.idleTimeoutMs ?? ENVIRONMENT_DEFAULTS.idleTimeoutMs;
  const isolation = options.isolation;
  const workspacesDir = options.workspacesDir ?? (isolation ? resolve(options.dataDir, 'workspaces') : undefined);
  const layoutOf = (id: string, repository: string) => workspaceLayout(options.dataDir, id, repository, workspacesDir);
  if (isolation && workspacesDir) await checkIsolationPossible(workspacesDir);
  /** Creations past the limit checks and not yet cloning (or failed): counted against the limits. */
  let creating = 0;
  /** uids handed to environments being created (not yet in the store). */
  const reservedUids = new Set<number>();
  const lastUseWritten = new Map<string, number>();
  /** The usage last reported per environment: a report goes only when it changed. */
  const reportedUsage = new Map<string, string>();
  const cacheBytes = options.repositoryCache?.maxBytes ?? ENVIRONMENT_DEFAULTS.repositoryCacheBytes;
  const cache: RepositoryCache | undefined =
    cacheBytes > 0
      ? await createRepositoryCache({
          dir: resolve(options.repositoryCache?.dir ?? join(options.dataDir, 'repository-cache')),
          db: options.db,
          maxBytes: cacheBytes,
          freshMs: options.repositoryCache?.freshMs ?? ENVIRONMENT_DEFAULTS.repositoryCacheFreshMs,
          logger,
          instance,
          stallTimeoutMs,
        })
      : undefined;

  /** Records that the environment's git asked for a credential: it is in use, not idle. */
  function onServed(environmentId: string): void {
    const now = Date.now();
    if (now - (lastUseWritten.get(environmentId) ?? 0) < USE_WRITE_INTERVAL_MS) return;
    lastUseWritten.set(environmentId, now);
    void store
      .touch(environmentId, new Date(now).toISOString())
      .catch((err: unknown) => logger.debug({ environmentId, err: { message: (err as Error).message } }, 'last use not recorded'));
  }
  const ownerOf = (env: Pick<RunnerEnvironment, 'uid'>) =>
    env.uid === null || env.uid === undefined ? undefined : { uid: env.uid, gid: env.uid };

  async function grantFor(secretHash: string): Promise<CredentialGrant | undefined> {
    const hit = grants.get(secretHash);
    if (hit && Date.now() - hit.at < grantCacheMs) return hit.grant;
    const env = await store.findBySecretHash(secretHash);
    if (!env || env.status === 'failed') {
      grants.delete(secretHash);
      return undefined;
    }
    const grant = { environmentId: env.id, userId: env.userId, integrationId: env.integrationId, remoteUrl: env.remoteUrl };
    grants.set(secretHash, { grant, at: Date.now() });
    return grant;
  }

  const server = await startCredentialServer({
    // Isolated workspaces reach the shared socket beside them: the data directory stays the runner's own.
    socketPath:
      options.socketPath ??
      (isolation && workspacesDir ? resolve(workspacesDir, '.run', 'credentials.sock') : credentialSocketPath(options.dataDir)),
    grantFor,
    getAccessToken: options.getAccessToken,
    logger,
    onServed,
    shared: isolation !== undefined,
  });

  // ---- each environment's own socket (git's credential-cache protocol) --------------------------

  const envSockets = new Map<string, EnvironmentSocket>();

  /** The fast path for git; when it cannot listen (too many open files, say) the curl helper serves alone. */
  async function openEnvironmentSocket(env: RunnerEnvironment): Promise<EnvironmentSocket | undefined> {
    try {
      const socket = await startEnvironmentSocket({
        path: environmentSocketPath(server.socketPath, env.id),
        grant: { environmentId: env.id, userId: env.userId, integrationId: env.integrationId, remoteUrl: env.remoteUrl },
        getAccessToken: options.getAccessToken,
        ...(options.tokenRejected ? { tokenRejected: (token: AccessToken) => options.tokenRejected!(token, 'git') } : {}),
        logger,
        onServed,
        owner: ownerOf(env),
      });
      envSockets.set(env.id, socket);
      return socket;
    } catch (err) {
      logger.warn(
        { environmentId: env.id, err: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } },
        'environment credential socket not started; the credential helper script serves it',
      );
      return undefined;
    }
  }

  async function closeEnvironmentSocket(environmentId: string): Promise<void> {
    const socket = envSockets.get(environmentId);
    envSockets.delete(environmentId);
    await socket?.close().catch(() => undefined);
  }

  // ---- reporting ------------------------------------------------------------------------------

  function reporter(environmentId: string) {
    let chain: Promise<void> = Promise.resolve();
    let lastSent = 0;
    let pending: EnvironmentProgressReport | undefined;
    let timer: NodeJS.Timeout | undefined;
    const flush = () => {
      timer = undefined;
      const next = pending;
      pending = undefined;
      if (!next) return;
      lastSent = Date.now();
      // Progress is best effort: a lost report is superseded by the next one.
      chain = chain
        .then(() => options.report(environmentId, next))
        .catch((err: unknown) =>
          logger.debug({ err: { message: (err as Error).message }, environmentId }, 'progress report not delivered'),
        );
    };
    return {
      progress(progress: CloneProgress) {
        const report: CloneReport = { status: 'cloning', progress };
        states.set(environmentId, report);
        pending = report;
        timer ??= setTimeout(flush, Math.max(0, lastSent + progressInterval - Date.now()));
      },
      /** The outcome must arrive: retried with backoff unless the management plane says no (4xx). */
      async final(report: CloneReport) {
        states.set(environmentId, report);
        if (timer) clearTimeout(timer);
        timer = undefined;
        pending = undefined;
        await chain;
        await deliver(environmentId, report);
      },
    };
  }

  async function deliver(environmentId: string, report: EnvironmentProgressReport): Promise<void> {
    try {
      await retry(() => options.report(environmentId, report), {
        attempts: FINAL_REPORT_ATTEMPTS,
        // A 4xx is the management plane saying no: asking again would not change its mind.
        retryable: (err) => {
          const status = (err as { status?: number }).status;
          return !(status !== undefined && status >= 400 && status < 500);
        },
        backoff: { baseMs: 500, maxMs: Infinity, jitter: 'none' },
        sleep,
      });
    } catch (err) {
      logger.warn(
        { environmentId, status: report.status, err: { message: (err as Error).message } },
        'could not report the environment outcome; the management plane will ask',
      );
    }
  }

  // ---- access check before anything is written ------------------------------------------------

  function adoFailure(err: unknown, what: string): HandlerError {
    if (err instanceof HandlerError) return err;
    if (err instanceof AzureDevOpsError) {
      const said = err.adoMessage ? ` (Azure DevOps: ${err.adoMessage})` : '';
      switch (err.kind) {
        case 'not-found':
          return new HandlerError('not_found', `${what} does not exist, or your Azure DevOps account has no access to it${said}`);
        case 'unauthenticated':
        case 'forbidden':
          return new HandlerError(
            'access_denied',
            `Azure DevOps refused your authorization for ${what}: you may not be a member of the organization, the organization may not allow this sign-in, or the authorization was revoked (connect again)${said}`,
          );
        default:
          return new HandlerError('azure_devops_unavailable', `could not check ${what}: ${err.describe()}`);
      }
    }
    return new HandlerError('azure_devops_unavailable', `could not check ${what}: ${(err as Error).message}`);
  }

  async function plan(
    client: AzureDevOpsClient,
    repo: EnvironmentRepository,
    ref: RepositoryRef | undefined,
    prCheckout: PullRequestCheckout,
  ): Promise<ClonePlan> {
    const name = `repository ${repo.organization}/${repo.project}/${repo.repository}`;
    let repository;
    try {
      repository = await client.getRepository(repo.project, repo.repository);
    } catch (err) {
      const failure = adoFailure(err, name);
      throw failure.code === 'not_found' ? new HandlerError('repository_not_found', failure.message) : failure;
    }
    if (repository.isDisabled)
      throw new HandlerError('repository_disabled', `${name} is disabled in Azure DevOps; ask a project administrator to enable it`);
    const defaultBranch = repository.defaultBranch?.startsWith('refs/heads/') ? repository.defaultBranch.slice('refs/heads/'.length) : null;
    if (!ref) return { defaultBranch, kind: 'branch', branch: null };
    checkRef(ref);
    const refExists = async (full: string, what: string, code: string) => {
      const short = full.replace(/^refs\//, '');
      let names: string[];
      try {
        names = (await client.listRefs(repo.project, repository.id, { filter: short })).items.map((r) => r.name);
      } catch (err) {
        throw adoFailure(err, what);
      }
      if (!names.includes(full)) throw new HandlerError(code, `${what} does not exist in ${name}`);
    };
    switch (ref.type) {
      case 'branch':
        await refExists(`refs/heads/${ref.name}`, `branch ${ref.name}`, 'branch_not_found');
        return { defaultBranch, kind: 'branch', branch: ref.name };
      case 'tag':
        await refExists(`refs/tags/${ref.name}`, `tag ${ref.name}`, 'tag_not_found');
        return { defaultBranch, kind: 'tag', tag: ref.name };
      case 'commit':
        // The service resolves full ids only; an abbreviated id is checked by git after the clone.
        if (/^[0-9a-f]{40}$/i.test(ref.sha)) {
          try {
            await client.getCommit(repo.project, repository.id, ref.sha);
          } catch (err) {
            const failure = adoFailure(err, `commit ${ref.sha}`);
            throw failure.code === 'not_found' ? new HandlerError('commit_not_found', `commit ${ref.sha} is not in ${name}`) : failure;
          }
        }
        return { defaultBranch, kind: 'commit', sha: ref.sha.toLowerCase() };
      case 'pullRequest': {
        let pr;
        try {
          pr = await client.getPullRequest(repo.project, ref.pullRequestId);
        } catch (err) {
          const failure = adoFailure(err, `pull request ${ref.pullRequestId}`);
          throw failure.code === 'not_found' ? new HandlerError('pull_request_not_found', failure.message) : failure;
        }
        if (pr.repository?.id && pr.repository.id.toLowerCase() !== repository.id.toLowerCase()) {
          throw new HandlerError('pull_request_not_found', `pull request ${ref.pullRequestId} belongs to another repository than ${name}`);
        }
        if (prCheckout === 'source') {
          const source = pr.sourceRefName ?? '';
          if (pr.forkSource || !source.startsWith('refs/heads/')) {
            throw new HandlerError(
              'pull_request_from_fork',
              `pull request ${ref.pullRequestId} comes from a fork or has no source branch here; check out its merge commit instead`,
            );
          }
          return { defaultBranch, kind: 'pull-source', id: ref.pullRequestId, branch: source.slice('refs/heads/'.length) };
        }
        if (pr.mergeStatus === 'conflicts') {
          throw new HandlerError(
            'pull_request_conflicts',
            `pull request ${ref.pullRequestId} has merge conflicts, so Azure DevOps has no merge commit for it; check out its source branch instead, or resolve the conflicts`,
          );
        }
        return { defaultBranch, kind: 'pull-merge', id: ref.pullRequestId };
      }
    }
  }

  /** The ref comes parsed from the management plane; it still reaches git's command line only if it is plain. */
  function checkRef(ref: RepositoryRef): void {
    const plainName = (name: unknown) =>
      typeof name === 'string' &&
      name.length > 0 &&
      name.length <= 400 &&
      !name.startsWith('-') &&
      !name.includes('..') &&
      // eslint-disable-next-line no-control-regex -- refusing control characters is the point
      !/[\s~^:?*[\\\u0000-\u001f\u007f]/.test(name);
    const ok =
      ref.type === 'branch' || ref.type === 'tag'
        ? plainName(ref.name)
        : ref.type === 'commit'
          ? typeof ref.sha === 'string' && /^[0-9a-f]{4,40}$/i.test(ref.sha)
          : Number.isInteger(ref.pullRequestId) && ref.pullRequestId > 0;
    if (!ok) throw new HandlerError('invalid_request', 'the ref is not a plain branch or tag name, commit id or pull request number');
  }

  /** Blobless and shallow, as the management plane resolved them (request, else integration); anything else is refused. */
  function checkCloneOptions(raw: unknown): EnvironmentCloneOptions {
    if (raw === undefined || raw === null) return {};
    const o = raw as Record<string, unknown>;
    if (
      typeof raw !== 'object' ||
      (o.filter !== undefined && o.filter !== null && o.filter !== 'blob:none') ||
      (o.depth !== undefined &&
        o.depth !== null &&
        !(Number.isInteger(o.depth) && (o.depth as number) >= 1 && (o.depth as number) <= 1_000_000))
    ) {
      throw new HandlerError(
        'invalid_request',
        'clone options: filter is blob:none or null, depth a whole number from 1 to 1000000 or null',
      );
    }
    return {
      ...(o.filter === 'blob:none' ? { filter: 'blob:none' as const } : {}),
      ...(typeof o.depth === 'number' ? { depth: o.depth } : {}),
    };
  }

  function checkRepository(p: Partial<EnvironmentCreatePayload>, integration: RunnerIntegration): EnvironmentRepository {
    const r = p.repository;
    const str = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 400;
    if (
      !r ||
      !str(r.organization) ||
      !str(r.project) ||
      !str(r.repository) ||
      !str(r.origin) ||
      (r.kind !== 'services' && r.kind !== 'server')
    ) {
      throw new HandlerError('invalid_request', 'repository must name kind, origin, organization, project and repository');
    }
    if (r.kind !== integration.kind)
      throw new HandlerError(
        'integration_mismatch',
        `the repository is on Azure DevOps ${r.kind === 'services' ? 'Services' : 'Server'} but the integration is not`,
      );
    if (
      r.kind === 'server' &&
      (new URL(r.origin).origin !== new URL(integration.origin).origin || (r.virtualDirectory ?? '') !== integration.virtualDirectory)
    ) {
      throw new HandlerError(
        'integration_mismatch',
        `the repository is not on the integration's server ${integration.host}${integration.virtualDirectory}`,
      );
    }
    return r;
  }

  // ---- the clone --------------------------------------------------------------------------------

  async function clone(
    env: RunnerEnvironment,
    layout: WorkspaceLayout,
    plan: ClonePlan,
    vetted: VettedRemote,
    signal: AbortSignal,
    report: ReturnType<typeof reporter>,
    cloneOptions: EnvironmentCloneOptions = {},
  ): Promise<EnvironmentCheckout> {
    const onProgress = (p: CloneProgress) => report.progress(p);
    const deadline = Date.now() + cloneTimeoutMs;
    const owner = ownerOf(env);
    // Every git of the clone: stopped when silent too long or out of time; as the environment's
    // user, with umask 077, when workspaces are isolated.
    const limits = (): RunGitOptions => ({
      signal,
      stallTimeoutMs,
      timeoutMs: deadline - Date.now(),
      ...(owner
        ? {
            uid: owner.uid,
            gid: owner.gid,
            umask: 0o077,
            env: { ...gitEnvironment(), HOME: env.workspace, XDG_CONFIG_HOME: join(env.workspace, '.keyway') },
          }
        : {}),
    });
    // Persisted in the new repository before anything is fetched, so the clone itself already asks
    // the helpers. The empty value drops helpers from system and global configuration: none of them
    // may store the token. Git asks the helpers in order: the environment's socket first (fast),
    // then the curl script, which also answers when the first cannot and says why it cannot.
    // include.path brings the network rules (network.ts) to every later git in the workspace.
    const socket = envSockets.get(env.id);
    const settings: GitConfigEntry[] = [
      { section: 'credential', key: 'helper', value: '' },
      ...(socket ? [{ section: 'credential', key: 'helper', value: cacheHelperCommand(socket.path) }] : []),
      { section: 'credential', key: 'helper', value: helperCommand(layout.helperPath) },
      { section: 'credential', key: 'useHttpPath', value: 'true' },
      { section: 'include', key: 'path', value: layout.networkConfigPath },
    ];
    const config = settings.flatMap((e) => ['--config', `${e.section}.${e.key}=${e.value}`]);
    const network = gitNetworkArgs(vetted);
    const depth = cloneOptions.depth ? ['--depth', String(cloneOptions.depth)] : [];
    const filter = cloneOptions.filter === 'blob:none' ? ['--filter=blob:none'] : [];
    const branchArg =
      plan.kind === 'branch' && plan.branch
        ? ['--branch', plan.branch]
        : plan.kind === 'tag'
          ? ['--branch', plan.tag]
          : plan.kind === 'pull-source'
            ? ['--branch', plan.branch]
            : [];
    const noCheckout = plan.kind === 'commit' || plan.kind === 'pull-merge' ? ['--no-checkout'] : [];

    // The repository cache (repository-cache.ts): objects from the runner's cache, refs from the
    // user's own fetch. A shallow clone asks Azure DevOps for the tip only, which the cache cannot
    // save; an empty repository has nothing to cache. Anything but a refusal by Azure DevOps (or a
    // stop) falls back to the full clone below, in a clean directory: never a broken workspace.
    const checkoutFromCache = cacheCheckout(plan);
    let fellBack = false;
    if (cache && socket && !cloneOptions.depth && checkoutFromCache) {
      const steps = stepReporter(report);
      const variant = await cache
        .variantFor(env.remoteUrl, cloneOptions.filter === 'blob:none' ? 'blob:none' : 'full')
        .catch(() => 'full' as const);
      // A directory of the runner's own beside the workspaces (same file system: the finished
      // repository moves into the workspace in one rename).
      const staging = join(resolve(layout.root, '..'), '.staging', env.id);
      try {
        await mkdir(staging, { recursive: true, mode: 0o700 });
        await cloneFromCache({
          cache,
          variant,
          blobless: cloneOptions.filter === 'blob:none',
          remoteUrl: env.remoteUrl,
          staging: join(staging, basename(layout.worktree)),
          worktree: layout.worktree,
          network,
          credential: [
            '-c',
            'credential.helper=',
            '-c',
            `credential.helper=${cacheHelperCommand(socket.path)}`,
            '-c',
            'credential.useHttpPath=true',
          ],
          workspaceConfig: settings,
          checkout: checkoutFromCache,
          runnerGit: () => ({ signal, stallTimeoutMs, timeoutMs: deadline - Date.now() }),
          owner,
          step: steps,
          signal,
          deadline,
          ...(options.cacheHooks?.beforeCopy ? { beforeCopy: options.cacheHooks.beforeCopy } : {}),
        });
        const checkout = await finishClone(env, layout, plan, network, depth, {
          inTree: () => ({ cwd: layout.worktree, onProgress: steps('Checkout'), ...limits() }),
          local: () => ({ cwd: layout.worktree, ...limits() }),
        });
        cacheMetrics.workspaces.inc({ source: 'cache' });
        return checkout;
      } catch (err) {
        if (signal.aborted || err instanceof GitTimeoutError || refusedByRemote(err)) throw err;
        fellBack = true;
        cacheMetrics.workspaces.inc({ source: 'fallback' });
        logger.warn(
          { environmentId: env.id, err: { message: (err as Error).message } },
          'the repository cache could not make this workspace; cloning it in full',
        );
        await rm(layout.worktree, { recursive: true, force: true });
        if (!(err instanceof CacheBusyError))
          void cache
            .session({ remoteUrl: env.remoteUrl, variant }, (s) => s.discard((err as Error).message), {
              deadline: Date.now() + cloneTimeoutMs,
            })
            .catch(() => undefined);
      } finally {
        await rm(staging, { recursive: true, force: true }).catch(() => undefined);
      }
    } else {
      cacheMetrics.workspaces.inc({ source: 'clone' });
    }
    if (fellBack) report.progress({ phase: 'Full clone', percent: 0, phases: ['Full clone'] });
    await runGit(
      [
        ...network,
        'clone',
        '--progress',
        ...config,
        ...filter,
        ...depth,
        ...branchArg,
        ...noCheckout,
        '--',
        env.remoteUrl,
        layout.worktree,
      ],
      { cwd: env.workspace, onProgress, ...limits() },
    );
    return finishClone(env, layout, plan, network, depth, {
      inTree: () => ({ cwd: layout.worktree, onProgress, ...limits() }),
      local: () => ({ cwd: layout.worktree, ...limits() }),
    });
  }

  /** After the clone (or the workspace made from the cache): the commit or pull request to check out, and what HEAD is. */
  async function finishClone(
    env: RunnerEnvironment,
    layout: WorkspaceLayout,
    plan: ClonePlan,
    network: string[],
    depth: string[],
    git: { inTree(): RunGitOptions; local(): RunGitOptions },
  ): Promise<EnvironmentCheckout> {
    const { inTree, local } = git;
    let description: string;
    if (plan.kind === 'commit') {
      const known = await runGit(['rev-parse', '--verify', '--quiet', `${plan.sha}^{commit}`], local()).catch(() => undefined);
      let target = plan.sha;
      if (!known) {
        // Not reachable from any branch or tag: ask for the object itself (Azure DevOps serves it).
        await runGit([...network, 'fetch', '--progress', ...depth, 'origin', plan.sha], inTree());
        target = 'FETCH_HEAD';
      }
      await runGit(['checkout', '--progress', '--detach', target], inTree());
      description = `commit ${plan.sha} (detached)`;
    } else if (plan.kind === 'pull-merge') {
      const ref = `refs/remotes/origin/pull/${plan.id}/merge`;
      await runGit([...network, 'fetch', '--progress', ...depth, 'origin', `+refs/pull/${plan.id}/merge:${ref}`], inTree());
      await runGit(['checkout', '--progress', '--detach', ref], inTree());
      description = `pull request ${plan.id}, merge commit (detached)`;
    } else if (plan.kind === 'pull-source') {
      description = `pull request ${plan.id}, source branch ${plan.branch}`;
    } else if (plan.kind === 'tag') {
      description = `tag ${plan.tag} (detached)`;
    } else {
      description = '';
    }
    // One git for both: the commit, then the branch's full name (`HEAD` itself when detached).
    const [commit = '', head = 'HEAD'] = (await runGit(['rev-parse', 'HEAD', '--symbolic-full-name', 'HEAD'], local())).stdout
      .trim()
      .split('\n');
    const branch = head.startsWith('refs/heads/') ? head.slice('refs/heads/'.length) : null;
    if (!description) description = branch ? `branch ${branch}` : `commit ${commit} (detached)`;
    return { commit, description: description.slice(0, 1000), branch };
  }

  function failureOf(err: unknown, env: RunnerEnvironment): { code: string; message: string } {
    const host = new URL(env.remoteUrl).host;
    if (err instanceof GitTimeoutError) {
      return err.reason === 'stalled'
        ? {
            code: 'clone_stalled',
            message: `git ${subcommand(err.args)} received nothing from ${host} for ${seconds(err.ms)} s (KEYWAY_GIT_STALL_TIMEOUT_SECONDS), so it was stopped and the workspace removed: the server may be overloaded or unreachable. Delete this environment and try again later.`,
          }
        : {
            code: 'clone_timeout',
            message: `the clone from ${host} took longer than ${Math.round(cloneTimeoutMs / 60_000)} minutes (KEYWAY_GIT_CLONE_TIMEOUT_MINUTES), so it was stopped and the workspace removed. Delete this environment and try again, or ask the runner's operator for a longer limit.`,
          };
    }
    if (err instanceof GitCommandError) {
      const said = err.outcome.messages
        .filter((l) => !/^Cloning into/.test(l))
        .slice(-4)
        .join(' ');
      const redirect = /The requested URL returned error: (30[1278])/.exec(said);
      if (redirect) {
        return {
          code: 'redirect_refused',
          message: `${host} answered git with a redirect (HTTP ${redirect[1]}), which Keyway does not follow: git talks only to the repository's own address. Ask an admin to check the integration's host (it must be the server's own address, not one that forwards elsewhere).`,
        };
      }
      // TF401027 is what a push with a read-only PAT meets: said in words that say what to do.
      const hint = /TF401027/.test(said) ? `; ${patCannotPush()}` : '';
      return {
        code: 'clone_failed',
        message: `git ${subcommand(err.args)} failed: ${said || `exit code ${err.outcome.code}`}${hint}`.slice(0, 1500),
      };
    }
    if (err instanceof HandlerError) return { code: err.code, message: err.message };
    return { code: 'clone_failed', message: "the clone failed on the runner; see the runner's log" };
  }

  function startClone(
    env: RunnerEnvironment,
    layout: WorkspaceLayout,
    clonePlan: ClonePlan,
    vetted: VettedRemote,
    cloneOptions: EnvironmentCloneOptions = {},
  ): void {
    const controller = new AbortController();
    const report = reporter(env.id);
    states.set(env.id, { status: 'cloning', progress: { phase: 'Starting', percent: 0, phases: [] } });
    const done = (async () => {
      try {
        let checkout: EnvironmentCheckout;
        try {
          checkout = await clone(env, layout, clonePlan, vetted, controller.signal, report, cloneOptions);
        } catch (err) {
          // git reported the token refused (its `erase` reached the environment's socket, which
          // refreshed it once): the clone is tried once more, with the fresh token.
          if (
            controller.signal.aborted ||
            !(err instanceof GitCommandError) ||
            !/Authentication failed|returned error: 401/i.test(err.outcome.messages.join(' '))
          )
            throw err;
          logger.info({ environmentId: env.id }, 'git said the token was refused; cloning once more');
          await removeWorkspace({ root: layout.worktree }).catch(() => undefined);
          checkout = await clone(env, layout, clonePlan, vetted, controller.signal, report, cloneOptions);
        }
        void afterCacheUse();
        await store.setStatus(env.id, 'ready');
        logger.info({ environmentId: env.id, commit: checkout.commit }, 'environment ready');
        const last = states.get(env.id)?.progress;
        const usage = { diskBytes: await diskUsage(env.workspace), lastUsedAt: null };
        await report.final({ status: 'ready', progress: { phase: 'Done', percent: 100, phases: last?.phases ?? [] }, checkout, usage });
      } catch (err) {
        if (controller.signal.aborted) return;
        const failure = failureOf(err, env);
        logger.warn({ environmentId: env.id, code: failure.code, reason: failure.message }, 'environment clone failed');
        // A failed environment serves no credentials; its secret goes with the row's status.
        grants.delete(env.secretHash);
        await closeEnvironmentSocket(env.id);
        await store.setStatus(env.id, 'failed').catch(() => undefined);
        // git and everything it started are gone (runGit stops the whole process group): the files go too.
        await removeWorkspace({ root: layout.root }).catch(() => undefined);
        await report.final({
          status: 'failed',
          error: failure,
          ...(states.get(env.id)?.progress ? { progress: states.get(env.id)!.progress! } : {}),
        });
      } finally {
        running.delete(env.id);
      }
    })();
    running.set(env.id, { controller, done });
  }

  // ---- handlers ---------------------------------------------------------------------------------

  /** The runner's own limits, checked before anything is written; what to do is in the message. */
  async function checkLimits(): Promise<void> {
    if (maxClones > 0 && running.size + creating > maxClones) {
      throw new HandlerError(
        'runner_clone_limit',
        `this runner is already running ${running.size} clone(s) and starting ${creating - 1} more (limit ${maxClones}, KEYWAY_RUNNER_MAX_CLONES): wait until one finishes and try again, or pick another runner`,
      );
    }
    if (maxEnvironments > 0) {
      const kept = await store.countActive(instance);
      if (kept + creating > maxEnvironments) {
        throw new HandlerError(
          'runner_environment_limit',
          `this runner holds ${kept} environments (limit ${maxEnvironments}, KEYWAY_RUNNER_MAX_ENVIRONMENTS): delete environments that are no longer needed, or pick another runner`,
        );
      }
    }
  }

  async function create(p: EnvironmentCreatePayload): Promise<EnvironmentCreateResult> {
    // The id names a directory: checked again here, whatever the schema let through.
    assertEnvironmentId(p.environmentId);
    const id = p.environmentId;
    options.rememberIntegration(p.integration);
    const repository = checkRepository(p, p.integration);
    const cloneOptions = checkCloneOptions(p.clone);
    if (await store.get(id)) throw new HandlerError('environment_exists', `environment ${id} exists on this runner already`);
    const remoteUrl = gitRemoteUrl(repository, options.endpoints);

    // Counted from here until the clone runs (or the creation fails), so concurrent creations see each other.
    creating++;
    let uid: number | undefined;
    try {
      await checkLimits();
      // The host's addresses, checked once: REST below and git later connect only to them.
      const vetted = await vetRemote(remoteUrl, repository.kind, {
        allowInsecure: options.endpoints.allowInsecureServerHosts,
        lookup: options.endpoints.serverHostLookup,
      });

      // The user's token (refreshed if needed): a missing or lapsed authorization fails here, with its reason.
      let token = await options.getAccessToken(p.userId, p.integration.id);
      const pinned =
        vetted.hostname && vetted.pin
          ? pinnedFetch(vetted.hostname, vetted.addresses, options.endpoints.allowInsecureServerHosts)
          : undefined;
      let clonePlan: ClonePlan;
      try {
        const client = createAzureDevOpsClient({
          target: targetFromRepositoryContext(repository),
          endpoints: options.endpoints,
          credential: { kind: token.kind, token: token.token },
          maxRetries: 2,
          ...(pinned ? { fetch: pinned.fetch } : {}),
          // A token refused before its recorded expiry is refreshed once (single-flight) and the call retried.
          refreshCredential: async () => {
            const fresh = await options.tokenRejected?.(token, 'rest');
            if (fresh) token = fresh;
            return fresh && { kind: fresh.kind, token: fresh.token };
          },
        });
        clonePlan = await plan(client, repository, p.ref, p.pullRequestCheckout === 'source' ? 'source' : 'merge');
      } finally {
        await pinned?.close().catch(() => undefined);
      }

      if (isolation) {
        const used = new Set([...(await store.usedUids(instance)), ...reservedUids]);
        uid = allocateUid(isolation, used);
        if (uid === undefined) {
          throw new HandlerError(
            'runner_uid_limit',
            `every Unix user of KEYWAY_WORKSPACE_UIDS (${isolation.first}-${isolation.last}) belongs to an environment on this runner: delete environments that are no longer needed, or ask the runner's operator for a larger range`,
          );
        }
        reservedUids.add(uid);
      }
      const owner = uid === undefined ? undefined : { uid, gid: uid };
      const layout = layoutOf(id, repository.repository);
      const secret = randomBytes(32).toString('base64url');
      const env: RunnerEnvironment = {
        id,
        userId: p.userId,
        integrationId: p.integration.id,
        repository,
        remoteUrl,
        secretHash: hashSecret(secret),
        workspace: layout.root,
        instance,
        status: 'cloning',
        createdAt: new Date().toISOString(),
        uid: uid ?? null,
      };
      try {
        await createWorkspace(
          layout,
          { helper: helperScript({ environmentId: id, socketPath: server.socketPath, secretPath: layout.secretPath }), secret },
          owner,
        );
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST')
          throw new HandlerError('environment_exists', `a workspace for ${id} exists on this runner already`);
        throw err;
      }
      try {
        await writeNetworkConfig(layout.networkConfigPath, vetted, owner);
        await store.insert(env);
      } catch (err) {
        await removeWorkspace(layout).catch(() => undefined);
        throw err;
      }
      await openEnvironmentSocket(env);
      startClone(env, layout, clonePlan, vetted, cloneOptions);
      return { workspacePath: layout.worktree, remoteUrl };
    } finally {
      creating--;
      if (uid !== undefined) reservedUids.delete(uid);
    }
  }

  async function remove(p: EnvironmentDeletePayload) {
    assertEnvironmentId(p.environmentId);
    const env = await store.get(p.environmentId);
    if (env && p.userId !== undefined && env.userId !== p.userId) throw new HandlerError('not_found', 'environment not found');
    await teardown(p.environmentId, env);
    // Finishes a deletion the management plane had to queue while this runner was unreachable.
    void deliver(p.environmentId, { status: 'deleted' });
    return { deleted: true, existed: Boolean(env) };
  }

  /** The secret stops working first; then the clone (if any) stops; then the files go. */
  async function teardown(environmentId: string, env: RunnerEnvironment | undefined): Promise<void> {
    await closeEnvironmentSocket(environmentId);
    if (env) {
      grants.delete(env.secretHash);
      await store.delete(env.id);
    }
    const active = running.get(environmentId);
    active?.controller.abort();
    await active?.done.catch(() => undefined);
    states.delete(environmentId);
    lastUseWritten.delete(environmentId);
    reportedUsage.delete(environmentId);
    await removeWorkspace({ root: env?.workspace ?? layoutOf(environmentId, 'repo').root });
  }

  // ---- maintenance: idle removal, disk use, pinned addresses ------------------------------------

  /** After a workspace was made: caches past the size limit go (least recently used first), and the new figures are reported. */
  let cacheChecks: Promise<void> | undefined;
  function afterCacheUse(): Promise<void> {
    if (!cache) return Promise.resolve();
    cacheChecks ??= (async () => {
      try {
        await cache.evict();
        await reportCache();
      } catch (err) {
        logger.warn(
          { err: { message: (err as Error).message } },
          'repository cache eviction failed; trying again after the next environment',
        );
      } finally {
        cacheChecks = undefined;
      }
    })();
    return cacheChecks;
  }

  let reportedCache = '';
  async function reportCache(): Promise<void> {
    if (!cache || !options.reportCacheUsage) return;
    const usage = await cache.usage();
    const key = JSON.stringify(usage);
    if (key === reportedCache) return;
    await options.reportCacheUsage({ ...usage, instance });
    reportedCache = key;
  }

  /** Staging directories a stopped runner left behind (workspaces from the cache are built there): gone once older than a clone may take. */
  async function removeStaleStaging(): Promise<void> {
    const staging = join(resolve(layoutOf(`env_${'0'.repeat(8)}`, 'repo').root, '..'), '.staging');
    for (const name of await readdir(staging).catch(() => [] as string[])) {
      const st = await stat(join(staging, name)).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > cloneTimeoutMs && !running.has(name))
        await rm(join(staging, name), { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** One pass over this runner process's ready environments. */
  async function maintain(): Promise<void> {
    await afterCacheUse();
    await removeStaleStaging();
    for (const env of await store.listForInstance(instance)) {
      if (env.status !== 'ready' || running.has(env.id)) continue;
      try {
        const lastUse = env.lastUsedAt ?? env.createdAt;
        if (idleTimeoutMs > 0 && Date.now() - Date.parse(lastUse) > idleTimeoutMs) {
          await teardown(env.id, env);
          const hours = Math.round(idleTimeoutMs / HOUR_MS);
          logger.info({ environmentId: env.id, lastUse }, 'idle environment removed');
          void deliver(env.id, {
            status: 'removed',
            error: {
              code: 'idle_removed',
              message: `removed by the runner: its git had not been used for ${hours} hours (KEYWAY_ENVIRONMENT_IDLE_HOURS; last use ${lastUse}). Create it again when you need it.`,
            },
          });
          continue;
        }
        if (env.repository.kind === 'server') await refreshPin(env);
        const usage = { diskBytes: await diskUsage(env.workspace), lastUsedAt: env.lastUsedAt ?? null };
        const key = JSON.stringify(usage);
        if (reportedUsage.get(env.id) === key) continue;
        await options.report(env.id, { status: 'usage', usage });
        reportedUsage.set(env.id, key);
      } catch (err) {
        logger.warn(
          { environmentId: env.id, err: { message: (err as Error).message } },
          'environment maintenance failed; trying again next time',
        );
      }
    }
  }

  /**
   * Checks the Server host's name again for the git the user runs in the workspace: a name that now
   * resolves only to allowed addresses is pinned to them; one that resolves to a refused address
   * keeps the addresses checked before (git never follows it there).
   */
  async function refreshPin(env: RunnerEnvironment): Promise<void> {
    let vetted: VettedRemote;
    try {
      vetted = await vetRemote(env.remoteUrl, 'server', {
        allowInsecure: options.endpoints.allowInsecureServerHosts,
        lookup: options.endpoints.serverHostLookup,
      });
    } catch (err) {
      logger.warn(
        { environmentId: env.id, reason: (err as Error).message },
        "the Server host's name no longer passes the host policy; the workspace keeps the addresses checked before",
      );
      return;
    }
    await writeNetworkConfig(join(env.workspace, '.keyway', 'network.gitconfig'), vetted, ownerOf(env));
  }

  let maintaining: Promise<void> | undefined;
  const runMaintenance = () => {
    maintaining ??= maintain().finally(() => {
      maintaining = undefined;
    });
    return maintaining;
  };
  const maintenanceTimer = setInterval(
    () => void runMaintenance().catch(() => undefined),
    options.maintenanceIntervalMs ?? ENVIRONMENT_DEFAULTS.maintenanceIntervalMs,
  );
  maintenanceTimer.unref();

  async function status(p: { environmentId: string }): Promise<EnvironmentStatusResult> {
    assertEnvironmentId(p.environmentId);
    const env = await store.get(p.environmentId);
    if (!env)
      return {
        exists: false,
        status: 'failed',
        error: {
          code: 'environment_gone',
          message: 'the runner has no such environment (it was deleted, or the runner lost its data directory)',
        },
      };
    const state = states.get(env.id);
    if (state) return { exists: true, ...state };
    if (env.status === 'cloning')
      return {
        exists: true,
        status: 'failed',
        error: { code: 'clone_interrupted', message: 'the runner restarted while cloning; delete the environment and create it again' },
      };
    return { exists: true, status: env.status };
  }

  // A clone cut short by a restart cannot resume: say so, once, and stop serving its secret.
  for (const env of await store.listByStatus(instance, 'cloning')) {
    if (running.has(env.id)) continue;
    await store.setStatus(env.id, 'failed');
    const report: CloneReport = {
      status: 'failed',
      error: { code: 'clone_interrupted', message: 'the runner restarted while cloning; delete the environment and create it again' },
    };
    states.set(env.id, report);
    void deliver(env.id, report);
  }

  // Ready environments survive restarts: their sockets come back with the runner.
  for (const env of await store.listByStatus(instance, 'ready')) await openEnvironmentSocket(env);

  const handlers: HandlerSet<(typeof ENVIRONMENT_REQUESTS)[keyof typeof ENVIRONMENT_REQUESTS]> = {
    [ENVIRONMENT_REQUESTS.create]: create,
    [ENVIRONMENT_REQUESTS.delete]: remove,
    [ENVIRONMENT_REQUESTS.status]: status,
  };

  return {
    handlers,
    socketPath: server.socketPath,
    /** One maintenance pass now (tests; the runner runs one every maintenanceIntervalMs). */
    maintain: runMaintenance,
    /** The repository cache, when it is on. */
    cache,
    /** Evicts past the size limit and reports the cache's disk use now (tests; runs after every creation). */
    checkCache: afterCacheUse,
    async stop() {
      clearInterval(maintenanceTimer);
      await maintaining?.catch(() => undefined);
      await cacheChecks?.catch(() => undefined);
      for (const r of running.values()) r.controller.abort();
      await Promise.allSettled([...running.values()].map((r) => r.done));
      await Promise.allSettled([...envSockets.keys()].map((id) => closeEnvironmentSocket(id)));
      await server.close();
    },
  };
}

export type Environments = Awaited<ReturnType<typeof startEnvironments>>;
