import { sql } from 'kysely';
import { requiredWithDefault, addColumns, dropColumns } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// Containment (issue 15).
// - sync_states.group_origin: 'created' (this sync created the group) or 'adopted' (a project owner
//   let it write into an existing group); null for states written before this column, whose group
//   the sync was already writing into.
// - sync_states.written: lower-cased names of the variables Keyway wrote into the group (created, or
//   taken over with an owner's consent). Any other variable is left exactly as it is. Starts as the
//   names the sync created.
// - environments.last_used_at: the last credential request of the environment's git (idle removal).
// - environments.uid: the Unix user the environment's git runs as, when workspaces are isolated.

export async function up(db: MigrationDb): Promise<void> {
  await addColumns(db, 'sync_states', {
    group_origin: 'text',
    written: ['text', requiredWithDefault('[]')],
  });
  await sql`update sync_states set written = owned`.execute(db);
  await addColumns(db, 'environments', { last_used_at: 'text', uid: 'integer' });
}

export async function down(db: MigrationDb): Promise<void> {
  await dropColumns(db, 'environments', ['uid', 'last_used_at']);
  await dropColumns(db, 'sync_states', ['written', 'group_origin']);
}
