import { createIndex } from '../columns.ts';
import type { MigrationDb } from '../columns.ts';

// The audit log filters by actor and by target (GET /api/v1/audit-events?actorId=…, ?targetId=…),
// newest first. With only (organization_id, created_at) a rare actor or target means reading the
// organization's whole log to fill a page; these indexes go straight to its events in time order.

export async function up(db: MigrationDb): Promise<void> {
  await createIndex(db, 'audit_events_org_actor_idx', 'audit_events', ['organization_id', 'actor_id', 'created_at']);
  await createIndex(db, 'audit_events_org_target_idx', 'audit_events', ['organization_id', 'target_id', 'created_at']);
}

export async function down(db: MigrationDb): Promise<void> {
  await db.schema.dropIndex('audit_events_org_target_idx').ifExists().execute();
  await db.schema.dropIndex('audit_events_org_actor_idx').ifExists().execute();
}
