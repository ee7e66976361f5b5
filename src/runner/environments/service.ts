// Environments on the runner: check access, prepare a workspace with its credential helper, clone
// in the background while reporting git's progress, and tear everything down on delete.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { Logger } from '../../logging/logger.ts';
import type { AzureDevOpsEndpoints } from '../../azure-devops/endpoints.ts';
import { targetFromRepositoryContext } from '../../azure-devops/endpoints.ts';
import { createAzureDevOpsClient } from '../../azure-devops/client.ts';
import type { AzureDevOpsClient } from '../../azure-devops/client.ts';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import { gitRemoteUrl } from '../../azure-devops/git-remote.ts';
import type { RepositoryRef } from '../../azure-devops/url.ts';
import type { RunnerIntegration } from '../../management/scm-integrations/service.ts';
import { ENVIRONMENT_REQUESTS } from '../../control/environments.ts';
import type {
  CloneReport,
  EnvironmentCheckout,
  EnvironmentCreatePayload,
  EnvironmentCreateResult,
  EnvironmentProgressReport,
  EnvironmentRepository,
  EnvironmentStatusResult,
  PullRequestCheckout,
} from '../../control/environments.ts';
import { HandlerError } from '../agent.ts';
import type { Handler } from '../agent.ts';
import type { AccessToken } from '../oauth/tokens.ts';
import { patCannotPush } from '../repositories/access.ts';
import { createEnvironmentStore } from './store.ts';
import type { RunnerEnvironment } from './store.ts';
import { credentialSocketPath, hashSecret, startCredentialServer } from './credential-server.ts';
import type { CredentialGrant } from './credential-server.ts';
import { GitCommandError, runGit } from './git.ts';
import type { CloneProgress } from './progress.ts';
import { assertEnvironmentId, cacheHelperCommand, createWorkspace, helperCommand, helperScript, removeWorkspace, workspaceLayout } from './workspace.ts';
import { environmentSocketPath, startEnvironmentSocket } from './environment-socket.ts';
import type { EnvironmentSocket } from './environment-socket.ts';
import type { WorkspaceLayout } from './workspace.ts';

/** What to check out, decided before the clone starts. */
type ClonePlan =
  | { kind: 'branch'; branch: string | null }
  | { kind: 'tag'; tag: string }
  | { kind: 'commit'; sha: string }
  | { kind: 'pull-merge'; id: number }
  | { kind: 'pull-source'; id: number; branch: string };

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
}

const FINAL_REPORT_ATTEMPTS = 6;

export async function startEnvironments(options: EnvironmentServiceOptions) {
  const { logger } = options;
  const store = createEnvironmentStore(options.db);
  const progressInterval = options.progressIntervalMs ?? 500;
  const grantCacheMs = options.grantCacheMs ?? 30_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const grants = new Map<string, { grant: CredentialGrant; at: number }>();
  const running = new Map<string, { controller: AbortController; done: Promise<void> }>();
  const states = new Map<string, CloneReport>();
  const instance = `${hostname()}:${resolve(options.dataDir)}`;

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
    socketPath: options.socketPath ?? credentialSocketPath(options.dataDir),
    grantFor,
    getAccessToken: options.getAccessToken,
    logger,
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
      });
      envSockets.set(env.id, socket);
      return socket;
    } catch (err) {
      logger.warn({ environmentId: env.id, err: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } }, 'environment credential socket not started; the credential helper script serves it');
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
      chain = chain.then(() => options.report(environmentId, next)).catch((err: unknown) => logger.debug({ err: { message: (err as Error).message }, environmentId }, 'progress report not delivered'));
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
    for (let attempt = 0; ; attempt++) {
      try {
        await options.report(environmentId, report);
        return;
      } catch (err) {
        const status = (err as { status?: number }).status;
        if ((status !== undefined && status >= 400 && status < 500) || attempt + 1 >= FINAL_REPORT_ATTEMPTS) {
          logger.warn({ environmentId, status: report.status, err: { message: (err as Error).message } }, 'could not report the environment outcome; the management plane will ask');
          return;
        }
        await sleep(500 * 2 ** attempt);
      }
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
          return new HandlerError('access_denied', `Azure DevOps refused your authorization for ${what}: you may not be a member of the organization, the organization may not allow this sign-in, or the authorization was revoked (connect again)${said}`);
        default:
          return new HandlerError('azure_devops_unavailable', `could not check ${what}: ${err.describe()}`);
      }
    }
    return new HandlerError('azure_devops_unavailable', `could not check ${what}: ${(err as Error).message}`);
  }

  async function plan(client: AzureDevOpsClient, repo: EnvironmentRepository, ref: RepositoryRef | undefined, prCheckout: PullRequestCheckout): Promise<ClonePlan> {
    const name = `repository ${repo.organization}/${repo.project}/${repo.repository}`;
    let repository;
    try {
      repository = await client.getRepository(repo.project, repo.repository);
    } catch (err) {
      const failure = adoFailure(err, name);
      throw failure.code === 'not_found' ? new HandlerError('repository_not_found', failure.message) : failure;
    }
    if (repository.isDisabled) throw new HandlerError('repository_disabled', `${name} is disabled in Azure DevOps; ask a project administrator to enable it`);
    if (!ref) return { kind: 'branch', branch: null };
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
        return { kind: 'branch', branch: ref.name };
      case 'tag':
        await refExists(`refs/tags/${ref.name}`, `tag ${ref.name}`, 'tag_not_found');
        return { kind: 'tag', tag: ref.name };
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
        return { kind: 'commit', sha: ref.sha.toLowerCase() };
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
            throw new HandlerError('pull_request_from_fork', `pull request ${ref.pullRequestId} comes from a fork or has no source branch here; check out its merge commit instead`);
          }
          return { kind: 'pull-source', id: ref.pullRequestId, branch: source.slice('refs/heads/'.length) };
        }
        if (pr.mergeStatus === 'conflicts') {
          throw new HandlerError('pull_request_conflicts', `pull request ${ref.pullRequestId} has merge conflicts, so Azure DevOps has no merge commit for it; check out its source branch instead, or resolve the conflicts`);
        }
        return { kind: 'pull-merge', id: ref.pullRequestId };
      }
    }
  }

  /** The ref comes parsed from the management plane; it still reaches git's command line only if it is plain. */
  function checkRef(ref: RepositoryRef): void {
    const plainName = (name: unknown) =>
      // eslint-disable-next-line no-control-regex -- refusing control characters is the point
      typeof name === 'string' && name.length > 0 && name.length <= 400 && !name.startsWith('-') && !name.includes('..') && !/[\s~^:?*[\\\u0000-\u001f\u007f]/.test(name);
    const ok =
      ref.type === 'branch' || ref.type === 'tag'
        ? plainName(ref.name)
        : ref.type === 'commit'
          ? typeof ref.sha === 'string' && /^[0-9a-f]{4,40}$/i.test(ref.sha)
          : Number.isInteger(ref.pullRequestId) && ref.pullRequestId > 0;
    if (!ok) throw new HandlerError('invalid_request', 'the ref is not a plain branch or tag name, commit id or pull request number');
  }

  function checkRepository(p: Partial<EnvironmentCreatePayload>, integration: RunnerIntegration): EnvironmentRepository {
    const r = p.repository;
    const str = (v: unknown) => typeof v === 'string' && v.length > 0 && v.length <= 400;
    if (!r || !str(r.organization) || !str(r.project) || !str(r.repository) || !str(r.origin) || (r.kind !== 'services' && r.kind !== 'server')) {
      throw new HandlerError('invalid_request', 'repository must name kind, origin, organization, project and repository');
    }
    if (r.kind !== integration.kind) throw new HandlerError('integration_mismatch', `the repository is on Azure DevOps ${r.kind === 'services' ? 'Services' : 'Server'} but the integration is not`);
    if (r.kind === 'server' && (new URL(r.origin).origin !== new URL(integration.origin).origin || (r.virtualDirectory ?? '') !== integration.virtualDirectory)) {
      throw new HandlerError('integration_mismatch', `the repository is not on the integration's server ${integration.host}${integration.virtualDirectory}`);
    }
    return r;
  }

  // ---- the clone --------------------------------------------------------------------------------

  async function clone(env: RunnerEnvironment, layout: WorkspaceLayout, plan: ClonePlan, signal: AbortSignal, report: ReturnType<typeof reporter>): Promise<EnvironmentCheckout> {
    const onProgress = (p: CloneProgress) => report.progress(p);
    // Persisted in the new repository before anything is fetched, so the clone itself already asks
    // the helpers. The empty value drops helpers from system and global configuration: none of them
    // may store the token. Git asks the helpers in order: the environment's socket first (fast),
    // then the curl script, which also answers when the first cannot and says why it cannot.
    const socket = envSockets.get(env.id);
    const config = [
      '--config',
      'credential.helper=',
      ...(socket ? ['--config', `credential.helper=${cacheHelperCommand(socket.path)}`] : []),
      '--config',
      `credential.helper=${helperCommand(layout.helperPath)}`,
      '--config',
      'credential.useHttpPath=true',
    ];
    const branchArg = plan.kind === 'branch' && plan.branch ? ['--branch', plan.branch] : plan.kind === 'tag' ? ['--branch', plan.tag] : plan.kind === 'pull-source' ? ['--branch', plan.branch] : [];
    const noCheckout = plan.kind === 'commit' || plan.kind === 'pull-merge' ? ['--no-checkout'] : [];
    await runGit(['clone', '--progress', ...config, ...branchArg, ...noCheckout, '--', env.remoteUrl, layout.worktree], { cwd: env.workspace, signal, onProgress });
    const inTree = { cwd: layout.worktree, signal, onProgress };
    let description: string;
    if (plan.kind === 'commit') {
      const known = await runGit(['rev-parse', '--verify', '--quiet', `${plan.sha}^{commit}`], { cwd: layout.worktree, signal }).catch(() => undefined);
      let target = plan.sha;
      if (!known) {
        // Not reachable from any branch or tag: ask for the object itself (Azure DevOps serves it).
        await runGit(['fetch', '--progress', 'origin', plan.sha], inTree);
        target = 'FETCH_HEAD';
      }
      await runGit(['checkout', '--progress', '--detach', target], inTree);
      description = `commit ${plan.sha} (detached)`;
    } else if (plan.kind === 'pull-merge') {
      const local = `refs/remotes/origin/pull/${plan.id}/merge`;
      await runGit(['fetch', '--progress', 'origin', `+refs/pull/${plan.id}/merge:${local}`], inTree);
      await runGit(['checkout', '--progress', '--detach', local], inTree);
      description = `pull request ${plan.id}, merge commit (detached)`;
    } else if (plan.kind === 'pull-source') {
      description = `pull request ${plan.id}, source branch ${plan.branch}`;
    } else if (plan.kind === 'tag') {
      description = `tag ${plan.tag} (detached)`;
    } else {
      description = '';
    }
    const commit = (await runGit(['rev-parse', 'HEAD'], { cwd: layout.worktree, signal })).stdout.trim();
    const branch = (await runGit(['symbolic-ref', '--quiet', '--short', 'HEAD'], { cwd: layout.worktree, signal }).catch(() => undefined))?.stdout.trim() || null;
    if (!description) description = branch ? `branch ${branch}` : `commit ${commit} (detached)`;
    return { commit, description: description.slice(0, 1000), branch };
  }

  function failureOf(err: unknown): { code: string; message: string } {
    if (err instanceof GitCommandError) {
      const said = err.outcome.messages.filter((l) => !/^Cloning into/.test(l)).slice(-4).join(' ');
      // TF401027 is what a push with a read-only PAT meets: said in words that say what to do.
      const hint = /TF401027/.test(said) ? `; ${patCannotPush()}` : '';
      return { code: 'clone_failed', message: `git ${err.args[0]} failed: ${said || `exit code ${err.outcome.code}`}${hint}`.slice(0, 1500) };
    }
    if (err instanceof HandlerError) return { code: err.code, message: err.message };
    return { code: 'clone_failed', message: "the clone failed on the runner; see the runner's log" };
  }

  function startClone(env: RunnerEnvironment, layout: WorkspaceLayout, clonePlan: ClonePlan): void {
    const controller = new AbortController();
    const report = reporter(env.id);
    states.set(env.id, { status: 'cloning', progress: { phase: 'Starting', percent: 0, phases: [] } });
    const done = (async () => {
      try {
        let checkout: EnvironmentCheckout;
        try {
          checkout = await clone(env, layout, clonePlan, controller.signal, report);
        } catch (err) {
          // git reported the token refused (its `erase` reached the environment's socket, which
          // refreshed it once): the clone is tried once more, with the fresh token.
          if (controller.signal.aborted || !(err instanceof GitCommandError) || !/Authentication failed|returned error: 401/i.test(err.outcome.messages.join(' '))) throw err;
          logger.info({ environmentId: env.id }, 'git said the token was refused; cloning once more');
          await removeWorkspace({ root: layout.worktree }).catch(() => undefined);
          checkout = await clone(env, layout, clonePlan, controller.signal, report);
        }
        await store.setStatus(env.id, 'ready');
        logger.info({ environmentId: env.id, commit: checkout.commit }, 'environment ready');
        const last = states.get(env.id)?.progress;
        await report.final({ status: 'ready', progress: { phase: 'Done', percent: 100, phases: last?.phases ?? [] }, checkout });
      } catch (err) {
        if (controller.signal.aborted) return;
        const failure = failureOf(err);
        logger.warn({ environmentId: env.id, code: failure.code, reason: failure.message }, 'environment clone failed');
        // A failed environment serves no credentials; its secret goes with the row's status.
        grants.delete(env.secretHash);
        await closeEnvironmentSocket(env.id);
        await store.setStatus(env.id, 'failed').catch(() => undefined);
        await removeWorkspace({ root: layout.worktree }).catch(() => undefined);
        await report.final({ status: 'failed', error: failure, ...(states.get(env.id)?.progress ? { progress: states.get(env.id)!.progress! } : {}) });
      } finally {
        running.delete(env.id);
      }
    })();
    running.set(env.id, { controller, done });
  }

  // ---- handlers ---------------------------------------------------------------------------------

  async function create(payload: unknown): Promise<EnvironmentCreateResult> {
    const p = (payload ?? {}) as Partial<EnvironmentCreatePayload>;
    assertEnvironmentId(p.environmentId);
    if (typeof p.userId !== 'string' || !p.userId || !p.integration?.id) throw new HandlerError('invalid_request', 'userId and integration are required');
    const id = p.environmentId;
    options.rememberIntegration(p.integration);
    const repository = checkRepository(p, p.integration);
    if (await store.get(id)) throw new HandlerError('environment_exists', `environment ${id} exists on this runner already`);
    const remoteUrl = gitRemoteUrl(repository, options.endpoints);

    // The user's token (refreshed if needed): a missing or lapsed authorization fails here, with its reason.
    let token = await options.getAccessToken(p.userId, p.integration.id);
    const client = createAzureDevOpsClient({
      target: targetFromRepositoryContext(repository),
      endpoints: options.endpoints,
      credential: { kind: token.kind, token: token.token },
      maxRetries: 2,
      refreshCredential: async () => {
        const fresh = await options.tokenRejected?.(token, 'rest');
        if (fresh) token = fresh;
        return fresh && { kind: fresh.kind, token: fresh.token };
      },
    });
    const clonePlan = await plan(client, repository, p.ref, p.pullRequestCheckout === 'source' ? 'source' : 'merge');

    const layout = workspaceLayout(options.dataDir, id, repository.repository);
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
    };
    try {
      await createWorkspace(layout, { helper: helperScript({ environmentId: id, socketPath: server.socketPath, secretPath: layout.secretPath }), secret });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new HandlerError('environment_exists', `a workspace for ${id} exists on this runner already`);
      throw err;
    }
    try {
      await store.insert(env);
    } catch (err) {
      await removeWorkspace(layout).catch(() => undefined);
      throw err;
    }
    await openEnvironmentSocket(env);
    startClone(env, layout, clonePlan);
    return { workspacePath: layout.worktree, remoteUrl };
  }

  async function remove(payload: unknown) {
    const p = (payload ?? {}) as { environmentId?: unknown; userId?: unknown };
    assertEnvironmentId(p.environmentId);
    const env = await store.get(p.environmentId);
    if (env && typeof p.userId === 'string' && env.userId !== p.userId) throw new HandlerError('not_found', 'environment not found');
    // The secret stops working first; then the clone (if any) stops; then the files go.
    await closeEnvironmentSocket(p.environmentId);
    if (env) {
      grants.delete(env.secretHash);
      await store.delete(env.id);
    }
    const active = running.get(p.environmentId);
    active?.controller.abort();
    await active?.done.catch(() => undefined);
    states.delete(p.environmentId);
    await removeWorkspace({ root: env?.workspace ?? workspaceLayout(options.dataDir, p.environmentId, 'repo').root });
    // Finishes a deletion the management plane had to queue while this runner was unreachable.
    void deliver(p.environmentId, { status: 'deleted' });
    return { deleted: true, existed: Boolean(env) };
  }

  async function status(payload: unknown): Promise<EnvironmentStatusResult> {
    const p = (payload ?? {}) as { environmentId?: unknown };
    assertEnvironmentId(p.environmentId);
    const env = await store.get(p.environmentId);
    if (!env) return { exists: false, status: 'failed', error: { code: 'environment_gone', message: 'the runner has no such environment (it was deleted, or the runner lost its data directory)' } };
    const state = states.get(env.id);
    if (state) return { exists: true, ...state };
    if (env.status === 'cloning') return { exists: true, status: 'failed', error: { code: 'clone_interrupted', message: 'the runner restarted while cloning; delete the environment and create it again' } };
    return { exists: true, status: env.status };
  }

  // A clone cut short by a restart cannot resume: say so, once, and stop serving its secret.
  for (const env of await store.listByStatus(instance, 'cloning')) {
    if (running.has(env.id)) continue;
    await store.setStatus(env.id, 'failed');
    const report: CloneReport = { status: 'failed', error: { code: 'clone_interrupted', message: 'the runner restarted while cloning; delete the environment and create it again' } };
    states.set(env.id, report);
    void deliver(env.id, report);
  }

  // Ready environments survive restarts: their sockets come back with the runner.
  for (const env of await store.listByStatus(instance, 'ready')) await openEnvironmentSocket(env);

  const handlers: Record<string, Handler> = {
    [ENVIRONMENT_REQUESTS.create]: create,
    [ENVIRONMENT_REQUESTS.delete]: remove,
    [ENVIRONMENT_REQUESTS.status]: status,
  };

  return {
    handlers,
    socketPath: server.socketPath,
    async stop() {
      for (const r of running.values()) r.controller.abort();
      await Promise.allSettled([...running.values()].map((r) => r.done));
      await Promise.allSettled([...envSockets.keys()].map((id) => closeEnvironmentSocket(id)));
      await server.close();
    },
  };
}

export type Environments = Awaited<ReturnType<typeof startEnvironments>>;
