import type { Kysely } from 'kysely';

// The audit log filters by actor and by target (GET /api/v1/audit-events?actorId=…, ?targetId=…),
// newest first. With only (organization_id, created_at) a rare actor or target means reading the
// organization's whole log to fill a page; these indexes go straight to its events in time order.

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run before the typed schema exists
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createIndex('audit_events_org_actor_idx')
    .on('audit_events')
    .columns(['organization_id', 'actor_id', 'created_at'])
    .execute();
  await db.schema
    .createIndex('audit_events_org_target_idx')
    .on('audit_events')
    .columns(['organization_id', 'target_id', 'created_at'])
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see up()
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_events_org_target_idx').ifExists().execute();
  await db.schema.dropIndex('audit_events_org_actor_idx').ifExists().execute();
}
