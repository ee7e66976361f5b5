import type { Kysely, Selectable } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import type { CloneReport } from '../../control/environments.ts';

export type EnvironmentRow = Selectable<ManagementDB['environments']>;

export function createEnvironmentStore(db: Kysely<ManagementDB>, now: () => Date = () => new Date()) {
  return {
    async insert(row: EnvironmentRow): Promise<void> {
      await db.insertInto('environments').values(row).execute();
    },

    async get(id: string): Promise<EnvironmentRow | undefined> {
      return db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
    },

    async listForUser(organizationId: string, userId: string): Promise<EnvironmentRow[]> {
      return db.selectFrom('environments').selectAll().where('organization_id', '=', organizationId).where('user_id', '=', userId).orderBy('created_at', 'desc').execute();
    },

    async setWorkspacePath(id: string, workspacePath: string): Promise<void> {
      await db.updateTable('environments').set({ workspace_path: workspacePath }).where('id', '=', id).execute();
    },

    async setStatus(id: string, status: EnvironmentRow['status']): Promise<void> {
      await db.updateTable('environments').set({ status, updated_at: now().toISOString() }).where('id', '=', id).execute();
    },

    /**
     * Applies a runner's report to an environment still cloning. A report never revives an
     * environment being deleted, nor moves one that is ready or failed. False when nothing changed.
     */
    async applyReport(id: string, runnerId: string, report: CloneReport): Promise<boolean> {
      const result = await db
        .updateTable('environments')
        .set({
          status: report.status,
          updated_at: now().toISOString(),
          ...(report.progress ? { progress: JSON.stringify(report.progress) } : {}),
          ...(report.error ? { error: JSON.stringify(report.error) } : {}),
          ...(report.checkout ? { checkout: JSON.stringify(report.checkout) } : {}),
        })
        .where('id', '=', id)
        .where('runner_id', '=', runnerId)
        .where('status', '=', 'cloning')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async delete(id: string): Promise<void> {
      await db.deleteFrom('environments').where('id', '=', id).execute();
    },

    /** The runner confirmed a deletion: the row goes if it was being deleted. */
    async deleteConfirmed(id: string, runnerId: string): Promise<void> {
      await db.deleteFrom('environments').where('id', '=', id).where('runner_id', '=', runnerId).where('status', '=', 'deleting').execute();
    },
  };
}

export type EnvironmentStore = ReturnType<typeof createEnvironmentStore>;
