import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { ApiError, badRequest, conflict, notFound } from '../../http/errors.ts';
import { isSealed, seal } from '../../crypto/sealing.ts';
import { SYNC_REQUESTS } from '../../control/app-connections.ts';
import { sealingContext } from '../../control/sealing-context.ts';
import type { DeclaredVariable, StoreVariablesPayload } from '../../control/app-connections.ts';
import { newId } from '../identity/tokens.ts';
import type { UserPrincipal } from '../identity/principal.ts';
import type { ControlChannel } from '../runners/control.ts';
import type { RunnerService } from '../runners/service.ts';
import type { ProjectService } from '../projects/service.ts';
import type { AppConnectionService } from '../app-connections/service.ts';
import type { SyncScheduler } from './scheduler.ts';
import type { ProjectAccessRole } from '../projects/service.ts';
import { allowsTarget, describeTargets, parseMemberTargets, sameTarget } from './targets.ts';
import type { SyncTargetName } from './targets.ts';
import { createSyncStore } from './store.ts';
import type { SyncRow, SyncRunRow as RunRow } from './store.ts';

export interface VariableInput {
  name: string;
  isSecret?: boolean;
  /** Plaintext; sealed for the runner at once. Absent when the request carries `sealedValues`. */
  value?: string;
}

export interface SyncInput {
  name: string;
  connectionId: string;
  organization?: string;
  project: string;
  groupName: string;
  description?: string | null;
  scheduleMinutes?: number | null;
  enabled?: boolean;
  variables?: VariableInput[];
  sealedValues?: string;
  /** Owners only: write into an existing group this sync did not create. */
  adoptExisting?: boolean;
  /** Owners only: names of variables Keyway did not write that the sync may overwrite. */
  takeOver?: string[];
}

export type SyncPatch = Partial<Omit<SyncInput, 'variables' | 'sealedValues'>>;

/** A sync's target and the owner's consents, as the audit log records it before and after a change. */
export interface SyncTargetRecord extends SyncTargetName {
  connectionId: string;
  adoptExisting: boolean;
  takeOver: string[];
}

type ConnectionRow = ManagementDB['app_connections'];

// Azure DevOps variable names: letters, digits, '.', '_' and '-' (spaces and other characters break
// the $(name) macro syntax pipelines use).
const VARIABLE_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const ADO_ORGANIZATION = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,48}[A-Za-z0-9])?$/;
const NAME = /^[\w .()-]{1,64}$/;
export const MAX_VARIABLES = 5000;
const MAX_VALUE_LENGTH = 64 * 1024;

export interface SyncServiceDeps {
  db: Kysely<ManagementDB>;
  control: Pick<ControlChannel, 'call' | 'enqueue'>;
  runners: Pick<RunnerService, 'get'>;
  projects: Pick<ProjectService, 'require'>;
  connections: Pick<AppConnectionService, 'forProject'>;
  scheduler: Pick<SyncScheduler, 'trigger' | 'enqueue' | 'runAndWait' | 'dispatch'>;
  storeTimeoutMs?: number;
  now?: () => Date;
}

export function runView(row: RunRow) {
  return {
    id: row.id,
    syncId: row.sync_id,
    trigger: row.trigger,
    status: row.status,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    durationMs: row.duration_ms,
    counts:
      row.created_count === null
        ? null
        : {
            created: row.created_count,
            updated: row.updated_count ?? 0,
            deleted: row.deleted_count ?? 0,
            unchanged: row.unchanged_count ?? 0,
          },
    writes: row.writes,
    requests: row.requests,
    retries: row.retries,
    groupId: row.group_id,
    error: row.error,
  };
}

/**
 * Variable group syncs: a project's variable set kept in one Azure DevOps variable group through an
 * app connection. The management plane keeps names and secret flags; the values go sealed to the
 * connection's runner, which alone stores them (encrypted) and writes them to Azure DevOps.
 */
export function createSyncService(deps: SyncServiceDeps) {
  const store = createSyncStore(deps.db);
  const now = deps.now ?? (() => new Date());
  const storeTimeoutMs = deps.storeTimeoutMs ?? 30_000;

  async function view(row: SyncRow, lastRun?: RunRow) {
    const last = lastRun ?? (row.last_run_id ? await store.getRun(row.last_run_id) : undefined);
    const variables = JSON.parse(row.variables) as DeclaredVariable[];
    return {
      id: row.id,
      projectId: row.project_id,
      connectionId: row.connection_id,
      name: row.name,
      organization: row.ado_organization,
      project: row.ado_project,
      groupName: row.group_name,
      description: row.description,
      variables,
      variableCount: variables.length,
      adoptExisting: row.adopt_existing === 1,
      takeOver: JSON.parse(row.take_over) as string[],
      enabled: row.enabled === 1,
      scheduleMinutes: row.schedule_minutes,
      nextRunAt: row.next_run_at,
      running: row.running_run_id !== null,
      lastRun: last ? runView(last) : null,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  async function getRow(projectId: string, id: string): Promise<SyncRow> {
    const row = await store.getInProject(projectId, id);
    if (!row) throw notFound('sync');
    return row;
  }

  function checkTarget(input: { organization?: string | null; project?: string; groupName?: string }) {
    if (input.organization !== undefined && input.organization !== null && !ADO_ORGANIZATION.test(input.organization)) {
      throw badRequest('invalid_organization', 'organization must be the name in dev.azure.com/{organization}', 'organization');
    }
    if (input.project !== undefined && !input.project.trim())
      throw badRequest('invalid_project', 'project is the Azure DevOps project name or id', 'project');
    if (input.groupName !== undefined) {
      const g = input.groupName.trim();
      if (!g || g.includes('*') || g.length > 200)
        throw badRequest('invalid_group_name', 'groupName: 1–200 characters, without *', 'groupName');
    }
  }

  function checkSchedule(minutes: number | null | undefined) {
    if (minutes === undefined || minutes === null) return;
    if (!Number.isInteger(minutes) || minutes < 5 || minutes > 7 * 24 * 60)
      throw badRequest(
        'invalid_schedule',
        'scheduleMinutes: a whole number of minutes from 5 to 10080 (a week), or null for no schedule',
        'scheduleMinutes',
      );
  }

  function checkTakeOver(names: readonly string[] | undefined): string[] {
    if (names === undefined) return [];
    if (names.length > MAX_VARIABLES)
      throw badRequest('too_many_variables', `takeOver names at most ${MAX_VARIABLES} variables`, 'takeOver');
    const seen = new Set<string>();
    return names.flatMap((name, i) => {
      if (!VARIABLE_NAME.test(name))
        throw badRequest(
          'invalid_variable_name',
          `takeOver[${i}] is not a valid variable name: use 1–128 letters, digits, '.', '_' or '-'`,
          `takeOver.${i}`,
        );
      if (seen.has(name.toLowerCase())) return [];
      seen.add(name.toLowerCase());
      return [name];
    });
  }

  /**
   * Creating or retargeting a sync points the connection's write access at a variable group, so it
   * is a project owner's action, or a member's inside the targets the connection pins for members.
   * Adopting a group Keyway did not create, or taking over its variables, is always an owner's.
   */
  function authorizeTarget(
    role: ProjectAccessRole,
    connection: ConnectionRow,
    target: SyncTargetName,
    consent: { adoptExisting: boolean; takeOver: string[] },
  ) {
    if (role !== 'member') return;
    if (consent.adoptExisting || consent.takeOver.length > 0) {
      throw new ApiError(
        403,
        'owner_required',
        'only project owners (and organization admins) may let a sync adopt an existing variable group or take over variables Keyway did not write; ask an owner of the project',
        consent.adoptExisting ? 'adoptExisting' : 'takeOver',
      );
    }
    const pins = parseMemberTargets(connection.member_targets);
    if (!pins || pins.length === 0) {
      throw new ApiError(
        403,
        'owner_required',
        `only project owners (and organization admins) may create or retarget a sync on connection "${connection.name}": it allows project members no targets. Ask an owner of the project to do it, or to allow member targets on the connection`,
        'connectionId',
      );
    }
    if (!allowsTarget(pins, target)) {
      throw new ApiError(
        403,
        'target_not_allowed',
        `connection "${connection.name}" lets project members target only ${describeTargets(pins)} (organization/project/group); ${target.organization}/${target.project}/${target.groupName} is not among them. Pick one of those, or ask an owner of the project`,
        'groupName',
      );
    }
  }

  const record = (
    row: Pick<SyncRow, 'connection_id' | 'ado_organization' | 'ado_project' | 'group_name' | 'adopt_existing' | 'take_over'>,
  ): SyncTargetRecord => ({
    connectionId: row.connection_id,
    organization: row.ado_organization,
    project: row.ado_project,
    groupName: row.group_name,
    adoptExisting: row.adopt_existing === 1,
    takeOver: JSON.parse(row.take_over) as string[],
  });

  /** Names and flags of a request, checked; values sealed into one object for the runner. */
  async function sealVariables(
    runnerPublicKey: string | null,
    fingerprint: string | null,
    syncId: string,
    variables: VariableInput[],
    sealedValues: string | undefined,
    field: string,
  ) {
    if (variables.length > MAX_VARIABLES) throw badRequest('too_many_variables', `a sync holds at most ${MAX_VARIABLES} variables`, field);
    const seen = new Set<string>();
    const declared: DeclaredVariable[] = [];
    const values: Record<string, string> = {};
    variables.forEach((v, i) => {
      if (!VARIABLE_NAME.test(v.name))
        throw badRequest(
          'invalid_variable_name',
          `${field}[${i}].name "${v.name.slice(0, 60)}" is not a valid variable name: use 1–128 letters, digits, '.', '_' or '-'`,
          `${field}.${i}.name`,
        );
      const key = v.name.toLowerCase();
      if (seen.has(key))
        throw badRequest(
          'duplicate_variable',
          `variable "${v.name}" appears twice (names are case-insensitive in Azure DevOps)`,
          `${field}.${i}.name`,
        );
      seen.add(key);
      declared.push({ name: v.name, isSecret: v.isSecret === true });
      if (sealedValues !== undefined) {
        if (v.value !== undefined)
          throw badRequest(
            'ambiguous_values',
            'send values either in the variables or sealed in sealedValues, not both',
            `${field}.${i}.value`,
          );
      } else {
        if (typeof v.value !== 'string')
          throw badRequest('missing_value', `${field}[${i}] ("${v.name}") needs a value`, `${field}.${i}.value`);
        if (v.value.length > MAX_VALUE_LENGTH)
          throw badRequest(
            'value_too_long',
            `the value of "${v.name}" is longer than ${MAX_VALUE_LENGTH} characters`,
            `${field}.${i}.value`,
          );
        values[v.name] = v.value;
      }
    });
    if (sealedValues !== undefined) {
      if (!isSealed(sealedValues))
        throw badRequest('invalid_sealed_values', 'sealedValues is not a sealed value (hpke1.…)', 'sealedValues');
      if (!fingerprint || sealedValues.split('.')[1] !== fingerprint)
        throw badRequest(
          'sealed_for_another_key',
          "sealedValues was sealed to another key than the runner's current one; reload and enter the values again",
          'sealedValues',
        );
      return { declared, sealed: sealedValues };
    }
    if (!runnerPublicKey)
      throw conflict(
        'runner_not_registered',
        'the runner has not registered its key yet, so the values cannot be sealed for it; start the runner first',
      );
    // Sealed at once; the plaintext values go no further than this function.
    return { declared, sealed: await seal(runnerPublicKey, JSON.stringify(values), sealingContext.syncVariables(syncId)) };
  }

  async function runnerOf(organizationId: string, connectionRunnerId: string) {
    const runner = await deps.runners.get(organizationId, connectionRunnerId);
    if (runner.revoked_at) throw conflict('runner_revoked', "the connection's runner was revoked; move the connection to another runner");
    return runner;
  }

  /** Sends the (sealed) change to the runner, then records the resulting names and flags. */
  async function storeVariables(
    row: SyncRow,
    organizationId: string,
    change: { mode: 'replace' | 'merge'; variables: VariableInput[]; remove?: string[]; sealedValues?: string },
  ) {
    const connection = await deps.connections.forProject(row.project_id, row.connection_id);
    const runner = await runnerOf(organizationId, connection.runner_id);
    const field = change.mode === 'replace' ? 'variables' : 'set';
    const { declared, sealed } = await sealVariables(
      runner.public_key,
      runner.public_key_fingerprint,
      row.id,
      change.variables,
      change.sealedValues,
      field,
    );
    for (const [i, name] of (change.remove ?? []).entries())
      if (!VARIABLE_NAME.test(name)) throw badRequest('invalid_variable_name', `remove[${i}] is not a valid variable name`, `remove.${i}`);
    const payload: StoreVariablesPayload = {
      syncId: row.id,
      mode: change.mode,
      variables: declared,
      ...(change.remove ? { remove: change.remove } : {}),
      sealedValues: sealed,
    };
    const stored = await deps.control.call(runner.id, SYNC_REQUESTS.storeVariables, payload, {
      timeoutMs: storeTimeoutMs,
    });
    if (stored.variables.length > MAX_VARIABLES)
      throw badRequest('too_many_variables', `a sync holds at most ${MAX_VARIABLES} variables`, field);
    const at = now().toISOString();
    await store.setVariables(row.id, JSON.stringify(stored.variables), at);
    return stored.variables;
  }

  return {
    view,

    async list(user: UserPrincipal, projectId: string) {
      await deps.projects.require(user, projectId);
      const rows = await store.listForProject(projectId);
      const lastIds = rows.map((r) => r.last_run_id).filter((id): id is string => id !== null);
      const runs = await store.getRuns(lastIds);
      const byId = new Map(runs.map((r) => [r.id, r]));
      return Promise.all(rows.map((r) => view(r, r.last_run_id ? byId.get(r.last_run_id) : undefined)));
    },

    async get(user: UserPrincipal, projectId: string, id: string) {
      await deps.projects.require(user, projectId);
      return view(await getRow(projectId, id));
    },

    async create(user: UserPrincipal, projectId: string, input: SyncInput) {
      const { project, role } = await deps.projects.require(user, projectId);
      const name = input.name.trim();
      if (!NAME.test(name))
        throw badRequest('invalid_name', 'name: 1–64 letters, digits, spaces, dots, dashes, underscores or parentheses', 'name');
      if (await store.nameTaken(projectId, name)) throw conflict('name_taken', `this project already has a sync named "${name}"`, 'name');
      const connection = await deps.connections.forProject(projectId, input.connectionId);
      const organization = (input.organization ?? connection.ado_organization ?? '').trim();
      if (!organization) throw badRequest('organization_required', 'organization is required: the connection names none', 'organization');
      checkTarget({ organization, project: input.project, groupName: input.groupName });
      checkSchedule(input.scheduleMinutes);
      const takeOver = checkTakeOver(input.takeOver);
      authorizeTarget(
        role,
        connection,
        { organization, project: input.project.trim(), groupName: input.groupName.trim() },
        { adoptExisting: input.adoptExisting === true, takeOver },
      );
      await runnerOf(user.organizationId, connection.runner_id);
      const at = now().toISOString();
      const row: SyncRow = {
        id: newId('sync'),
        organization_id: project.organization_id,
        project_id: projectId,
        connection_id: connection.id,
        name,
        ado_organization: organization,
        ado_project: input.project.trim(),
        group_name: input.groupName.trim(),
        description: input.description ?? null,
        variables: '[]',
        variables_revision: 0,
        enabled: input.enabled === false ? 0 : 1,
        schedule_minutes: input.scheduleMinutes ?? null,
        next_run_at: input.scheduleMinutes ? new Date(now().getTime() + input.scheduleMinutes * 60_000).toISOString() : null,
        running_run_id: null,
        running_since: null,
        last_run_id: null,
        created_by: user.userId,
        created_at: at,
        updated_at: at,
        adopt_existing: input.adoptExisting === true ? 1 : 0,
        take_over: JSON.stringify(takeOver),
      };
      await store.insert(row);
      let runId: string | undefined;
      if (input.variables !== undefined) {
        try {
          await storeVariables(row, user.organizationId, { mode: 'replace', variables: input.variables, sealedValues: input.sealedValues });
        } catch (err) {
          // A sync whose variables could not be stored is not created at all.
          await store.delete(row.id);
          throw err;
        }
        if (row.enabled === 1) runId = await deps.scheduler.trigger(row.id, 'change', user.userId);
      }
      return { sync: await view(await getRow(projectId, row.id)), ...(runId ? { runId } : {}) };
    },

    /** Returns the sync and, for the audit log, its target before the change. */
    async update(user: UserPrincipal, projectId: string, id: string, patch: SyncPatch) {
      const { role } = await deps.projects.require(user, projectId);
      const row = await getRow(projectId, id);
      const before = record(row);
      const set: Partial<SyncRow> = {};
      if (patch.name !== undefined) {
        const name = patch.name.trim();
        if (!NAME.test(name))
          throw badRequest('invalid_name', 'name: 1–64 letters, digits, spaces, dots, dashes, underscores or parentheses', 'name');
        if (await store.nameTaken(projectId, name, id))
          throw conflict('name_taken', `this project already has a sync named "${name}"`, 'name');
        set.name = name;
      }
      let connection = await deps.connections.forProject(projectId, row.connection_id);
      if (patch.connectionId !== undefined && patch.connectionId !== row.connection_id) {
        const next = await deps.connections.forProject(projectId, patch.connectionId);
        // The values live on the current connection's runner; another runner would have none.
        if (next.runner_id !== connection.runner_id)
          throw badRequest(
            'other_runner',
            "the new connection is held by another runner, which does not have this sync's values: create a new sync for it",
            'connectionId',
          );
        set.connection_id = next.id;
        connection = next;
      }
      checkTarget({ organization: patch.organization ?? undefined, project: patch.project, groupName: patch.groupName });
      if (patch.organization !== undefined) set.ado_organization = (patch.organization ?? '').trim() || row.ado_organization;
      if (patch.project !== undefined) set.ado_project = patch.project.trim();
      if (patch.groupName !== undefined) set.group_name = patch.groupName.trim();
      const target = {
        organization: set.ado_organization ?? row.ado_organization,
        project: set.ado_project ?? row.ado_project,
        groupName: set.group_name ?? row.group_name,
      };
      const retargeted = set.connection_id !== undefined || !sameTarget(target, before);
      // An owner's consent is for one group: a new target starts without it, unless given again.
      const takeOver = patch.takeOver !== undefined ? checkTakeOver(patch.takeOver) : retargeted ? [] : before.takeOver;
      const adoptExisting = patch.adoptExisting ?? (retargeted ? false : before.adoptExisting);
      const grants = {
        adoptExisting: adoptExisting && (retargeted || !before.adoptExisting),
        takeOver: takeOver.filter((n) => retargeted || !before.takeOver.some((b) => b.toLowerCase() === n.toLowerCase())),
      };
      if (retargeted || grants.adoptExisting || grants.takeOver.length > 0) authorizeTarget(role, connection, target, grants);
      set.adopt_existing = adoptExisting ? 1 : 0;
      set.take_over = JSON.stringify(takeOver);
      if (patch.description !== undefined) set.description = patch.description;
      if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
      if (patch.scheduleMinutes !== undefined) {
        checkSchedule(patch.scheduleMinutes);
        set.schedule_minutes = patch.scheduleMinutes;
        set.next_run_at = patch.scheduleMinutes ? new Date(now().getTime() + patch.scheduleMinutes * 60_000).toISOString() : null;
      }
      set.updated_at = now().toISOString();
      await store.update(id, set);
      const after = await getRow(projectId, id);
      return { sync: await view(after), before, after: record(after) };
    },

    /** The sync's target as the audit log records it (routes record refusals with it). */
    /**
     * The sync's target as the caller may see it, for the record of a refused change: nothing when
     * the project is not the caller's to see (another organization's sync stays out of their log).
     */
    async visibleTarget(user: UserPrincipal, projectId: string, id: string): Promise<SyncTargetRecord | undefined> {
      const visible = await deps.projects.require(user, projectId).then(
        () => true,
        () => false,
      );
      const row = visible ? await store.getInProject(projectId, id) : undefined;
      return row && record(row);
    },

    async remove(user: UserPrincipal, projectId: string, id: string): Promise<SyncTargetRecord> {
      await deps.projects.require(user, projectId);
      const row = await getRow(projectId, id);
      const connection = await deps.connections.forProject(projectId, row.connection_id);
      await store.delete(id);
      // The runner forgets the values and state; the Azure DevOps group stays as it is.
      await deps.control.enqueue(connection.runner_id, SYNC_REQUESTS.delete, { syncId: id });
      return record(row);
    },

    /** Replaces the whole set (PUT) or changes part of it (PATCH); a run follows when the sync is enabled. */
    async setVariables(
      user: UserPrincipal,
      projectId: string,
      id: string,
      change: { mode: 'replace' | 'merge'; variables: VariableInput[]; remove?: string[]; sealedValues?: string },
    ) {
      await deps.projects.require(user, projectId);
      const row = await getRow(projectId, id);
      const variables = await storeVariables(row, user.organizationId, change);
      const runId = row.enabled === 1 ? await deps.scheduler.trigger(row.id, 'change', user.userId) : undefined;
      return { variables, ...(runId ? { runId } : {}) };
    },

    async run(user: UserPrincipal, projectId: string, id: string, waitMs: number) {
      await deps.projects.require(user, projectId);
      const row = await getRow(projectId, id);
      const { id: runId } = await deps.scheduler.enqueue(row.id, 'manual', user.userId);
      let run: RunRow | undefined;
      if (waitMs > 0) run = await deps.scheduler.runAndWait(runId, waitMs);
      else deps.scheduler.dispatch(runId);
      const found = run ?? (await store.getRun(runId));
      if (!found) throw new ApiError(500, 'internal', 'the run disappeared');
      return runView(found);
    },

    async runs(user: UserPrincipal, projectId: string, id: string, limit: number) {
      await deps.projects.require(user, projectId);
      await getRow(projectId, id);
      const rows = await store.listRuns(id, limit);
      return rows.map(runView);
    },
  };
}

export type SyncService = ReturnType<typeof createSyncService>;
