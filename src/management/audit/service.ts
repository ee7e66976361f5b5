import type { Kysely } from 'kysely';
import type { ManagementDB } from '../../db/management-schema.ts';
import { newId } from '../identity/tokens.ts';
import type { Principal } from '../identity/principal.ts';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEntry {
  /** Set when the event may arrive twice (a runner's event, sent again after a lost answer): recorded once. */
  id?: string;
  organizationId?: string | null;
  actor: Principal | { kind: 'anonymous' | 'system'; label?: string };
  action: string;
  target?: { type: string; id?: string };
  outcome: AuditOutcome;
  client?: { ip?: string; userAgent?: string };
  details?: Record<string, unknown>;
}

// Audit details are written by Keyway's own code, never copied from request bodies; this is the
// second line of defence should a caller pass something it should not.
const SECRET_KEY = /secret|password|token|pat$|^pat|credential|authorization|cookie|verifier|private|sealed|^code$/i;

export function scrubDetails(details: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    // A flag or a count cannot hold a secret: `pat: true` and `clearedSecrets: 2` say what happened.
    const harmless = typeof value === 'boolean' || typeof value === 'number' || value === null;
    if (SECRET_KEY.test(key) && !harmless) {
      out[key] = '[redacted]';
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      out[key] = scrubDetails(value as Record<string, unknown>);
    } else {
      out[key] = value;
    }
  }
  return out;
}

export function createAuditLog(db: Kysely<ManagementDB>, now: () => Date = () => new Date()) {
  return {
    async record(entry: AuditEntry): Promise<void> {
      const actor = entry.actor;
      const actorId = actor.kind === 'user' ? actor.userId : actor.kind === 'runner' ? actor.runnerId : null;
      const actorLabel = actor.kind === 'user' ? actor.email : actor.kind === 'runner' ? actor.name : (actor.label ?? null);
      const organizationId = entry.organizationId !== undefined ? entry.organizationId : 'organizationId' in actor ? actor.organizationId : null;
      await db
        .insertInto('audit_events')
        .values({
          id: entry.id ?? newId('aud'),
          organization_id: organizationId,
          actor_type: actor.kind,
          actor_id: actorId,
          actor_label: actorLabel,
          action: entry.action,
          target_type: entry.target?.type ?? null,
          target_id: entry.target?.id ?? null,
          outcome: entry.outcome,
          ip: entry.client?.ip ?? null,
          user_agent: entry.client?.userAgent?.slice(0, 300) ?? null,
          details: JSON.stringify(scrubDetails(entry.details ?? {})),
          created_at: now().toISOString(),
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .execute();
    },

    /** Newest first; `before` is the cursor (an event's createdAt|id) for the next page. */
    async list(organizationId: string, options: { limit: number; before?: string; action?: string }) {
      let query = db.selectFrom('audit_events').selectAll().where('organization_id', '=', organizationId);
      if (options.action) query = query.where('action', '=', options.action);
      if (options.before) {
        const [createdAt, id] = options.before.split('|');
        if (createdAt && id) {
          query = query.where((eb) => eb.or([eb('created_at', '<', createdAt), eb.and([eb('created_at', '=', createdAt), eb('id', '<', id)])]));
        }
      }
      const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(options.limit + 1).execute();
      const page = rows.slice(0, options.limit);
      const last = page[page.length - 1];
      return {
        events: page.map((r) => ({
          id: r.id,
          createdAt: r.created_at,
          actor: { type: r.actor_type, id: r.actor_id, label: r.actor_label },
          action: r.action,
          target: r.target_type ? { type: r.target_type, id: r.target_id } : null,
          outcome: r.outcome,
          ip: r.ip,
          userAgent: r.user_agent,
          details: JSON.parse(r.details) as Record<string, unknown>,
        })),
        nextCursor: rows.length > options.limit && last ? `${last.created_at}|${last.id}` : null,
      };
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
