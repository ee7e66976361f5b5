import { addColumns, dropColumns } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// `runners.purged_at`: when a revoked runner confirmed that it deleted every credential it held
// (null until then; its revoked token hash is kept only so that it can say so).
// `scm_integrations.draft`: a change whose Save & Test failed on a working integration, kept beside
// the configuration that keeps serving (JSON: the proposed settings, the sealed secret if one was
// entered, the failed test, what applying it would purge).

export async function up(db: MigrationDb): Promise<void> {
  await addColumns(db, 'runners', { purged_at: 'text' });
  await addColumns(db, 'scm_integrations', { draft: 'text' });
}

export async function down(db: MigrationDb): Promise<void> {
  await dropColumns(db, 'scm_integrations', ['draft']);
  await dropColumns(db, 'runners', ['purged_at']);
}
