import type { Kysely, Selectable } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';

export type SyncRow = Selectable<ManagementDB['variable_syncs']>;
export type SyncRunRow = Selectable<ManagementDB['sync_runs']>;

/**
 * Every query of variable group syncs (variable_syncs) and their runs (sync_runs), for the service
 * and the scheduler alike; they hold the rules. The conditional updates are what keeps several
 * management replicas from running a sync twice: each says whether it changed the row.
 */
export function createSyncStore(db: Kysely<ManagementDB>) {
  return {
    // ---- syncs ----
    get: (id: string) => db.selectFrom('variable_syncs').selectAll().where('id', '=', id).executeTakeFirst(),
    /** The sync when it belongs to the project. */
    getInProject: (projectId: string, id: string) =>
      db.selectFrom('variable_syncs').selectAll().where('id', '=', id).where('project_id', '=', projectId).executeTakeFirst(),
    listForProject: (projectId: string) =>
      db.selectFrom('variable_syncs').selectAll().where('project_id', '=', projectId).orderBy('name').execute(),
    /** Whether another sync of the project (than `exceptId`, when given) has this name. */
    async nameTaken(projectId: string, name: string, exceptId?: string): Promise<boolean> {
      let query = db.selectFrom('variable_syncs').select('id').where('project_id', '=', projectId).where('name', '=', name);
      if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
      return (await query.executeTakeFirst()) !== undefined;
    },
    /** The names of the syncs that use an app connection. */
    async namesUsingConnection(connectionId: string): Promise<string[]> {
      const rows = await db.selectFrom('variable_syncs').select('name').where('connection_id', '=', connectionId).execute();
      return rows.map((r) => r.name);
    },
    /** Whether the sync is the organization's and runs on this runner (through its connection). */
    async heldBy(organizationId: string, runnerId: string, id: string): Promise<boolean> {
      const row = await db
        .selectFrom('variable_syncs')
        .innerJoin('app_connections', 'app_connections.id', 'variable_syncs.connection_id')
        .select('variable_syncs.id')
        .where('variable_syncs.id', '=', id)
        .where('variable_syncs.organization_id', '=', organizationId)
        .where('app_connections.runner_id', '=', runnerId)
        .executeTakeFirst();
      return row !== undefined;
    },
    insert: (row: SyncRow) => db.insertInto('variable_syncs').values(row).execute(),
    update: (id: string, set: Partial<SyncRow>) => db.updateTable('variable_syncs').set(set).where('id', '=', id).execute(),
    /** Records the names and flags the runner stored, a new revision of the set. */
    setVariables: (id: string, variables: string, at: string) =>
      db
        .updateTable('variable_syncs')
        .set((eb) => ({ variables, variables_revision: eb('variables_revision', '+', 1), updated_at: at }))
        .where('id', '=', id)
        .execute(),
    delete: (id: string) => db.deleteFrom('variable_syncs').where('id', '=', id).execute(),

    // ---- scheduling: who runs a sync ----
    /** Enabled, scheduled syncs whose next run is due at `at`, soonest first (50 at most). */
    dueSchedules: (at: string) =>
      db
        .selectFrom('variable_syncs')
        .select(['id', 'next_run_at', 'schedule_minutes'])
        .where('enabled', '=', 1)
        .where('schedule_minutes', 'is not', null)
        .where('next_run_at', '<=', at)
        .orderBy('next_run_at')
        .limit(50)
        .execute(),
    /** Moves a due schedule on, if nobody moved it since `from` was read. */
    async moveSchedule(id: string, from: string | null, to: string): Promise<boolean> {
      const moved = await db
        .updateTable('variable_syncs')
        .set({ next_run_at: to })
        .where('id', '=', id)
        .where('next_run_at', '=', from)
        .executeTakeFirst();
      return Number(moved.numUpdatedRows) === 1;
    },
    /** Syncs held by a run since before `staleBefore` (its replica stopped), 50 at most. */
    listStale: (staleBefore: string) =>
      db
        .selectFrom('variable_syncs')
        .select('id')
        .where('running_run_id', 'is not', null)
        .where('running_since', '<', staleBefore)
        .limit(50)
        .execute(),
    /** Holds the sync for a run, when no run holds it or the one that does is stale. */
    async hold(id: string, runId: string, at: string, staleBefore: string): Promise<boolean> {
      const taken = await db
        .updateTable('variable_syncs')
        .set({ running_run_id: runId, running_since: at })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('running_run_id', 'is', null), eb('running_since', '<', staleBefore)]))
        .executeTakeFirst();
      return Number(taken.numUpdatedRows) === 1;
    },
    /** Lets the sync go, if this run still holds it (the run did not start). */
    release: (id: string, runId: string) =>
      db
        .updateTable('variable_syncs')
        .set({ running_run_id: null, running_since: null })
        .where('id', '=', id)
        .where('running_run_id', '=', runId)
        .execute(),
    /** Lets the sync go after its run finished, if that run still holds it: the run becomes its last. */
    releaseFinished: (id: string, runId: string) =>
      db
        .updateTable('variable_syncs')
        .set({ running_run_id: null, running_since: null, last_run_id: runId })
        .where('id', '=', id)
        .where('running_run_id', '=', runId)
        .execute(),

    // ---- runs ----
    getRun: (id: string) => db.selectFrom('sync_runs').selectAll().where('id', '=', id).executeTakeFirst(),
    /** The runs with these ids (no query for none). */
    async getRuns(ids: string[]): Promise<SyncRunRow[]> {
      return ids.length ? db.selectFrom('sync_runs').selectAll().where('id', 'in', ids).execute() : [];
    },
    /** A sync's runs, newest first. */
    listRuns: (syncId: string, limit: number) =>
      db
        .selectFrom('sync_runs')
        .selectAll()
        .where('sync_id', '=', syncId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute(),
    /** The sync's oldest queued run. */
    firstQueuedRun: (syncId: string) =>
      db
        .selectFrom('sync_runs')
        .select('id')
        .where('sync_id', '=', syncId)
        .where('status', '=', 'queued')
        .orderBy('created_at')
        .executeTakeFirst(),
    /** Queued runs of every sync, oldest first (50 at most). */
    listQueuedRuns: () => db.selectFrom('sync_runs').select('id').where('status', '=', 'queued').orderBy('created_at').limit(50).execute(),
    insertRun: (row: SyncRunRow) => db.insertInto('sync_runs').values(row).execute(),
    /** Moves a queued run to running; false when it was no longer queued. */
    async startRun(id: string, at: string): Promise<boolean> {
      const started = await db
        .updateTable('sync_runs')
        .set({ status: 'running', started_at: at })
        .where('id', '=', id)
        .where('status', '=', 'queued')
        .executeTakeFirst();
      return Number(started.numUpdatedRows) === 1;
    },
    /** Writes a run's outcome, if it is still running. */
    finishRun: (id: string, outcome: Partial<SyncRunRow>) =>
      db.updateTable('sync_runs').set(outcome).where('id', '=', id).where('status', '=', 'running').execute(),
  };
}

export type SyncStore = ReturnType<typeof createSyncStore>;
