import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Static } from 'typebox';
import type { AuditEvent } from './schema.ts';
import type { AuditEventRow, ManagementDB } from '../../db/management-schema.ts';
import { newId } from '../identity/tokens.ts';
import type { Principal } from '../identity/principal.ts';
import { auditQuery } from './filters.ts';
import type { AuditAction, AuditTargetType } from './actions.ts';
import type { AuditListOptions } from './filters.ts';
import { createAuditStore } from './store.ts';
import type { AuditStore } from './store.ts';

export type { AuditListOptions };

export type AuditOutcome = 'success' | 'failure' | 'denied';

/** What an event is about. */
export interface AuditTarget {
  type: AuditTargetType;
  id?: string;
}

export interface AuditEntry {
  /** Set when the event may arrive twice (a runner's event, sent again after a lost answer): recorded once. */
  id?: string;
  organizationId?: string | null;
  actor: Principal | { kind: 'anonymous' | 'system'; label?: string };
  action: AuditAction;
  target?: AuditTarget;
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

/** One event as the API answers it (its schema, audit/schema.ts, documents each field). */
export type AuditEventView = Static<typeof AuditEvent>;

/** How a scm integration is named: its host, and its virtual directory on Azure DevOps Server. */
const integrationName = (row: { host: string; virtual_directory: string }) =>
  row.virtual_directory ? `${row.host}/${row.virtual_directory.replace(/^\/+/, '')}` : row.host;

/** An environment is named by its repository: organization/project/repository. */
function environmentName(repository: string): string | null {
  try {
    const r = JSON.parse(repository) as { organization?: string; project?: string; repository?: string };
    return [r.organization, r.project, r.repository].filter(Boolean).join('/') || null;
  } catch {
    return null;
  }
}

/**
 * The names of everything a page of events refers to, read now: one query per kind of thing, never
 * one per event. Only the organization's own things are named; anything else (deleted, or a user
 * who left) stays an id.
 */
async function resolveNames(
  store: AuditStore,
  organizationId: string,
  rows: AuditEventRow[],
): Promise<(type: string, id: string | null) => string | null> {
  const ids = new Map<string, Set<string>>();
  const want = (type: string | null, id: string | null) => {
    if (!type || !id) return;
    let set = ids.get(type);
    if (!set) ids.set(type, (set = new Set()));
    set.add(id);
  };
  for (const row of rows) {
    if (row.actor_type === 'user' || row.actor_type === 'runner') want(row.actor_type, row.actor_id);
    want(row.target_type, row.target_id);
  }
  const list = (type: string) => [...(ids.get(type) ?? [])];
  const [users, runners, projects, connections, syncs, tokens, integrations, environments, organization] = await Promise.all([
    store.users(organizationId, list('user')),
    store.named('runners', organizationId, list('runner')),
    store.named('projects', organizationId, list('project')),
    store.named('app_connections', organizationId, list('app_connection')),
    store.named('variable_syncs', organizationId, list('sync')),
    store.named('api_tokens', organizationId, list('api_token')),
    store.integrations(organizationId, list('scm_integration')),
    store.environments(organizationId, list('environment')),
    ids.get('organization')?.has(organizationId) ? store.organization(organizationId) : undefined,
  ]);
  const names = new Map<string, string | null>();
  const put = (type: string, id: string, name: string | null) => names.set(`${type}\u0000${id}`, name);
  for (const u of users) put('user', u.id, u.display_name || u.email);
  for (const [type, rowsOfType] of [
    ['runner', runners],
    ['project', projects],
    ['app_connection', connections],
    ['sync', syncs],
    ['api_token', tokens],
  ] as const) {
    for (const r of rowsOfType) put(type, r.id, r.name);
  }
  for (const i of integrations) put('scm_integration', i.id, integrationName(i));
  for (const e of environments) put('environment', e.id, environmentName(e.repository));
  if (organization) put('organization', organization.id, organization.name);
  return (type, id) => (id === null ? null : (names.get(`${type}\u0000${id}`) ?? null));
}

export function createAuditLog(db: Kysely<ManagementDB>, now: () => Date = () => new Date()) {
  const store = createAuditStore(db);
  return {
    async record(entry: AuditEntry): Promise<void> {
      const actor = entry.actor;
      const person = actor.kind === 'user' || actor.kind === 'account';
      const actorId = person ? actor.userId : actor.kind === 'runner' ? actor.runnerId : null;
      const actorLabel = person ? actor.email : actor.kind === 'runner' ? actor.name : (actor.label ?? null);
      const organizationId =
        entry.organizationId !== undefined ? entry.organizationId : 'organizationId' in actor ? actor.organizationId : null;
      await store.insert({
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
      });
    },

    /**
     * Records a failed unauthenticated attempt (a refused token, a wrong exchange token) as one
     * row per action, address and minute whose `occurrences` counts the attempts: a flood costs
     * a counter update, not a row per request.
     */
    async recordAggregated(entry: { action: AuditAction; ip: string; label: string; reason?: string }): Promise<void> {
      const at = now();
      const minute = at.toISOString().slice(0, 16);
      const id = `aud_agg_${createHash('sha256').update(`${entry.action}|${entry.ip}|${minute}`).digest('base64url').slice(0, 22)}`;
      await store.upsertCounted({
        id,
        organization_id: null,
        actor_type: 'anonymous',
        actor_id: null,
        actor_label: entry.label,
        action: entry.action,
        target_type: null,
        target_id: null,
        outcome: 'failure',
        ip: entry.ip,
        user_agent: null,
        details: JSON.stringify(entry.reason ? { reason: entry.reason } : {}),
        created_at: at.toISOString(),
        occurrences: 1,
      });
    },

    /**
     * One organization's events, newest first, filtered, with the names of actors and targets.
     * `nextCursor` (an event's createdAt|id) continues with the same filters.
     */
    async list(organizationId: string, options: AuditListOptions): Promise<{ events: AuditEventView[]; nextCursor: string | null }> {
      const query = auditQuery(organizationId, options);
      const rows = await store.page(query);
      const page = rows.slice(0, options.limit);
      const name = await resolveNames(store, organizationId, page);
      const last = page[page.length - 1];
      return {
        events: page.map((r) => ({
          id: r.id,
          createdAt: r.created_at,
          actor: {
            type: r.actor_type,
            id: r.actor_id,
            label: r.actor_label,
            name: r.actor_type === 'user' || r.actor_type === 'runner' ? name(r.actor_type, r.actor_id) : null,
          },
          action: r.action,
          target: r.target_type ? { type: r.target_type, id: r.target_id, name: name(r.target_type, r.target_id) } : null,
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
