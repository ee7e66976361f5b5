// Carries out one variable group sync: read the group, plan (./plan.ts), write once or not at all,
// remember what was written. Throttling and 5xx are retried by the Azure DevOps client (Retry-After,
// bounded backoff); on top of that a run that still fails transiently starts over from a fresh read,
// a bounded number of times. The variable set is only ever read here, so no failure can lose it.
import { createAzureDevOpsClient } from '../../azure-devops/client.ts';
import type { AzureDevOpsClient, AzureDevOpsClientOptions } from '../../azure-devops/client.ts';
import type { AzureDevOpsEndpoints } from '../../azure-devops/endpoints.ts';
import { AzureDevOpsError } from '../../azure-devops/errors.ts';
import type { TeamProject, VariableGroup, VariableGroupParameters, VariableGroupProjectReference } from '../../azure-devops/types.ts';
import type { SyncRunPayload, SyncRunResult, SyncTarget } from '../../control/app-connections.ts';
import { retry, sleep as defaultSleep } from '../../http/retry.ts';
import type { Logger } from '../../logging/logger.ts';
import { HandlerError } from '../agent.ts';
import type { AppConnectionTokens } from '../app-connections/tokens.ts';
import { nameKey, planVariableGroupSync } from './plan.ts';
import type { DesiredVariable, VariableGroupSyncPlan } from './plan.ts';
import type { SyncState, SyncStore } from './store.ts';

export interface SyncExecutorDeps {
  store: SyncStore;
  tokens: Pick<AppConnectionTokens, 'credentialFor'>;
  endpoints: AzureDevOpsEndpoints;
  logger?: Logger;
  /** Whole-run attempts after transient failures (each starts with a fresh read). Default 3. */
  attempts?: number;
  /** First wait between whole-run attempts; doubles. Default 1000 ms. */
  attemptDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  clientOptions?: Partial<AzureDevOpsClientOptions>;
  now?: () => number;
}

const sameName = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function sameTarget(state: SyncState, target: SyncTarget): boolean {
  return (
    sameName(state.target.organization, target.organization) &&
    sameName(state.target.project, target.project) &&
    sameName(state.target.groupName, target.groupName)
  );
}

/** A failure as the run record shows it: what went wrong and what to do, never a value or a credential. */
export function describeSyncFailure(err: unknown, target: SyncTarget): string {
  if (err instanceof HandlerError) return err.message;
  if (!(err instanceof AzureDevOpsError)) return 'the sync failed unexpectedly; see the runner log';
  const where = `organization '${target.organization}'`;
  if (err.kind === 'not-found' && err.operation === 'getProject') {
    return `Azure DevOps project '${target.project}' was not found in ${where}, or the connection may not see it: check the project name and the connection's access.`;
  }
  if (err.kind === 'unauthenticated' || err.kind === 'forbidden') {
    const action =
      err.operation === 'addVariableGroup' || err.operation === 'updateVariableGroup'
        ? "write variable groups (needs Variable Groups: Read, create & manage, and the Administrator or Creator role on the project's library)"
        : err.operation === 'listVariableGroups'
          ? 'read variable groups (needs Variable Groups: Read)'
          : 'read the project (needs Project and Team: Read)';
    return `Azure DevOps ${where} refused the connection's credential when trying to ${action}: the credential is wrong, expired or revoked, lacks that scope or permission, or (for a service principal) is not a member of the organization. Test the connection.`;
  }
  return err.describe();
}

async function findGroup(client: AzureDevOpsClient, projectId: string, groupName: string): Promise<VariableGroup | undefined> {
  // groupName filters server side (with `*` as a wildcard), so the exact match is picked here.
  const page = await client.listVariableGroups(projectId, { groupName });
  return page.items.find((g) => sameName(g.name, groupName));
}

function projectReferences(
  existing: VariableGroup | undefined,
  project: { id: string; name: string },
  target: SyncTarget,
): VariableGroupProjectReference[] {
  const ours: VariableGroupProjectReference = {
    name: target.groupName,
    ...(target.description !== null ? { description: target.description } : {}),
    projectReference: { id: project.id, name: project.name },
  };
  // A group shared with other projects stays shared: PUT replaces the references too.
  const others = (existing?.variableGroupProjectReferences ?? []).filter((r) => r.projectReference.id !== project.id);
  return [ours, ...others];
}

/**
 * Whether the sync may write into an existing group, and why (issue 15): it created the group
 * itself (or its lost POST did), or a project owner opted in to adopting it. Any other group with
 * the name is someone else's: the run stops before writing anything.
 */
function groupOrigin(state: SyncState, group: VariableGroup, target: SyncTarget, posted: boolean): 'created' | 'adopted' {
  if (state.groupId === group.id) {
    // A state from before origins were tracked belongs to a group the sync was already writing to.
    if (state.groupOrigin !== 'adopted') return 'created';
    if (target.adoptExisting) return 'adopted';
    throw new HandlerError(
      'group_not_adopted',
      `variable group '${target.groupName}' was adopted by this sync, but a project owner has since withdrawn the adoption: Keyway no longer writes into it. Ask an owner of the Keyway project to adopt it again, or point the sync at a group of its own.`,
    );
  }
  // Our own POST whose answer was lost created it.
  if (posted && state.groupId === null) return 'created';
  if (target.adoptExisting) return 'adopted';
  throw new HandlerError(
    'group_exists',
    `a variable group named '${target.groupName}' already exists in Azure DevOps project '${target.project}', and this sync did not create it: Keyway writes only into groups it created. Pick another group name (Keyway creates it), or ask an owner of the Keyway project to adopt '${target.groupName}'.`,
  );
}

function notWrittenByKeyway(target: SyncTarget, names: string[]): HandlerError {
  const shown =
    names
      .slice(0, 10)
      .map((n) => `'${n}'`)
      .join(', ') + (names.length > 10 ? ` and ${names.length - 10} more` : '');
  return new HandlerError(
    'variables_not_written_by_keyway',
    `variable group '${target.groupName}' already holds ${shown}, which Keyway did not write; Keyway changes only variables it wrote, so nothing was written. Remove ${names.length > 1 ? 'them' : 'it'} from the sync, or ask an owner of the Keyway project to allow taking ${names.length > 1 ? 'them' : 'it'} over.`,
  );
}

export function createSyncExecutor(deps: SyncExecutorDeps) {
  const attempts = deps.attempts ?? 3;
  const attemptDelayMs = deps.attemptDelayMs ?? 1000;
  const sleep = deps.sleep ?? defaultSleep;
  const now = deps.now ?? Date.now;
  // One run per sync at a time in this process; the management plane already serializes runs
  // across its replicas (a conditional UPDATE on the sync).
  const running = new Map<string, Promise<unknown>>();

  async function execute(payload: SyncRunPayload): Promise<SyncRunResult> {
    const started = now();
    const { syncId, target } = payload;
    const result: SyncRunResult = {
      status: 'failed',
      created: 0,
      updated: 0,
      deleted: 0,
      unchanged: 0,
      writes: 0,
      requests: 0,
      retries: 0,
      durationMs: 0,
      groupId: null,
    };
    let client: AzureDevOpsClient | undefined;
    const finish = (): SyncRunResult => {
      const stats = client?.stats();
      result.requests += stats?.requests ?? 0;
      result.retries += stats?.retries ?? 0;
      result.durationMs = now() - started;
      return result;
    };

    try {
      const variables = await deps.store.variables(syncId);
      const desired: DesiredVariable[] = [];
      for (const v of variables) desired.push(v.isSecret ? { ...v, digest: await deps.store.digest(syncId, v.name, v.value) } : v);
      const previous = await deps.store.state(syncId);
      let state: SyncState =
        previous && sameTarget(previous, target)
          ? previous
          : {
              syncId,
              target: { organization: target.organization, project: target.project, groupName: target.groupName },
              projectId: null,
              groupId: null,
              owned: [],
              digests: {},
              groupOrigin: null,
              written: [],
            };

      const credential = await deps.tokens.credentialFor(payload.connection);
      const ado = createAzureDevOpsClient({
        target: { kind: 'services', organization: target.organization },
        endpoints: deps.endpoints,
        credential,
        ...deps.clientOptions,
      });
      client = ado;

      // The project id is remembered per target, so a run that changes nothing costs one request.
      let project: Pick<TeamProject, 'id' | 'name'> | undefined = state.projectId
        ? { id: state.projectId, name: target.project }
        : undefined;
      let projectFromState = project !== undefined;
      // Names a POST may have created although its answer was lost (5xx, reset): they are ours.
      let maybeCreated: string[] = [];
      // Each try starts over from a fresh read.
      return await retry(
        async () => {
          if (!project) {
            const found = await ado.getProject(target.project);
            project = { id: found.id, name: found.name };
          }
          const group = await findGroup(ado, project.id, target.groupName);
          const origin = group ? groupOrigin(state, group, target, maybeCreated.length > 0) : 'created';
          const owned = group && maybeCreated.length ? [...new Set([...state.owned, ...maybeCreated])] : state.owned;
          const written = group && maybeCreated.length ? [...new Set([...state.written, ...maybeCreated])] : state.written;
          const plan: VariableGroupSyncPlan = planVariableGroupSync(group?.variables ?? null, desired, owned, state.digests, {
            written,
            takeOver: target.takeOver ?? [],
          });
          if (plan.conflicts.length > 0) throw notWrittenByKeyway(target, plan.conflicts);
          let groupId = group?.id ?? null;
          if (plan.action !== 'none') {
            const body: VariableGroupParameters = {
              name: target.groupName,
              ...(target.description !== null
                ? { description: target.description }
                : group?.description !== undefined
                  ? { description: group.description }
                  : {}),
              type: 'Vsts',
              variables: plan.variables,
              variableGroupProjectReferences: projectReferences(group, project, target),
            };
            if (group) {
              await ado.updateVariableGroup(group.id, body);
            } else {
              maybeCreated = plan.created.map(nameKey);
              groupId = (await ado.addVariableGroup(body)).id;
            }
            result.writes++;
          }
          state = {
            ...state,
            projectId: project.id,
            groupId,
            owned: plan.owned,
            digests: plan.digests,
            groupOrigin: origin,
            written: plan.written,
          };
          await deps.store.saveState(state);
          Object.assign(result, {
            status: 'succeeded',
            created: plan.created.length,
            updated: plan.updated.length,
            deleted: plan.deleted.length,
            unchanged: plan.unchanged.length,
            groupId,
          });
          return finish();
        },
        {
          attempts,
          // The remembered project id is stale (the project was deleted or replaced): look it up again, at once.
          retryAtOnce: (err) => {
            if (!projectFromState || !(err instanceof AzureDevOpsError) || err.kind !== 'not-found') return false;
            project = undefined;
            projectFromState = false;
            return true;
          },
          retryable: (err) => err instanceof AzureDevOpsError && err.transient,
          backoff: { baseMs: attemptDelayMs, maxMs: Infinity, jitter: 'none' },
          onRetry: (err, attempt) =>
            deps.logger?.warn({ syncId, runId: payload.runId, attempt, err }, 'sync attempt failed; starting over from a fresh read'),
          sleep,
        },
      );
    } catch (err) {
      result.error = describeSyncFailure(err, target);
      if (!(err instanceof AzureDevOpsError) && !(err instanceof HandlerError)) {
        deps.logger?.error(
          { syncId, runId: payload.runId, err: { name: (err as Error)?.name, message: (err as Error)?.message } },
          'sync failed unexpectedly',
        );
      }
      return finish();
    }
  }

  return {
    async run(payload: SyncRunPayload): Promise<SyncRunResult> {
      const before = running.get(payload.syncId) ?? Promise.resolve();
      const mine = before.catch(() => undefined).then(() => execute(payload));
      running.set(payload.syncId, mine);
      try {
        return await mine;
      } finally {
        if (running.get(payload.syncId) === mine) running.delete(payload.syncId);
      }
    },
  };
}

export type SyncExecutor = ReturnType<typeof createSyncExecutor>;
