import type { Kysely, Selectable } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';

export type AppConnectionRow = ManagementDB['app_connections'];
export type OAuthStateRow = Selectable<ManagementDB['app_connection_oauth_states']>;

/** Every query of app connections and their pending oauth consents; the service and the consent hold the rules. */
export function createAppConnectionStore(db: Kysely<ManagementDB>) {
  return {
    // ---- connections ----
    async idTaken(id: string): Promise<boolean> {
      return (await db.selectFrom('app_connections').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    },
    /** The connection when it belongs to the project. */
    getInProject: (projectId: string, id: string) =>
      db.selectFrom('app_connections').selectAll().where('id', '=', id).where('project_id', '=', projectId).executeTakeFirst(),
    /** Whether the connection is the organization's and held by this runner. */
    async heldBy(organizationId: string, runnerId: string, id: string): Promise<boolean> {
      const row = await db
        .selectFrom('app_connections')
        .select('id')
        .where('id', '=', id)
        .where('runner_id', '=', runnerId)
        .where('organization_id', '=', organizationId)
        .executeTakeFirst();
      return row !== undefined;
    },
    listForProject: (projectId: string) =>
      db.selectFrom('app_connections').selectAll().where('project_id', '=', projectId).orderBy('name').execute(),
    /** The methods of a runner's connections (one a connection). */
    async methodsForRunner(runnerId: string): Promise<string[]> {
      const rows = await db.selectFrom('app_connections').select('method').where('runner_id', '=', runnerId).execute();
      return rows.map((r) => r.method);
    },
    /** Whether another connection of the project (than `exceptId`, when given) has this name. */
    async nameTaken(projectId: string, name: string, exceptId?: string): Promise<boolean> {
      let query = db.selectFrom('app_connections').select('id').where('project_id', '=', projectId).where('name', '=', name);
      if (exceptId !== undefined) query = query.where('id', '!=', exceptId);
      return (await query.executeTakeFirst()) !== undefined;
    },
    insert: (row: AppConnectionRow) => db.insertInto('app_connections').values(row).execute(),
    update: (id: string, set: Partial<AppConnectionRow>) => db.updateTable('app_connections').set(set).where('id', '=', id).execute(),
    /** What the runner last described of a credential without secret (JSON ClientCredentialState). */
    setCredentialState: (id: string, state: string) =>
      db.updateTable('app_connections').set({ credential_state: state }).where('id', '=', id).execute(),
    delete: (id: string) => db.deleteFrom('app_connections').where('id', '=', id).execute(),

    // ---- oauth consent states ----
    insertOAuthState: (row: OAuthStateRow) => db.insertInto('app_connection_oauth_states').values(row).execute(),
    findOAuthState: (stateHash: string) =>
      db.selectFrom('app_connection_oauth_states').selectAll().where('state_hash', '=', stateHash).executeTakeFirst(),
    /** Deletes the state (single use): 1 when this call took it, 0 when it was already gone. */
    async consumeOAuthState(stateHash: string): Promise<number> {
      const result = await db.deleteFrom('app_connection_oauth_states').where('state_hash', '=', stateHash).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
    deleteExpiredOAuthStates: (now: string) => db.deleteFrom('app_connection_oauth_states').where('expires_at', '<', now).execute(),
  };
}

export type AppConnectionStore = ReturnType<typeof createAppConnectionStore>;
