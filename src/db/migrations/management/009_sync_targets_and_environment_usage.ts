import { requiredWithDefault, addColumns, dropColumns } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Containment (issue 15).
// - app_connections.member_targets: the Azure DevOps targets project members may point a sync at
//   through this connection, JSON [{organization, project, groupPattern}]; null = none (creating or
//   retargeting a sync is then a project owner's action).
// - variable_syncs.adopt_existing: a project owner allowed the sync to write into a variable group
//   it did not create (for its current target only; retargeting clears it).
// - variable_syncs.take_over: lower-cased names of variables that existed in the group before
//   Keyway and that an owner allowed the sync to overwrite, JSON array.
// - environments.disk_bytes / last_used_at: what the runner last reported of the workspace.

export async function up(db: MigrationDb): Promise<void> {
  await addColumns(db, 'app_connections', { member_targets: 'text' });
  await addColumns(db, 'variable_syncs', {
    adopt_existing: ['integer', requiredWithDefault(0)],
    take_over: ['text', requiredWithDefault('[]')],
  });
  await addColumns(db, 'environments', { disk_bytes: 'integer', last_used_at: 'text' });
}

export async function down(db: MigrationDb): Promise<void> {
  await dropColumns(db, 'environments', ['last_used_at', 'disk_bytes']);
  await dropColumns(db, 'variable_syncs', ['take_over', 'adopt_existing']);
  await dropColumns(db, 'app_connections', ['member_targets']);
}
