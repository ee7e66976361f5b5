import type { Kysely } from 'kysely';
import type { RunnerDB } from '../../db/runner-schema.ts';
import type { EnvironmentRepository } from '../../control/environments.ts';

export type RunnerEnvironmentStatus = 'cloning' | 'ready' | 'failed';

export interface RunnerEnvironment {
  id: string;
  userId: string;
  integrationId: string;
  repository: EnvironmentRepository;
  remoteUrl: string;
  secretHash: string;
  /** `{dataDir}/workspaces/{id}`. */
  workspace: string;
  /** `{hostname}:{dataDir}` of the runner process whose disk holds the workspace. */
  instance: string;
  status: RunnerEnvironmentStatus;
  createdAt: string;
  /** The Unix user its git runs as (isolated workspaces); null: the runner's own. */
  uid: number | null;
  /** When its git last asked for a credential; null: never since the clone. */
  lastUsedAt?: string | null;
}

const toEnvironment = (row: RunnerDB['environments']): RunnerEnvironment => ({
  id: row.id,
  userId: row.user_id,
  integrationId: row.integration_id,
  repository: JSON.parse(row.repository) as EnvironmentRepository,
  remoteUrl: row.remote_url,
  secretHash: row.secret_hash,
  workspace: row.workspace,
  instance: row.instance,
  status: row.status as RunnerEnvironmentStatus,
  createdAt: row.created_at,
  uid: row.uid,
  lastUsedAt: row.last_used_at,
});

/** The runner's environment rows. Holds the helper secret's digest only. */
export function createEnvironmentStore(db: Kysely<RunnerDB>) {
  return {
    /** `instance` defaults to '' (a row no process reconciles at start-up: fixtures, benchmarks). */
    async insert(env: Omit<RunnerEnvironment, 'instance' | 'uid'> & { instance?: string; uid?: number | null }): Promise<void> {
      await db
        .insertInto('environments')
        .values({
          id: env.id,
          user_id: env.userId,
          integration_id: env.integrationId,
          repository: JSON.stringify(env.repository),
          remote_url: env.remoteUrl,
          secret_hash: env.secretHash,
          workspace: env.workspace,
          instance: env.instance ?? '',
          status: env.status,
          created_at: env.createdAt,
          last_used_at: env.lastUsedAt ?? null,
          uid: env.uid ?? null,
        })
        .execute();
    },

    async get(id: string): Promise<RunnerEnvironment | undefined> {
      const row = await db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
      return row && toEnvironment(row);
    },

    async findBySecretHash(secretHash: string): Promise<RunnerEnvironment | undefined> {
      const row = await db.selectFrom('environments').selectAll().where('secret_hash', '=', secretHash).executeTakeFirst();
      return row && toEnvironment(row);
    },

    async listByStatus(instance: string, status: RunnerEnvironmentStatus): Promise<RunnerEnvironment[]> {
      const rows = await db.selectFrom('environments').selectAll().where('instance', '=', instance).where('status', '=', status).execute();
      return rows.map(toEnvironment);
    },

    /** Every environment of a runner process, whatever its status (maintenance). */
    async listForInstance(instance: string): Promise<RunnerEnvironment[]> {
      const rows = await db.selectFrom('environments').selectAll().where('instance', '=', instance).execute();
      return rows.map(toEnvironment);
    },

    /** Environments that hold a workspace or are getting one (the runner's limit counts these). */
    async countActive(instance: string): Promise<number> {
      const row = await db
        .selectFrom('environments')
        .select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('instance', '=', instance)
        .where('status', '!=', 'failed')
        .executeTakeFirst();
      return Number(row?.n ?? 0);
    },

    async usedUids(instance: string): Promise<number[]> {
      const rows = await db
        .selectFrom('environments')
        .select('uid')
        .where('instance', '=', instance)
        .where('uid', 'is not', null)
        .execute();
      return rows.map((r) => r.uid).filter((u): u is number => u !== null);
    },

    async touch(id: string, at: string): Promise<void> {
      await db.updateTable('environments').set({ last_used_at: at }).where('id', '=', id).execute();
    },

    async setStatus(id: string, status: RunnerEnvironmentStatus): Promise<void> {
      await db.updateTable('environments').set({ status }).where('id', '=', id).execute();
    },

    async delete(id: string): Promise<boolean> {
      const result = await db.deleteFrom('environments').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    },
  };
}

export type EnvironmentStore = ReturnType<typeof createEnvironmentStore>;
