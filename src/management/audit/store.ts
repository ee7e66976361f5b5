import type { Kysely } from 'kysely';
import type { AuditEventRow, ManagementDB, NewAuditEvent } from '../../db/management-schema.ts';

/** A page query, already validated by the service: every field is a plain equality or bound. */
export interface AuditQuery {
  organizationId: string;
  limit: number;
  action?: string | undefined;
  /** Matches actions that start with `${group}.`. */
  group?: string | undefined;
  actorType?: string | undefined;
  actorId?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  /** Inclusive, as stored: an ISO-8601 UTC string from Date.toISOString(). */
  from?: string | undefined;
  /** Exclusive. */
  to?: string | undefined;
  /** The last event of the previous page: this page holds what is older. */
  before?: { createdAt: string; id: string } | undefined;
}

/** Tables whose rows have an id, a name and an organization: their names are read the same way. */
type NamedTable = 'runners' | 'projects' | 'app_connections' | 'variable_syncs' | 'api_tokens';

/** Reads and writes the audit_events table, and reads what the events name (one query per kind). */
export function createAuditStore(db: Kysely<ManagementDB>) {
  return {
    /** Inserts the event once: an event sent again with the same id (a runner's retry) is ignored. */
    async insert(row: NewAuditEvent): Promise<void> {
      await db
        .insertInto('audit_events')
        .values(row)
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    },

    /** Inserts the row, or adds one to the occurrences of the row with its id. */
    async upsertCounted(row: NewAuditEvent): Promise<void> {
      await db
        .insertInto('audit_events')
        .values(row)
        .onConflict((oc) => oc.column('id').doUpdateSet((eb) => ({ occurrences: eb('audit_events.occurrences', '+', 1) })))
        .execute();
    },

    /** Newest first (created_at, then id, descending), at most `limit` rows. */
    async page(query: AuditQuery): Promise<AuditEventRow[]> {
      let q = db.selectFrom('audit_events').selectAll().where('organization_id', '=', query.organizationId);
      if (query.action !== undefined) q = q.where('action', '=', query.action);
      if (query.group !== undefined) {
        // A prefix compare rather than LIKE: `_` in group names is a LIKE wildcard.
        const prefix = `${query.group}.`;
        q = q.where((eb) => eb(eb.fn<string>('substr', [eb.ref('action'), eb.lit(1), eb.lit(prefix.length)]), '=', prefix));
      }
      if (query.actorType !== undefined) q = q.where('actor_type', '=', query.actorType);
      if (query.actorId !== undefined) q = q.where('actor_id', '=', query.actorId);
      if (query.targetType !== undefined) q = q.where('target_type', '=', query.targetType);
      if (query.targetId !== undefined) q = q.where('target_id', '=', query.targetId);
      // Timestamps are all toISOString() output (same length, UTC), so text order is time order.
      if (query.from !== undefined) q = q.where('created_at', '>=', query.from);
      if (query.to !== undefined) q = q.where('created_at', '<', query.to);
      const before = query.before;
      if (before) {
        q = q.where((eb) =>
          eb.or([eb('created_at', '<', before.createdAt), eb.and([eb('created_at', '=', before.createdAt), eb('id', '<', before.id)])]),
        );
      }
      return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(query.limit).execute();
    },

    /** Users among `ids` who are members of the organization: someone who left it is not named to it. */
    async users(organizationId: string, ids: string[]) {
      if (ids.length === 0) return [];
      return db
        .selectFrom('users')
        .innerJoin('memberships', 'memberships.user_id', 'users.id')
        .select(['users.id', 'users.email', 'users.display_name'])
        .where('memberships.organization_id', '=', organizationId)
        .where('users.id', 'in', ids)
        .execute();
    },

    /** Rows among `ids` of a table with a `name`, within the organization. */
    async named(table: NamedTable, organizationId: string, ids: string[]): Promise<{ id: string; name: string }[]> {
      if (ids.length === 0) return [];
      return db.selectFrom(table).select(['id', 'name']).where('organization_id', '=', organizationId).where('id', 'in', ids).execute();
    },

    async integrations(organizationId: string, ids: string[]) {
      if (ids.length === 0) return [];
      return db
        .selectFrom('scm_integrations')
        .select(['id', 'host', 'virtual_directory'])
        .where('organization_id', '=', organizationId)
        .where('id', 'in', ids)
        .execute();
    },

    async environments(organizationId: string, ids: string[]) {
      if (ids.length === 0) return [];
      return db
        .selectFrom('environments')
        .select(['id', 'repository'])
        .where('organization_id', '=', organizationId)
        .where('id', 'in', ids)
        .execute();
    },

    async organization(organizationId: string) {
      return db.selectFrom('organizations').select(['id', 'name']).where('id', '=', organizationId).executeTakeFirst();
    },
  };
}

export type AuditStore = ReturnType<typeof createAuditStore>;
