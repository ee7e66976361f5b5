import type { Kysely } from 'kysely';

// `runners.purged_at`: when a revoked runner confirmed that it deleted every credential it held
// (null until then; its revoked token hash is kept only so that it can say so).
// `scm_integrations.draft`: a change whose Save & Test failed on a working integration, kept beside
// the configuration that keeps serving (JSON: the proposed settings, the sealed secret if one was
// entered, the failed test, what applying it would purge).

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('runners').addColumn('purged_at', 'text').execute();
  await db.schema.alterTable('scm_integrations').addColumn('draft', 'text').execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('scm_integrations').dropColumn('draft').execute();
  await db.schema.alterTable('runners').dropColumn('purged_at').execute();
}
