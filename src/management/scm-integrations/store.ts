// The scm_integrations table, and nothing else reads or writes it: the integration service, and the
// modules that look an integration up (OAuth sign-in, repository URLs, environments, runner events,
// sealed comparisons, clone defaults) come through here.
import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';

export type IntegrationRow = ManagementDB['scm_integrations'];

/** The columns an applied change rewrites; id, owner, creation and credential state stay. */
export type AppliedSettings = Pick<
  IntegrationRow,
  | 'scm_id'
  | 'host'
  | 'virtual_directory'
  | 'settings'
  | 'oauth_client_id'
  | 'oauth_client_secret_sealed'
  | 'oauth_issuer_url'
  | 'pat_enabled'
  | 'oauth_credential'
  | 'last_test'
  | 'updated_at'
>;

export function createScmIntegrationStore(db: Kysely<ManagementDB>) {
  return {
    async insert(row: IntegrationRow): Promise<void> {
      await db.insertInto('scm_integrations').values(row).execute();
    },

    async get(id: string): Promise<IntegrationRow | undefined> {
      return db.selectFrom('scm_integrations').selectAll().where('id', '=', id).executeTakeFirst();
    },

    /** One of a runner's integrations. */
    async getForRunner(runnerId: string, id: string): Promise<IntegrationRow | undefined> {
      return db.selectFrom('scm_integrations').selectAll().where('id', '=', id).where('runner_id', '=', runnerId).executeTakeFirst();
    },

    /** One of a runner's integrations, only if it is the organization's (a runner id alone proves nothing). */
    async getInOrganization(organizationId: string, runnerId: string, id: string): Promise<IntegrationRow | undefined> {
      return db
        .selectFrom('scm_integrations')
        .selectAll()
        .where('id', '=', id)
        .where('runner_id', '=', runnerId)
        .where('organization_id', '=', organizationId)
        .executeTakeFirst();
    },

    async exists(id: string): Promise<boolean> {
      return (await db.selectFrom('scm_integrations').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
    },

    /** Oldest first. */
    async listForRunner(runnerId: string): Promise<IntegrationRow[]> {
      return db.selectFrom('scm_integrations').selectAll().where('runner_id', '=', runnerId).orderBy('created_at').execute();
    },

    /** Oldest first; `runnerId` and `host` narrow it. */
    async listForOrganization(organizationId: string, filter: { runnerId?: string; host?: string } = {}): Promise<IntegrationRow[]> {
      let query = db.selectFrom('scm_integrations').selectAll().where('organization_id', '=', organizationId);
      if (filter.runnerId !== undefined) query = query.where('runner_id', '=', filter.runnerId);
      if (filter.host !== undefined) query = query.where('host', '=', filter.host);
      return query.orderBy('created_at').orderBy('id').execute();
    },

    /** The runners that hold an integration of the organization. */
    async runnerIds(organizationId: string): Promise<string[]> {
      const rows = await db
        .selectFrom('scm_integrations')
        .select('runner_id')
        .distinct()
        .where('organization_id', '=', organizationId)
        .execute();
      return rows.map((r) => r.runner_id);
    },

    /** Another of the runner's integrations at this host and virtual directory, if any. */
    async findAt(runnerId: string, host: string, virtualDirectory: string, except?: string): Promise<string | undefined> {
      let query = db
        .selectFrom('scm_integrations')
        .select('id')
        .where('runner_id', '=', runnerId)
        .where('host', '=', host)
        .where('virtual_directory', '=', virtualDirectory);
      if (except !== undefined) query = query.where('id', '!=', except);
      return (await query.executeTakeFirst())?.id;
    },

    /** Which runner each integration belongs to (ids no longer stored are left out). */
    async owners(ids: readonly string[]): Promise<{ id: string; runner_id: string }[]> {
      if (ids.length === 0) return [];
      return db
        .selectFrom('scm_integrations')
        .select(['id', 'runner_id'])
        .where('id', 'in', [...ids])
        .execute();
    },

    async applySettings(id: string, settings: AppliedSettings): Promise<void> {
      await db
        .updateTable('scm_integrations')
        .set({ ...settings, draft: null })
        .where('id', '=', id)
        .execute();
    },

    async setLastTest(id: string, lastTest: string): Promise<void> {
      await db.updateTable('scm_integrations').set({ last_test: lastTest }).where('id', '=', id).execute();
    },

    async setCredentialState(id: string, credentialState: string): Promise<void> {
      await db.updateTable('scm_integrations').set({ credential_state: credentialState }).where('id', '=', id).execute();
    },

    async setTestAndCredentialState(id: string, lastTest: string, credentialState: string | null | undefined): Promise<void> {
      await db
        .updateTable('scm_integrations')
        .set({ last_test: lastTest, ...(credentialState ? { credential_state: credentialState } : {}) })
        .where('id', '=', id)
        .execute();
    },

    async setDraft(id: string, draft: string | null): Promise<void> {
      await db.updateTable('scm_integrations').set({ draft }).where('id', '=', id).execute();
    },

    async remove(id: string): Promise<void> {
      await db.deleteFrom('scm_integrations').where('id', '=', id).execute();
    },

    /** Deletes a revoked runner's integrations and the sign-ins in progress through them; what was deleted. */
    async removeForRunner(runnerId: string): Promise<{ integrations: number; sealedSecrets: number }> {
      const rows = await db
        .selectFrom('scm_integrations')
        .select(['id', 'oauth_client_secret_sealed'])
        .where('runner_id', '=', runnerId)
        .execute();
      if (rows.length === 0) return { integrations: 0, sealedSecrets: 0 };
      await db.deleteFrom('oauth_states').where('runner_id', '=', runnerId).execute();
      await db.deleteFrom('scm_integrations').where('runner_id', '=', runnerId).execute();
      return { integrations: rows.length, sealedSecrets: rows.filter((r) => r.oauth_client_secret_sealed !== null).length };
    },

    /** The app credentials of the runner's integrations that use OAuth. */
    async oauthCredentials(runnerId: string) {
      return db
        .selectFrom('scm_integrations')
        .select('oauth_credential')
        .where('runner_id', '=', runnerId)
        .where('oauth_client_id', 'is not', null)
        .execute();
    },

    /** Forgets every secret sealed to the runner's key; how many integrations had one. */
    async clearSealedSecrets(runnerId: string, updatedAt: string): Promise<number> {
      const result = await db
        .updateTable('scm_integrations')
        .set({ oauth_client_secret_sealed: null, updated_at: updatedAt })
        .where('runner_id', '=', runnerId)
        .where('oauth_client_secret_sealed', 'is not', null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    },

    /** The runner's integrations that were tested. */
    async tested(runnerId: string) {
      return db
        .selectFrom('scm_integrations')
        .select(['id', 'last_test', 'oauth_client_id', 'oauth_credential'])
        .where('runner_id', '=', runnerId)
        .where('last_test', 'is not', null)
        .execute();
    },
  };
}

export type ScmIntegrationStore = ReturnType<typeof createScmIntegrationStore>;
