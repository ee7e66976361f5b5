import type { Kysely, Selectable } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import type { CloneReport, EnvironmentUsage } from '../../control/environments.ts';

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
      return db
        .selectFrom('environments')
        .selectAll()
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .orderBy('created_at', 'desc')
        .execute();
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
          ...(report.usage ? { disk_bytes: report.usage.diskBytes, last_used_at: report.usage.lastUsedAt } : {}),
        })
        .where('id', '=', id)
        .where('runner_id', '=', runnerId)
        .where('status', '=', 'cloning')
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    /** The runner measured the workspace (ready environments only). */
    async applyUsage(id: string, runnerId: string, usage: EnvironmentUsage): Promise<void> {
      await db
        .updateTable('environments')
        .set({ disk_bytes: usage.diskBytes, last_used_at: usage.lastUsedAt })
        .where('id', '=', id)
        .where('runner_id', '=', runnerId)
        .where('status', '=', 'ready')
        .execute();
    },

    /** The runner removed the environment by itself (idle): it stays listed, failed, with the reason. */
    async applyRemoved(id: string, runnerId: string, error: { code: string; message: string }): Promise<void> {
      await db
        .updateTable('environments')
        .set({ status: 'failed', error: JSON.stringify(error), workspace_path: null, disk_bytes: null, updated_at: now().toISOString() })
        .where('id', '=', id)
        .where('runner_id', '=', runnerId)
        .where('status', 'in', ['cloning', 'ready'])
        .execute();
    },

    /** A user's environments that hold (or are getting) a workspace, and those of them still cloning. */
    async countForUser(organizationId: string, userId: string): Promise<{ active: number; cloning: number }> {
      const rows = await db
        .selectFrom('environments')
        .select(['status', (eb) => eb.fn.countAll<number | string>().as('n')])
        .where('organization_id', '=', organizationId)
        .where('user_id', '=', userId)
        .where('status', '!=', 'failed')
        .groupBy('status')
        .execute();
      const count = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
      return { active: rows.reduce((sum, r) => sum + Number(r.n), 0), cloning: count('cloning') };
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
