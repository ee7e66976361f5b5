import { badRequest } from '../../http/errors.ts';
import { AUDIT_ACTION_GROUPS, AUDIT_ACTOR_TYPES, AUDIT_TARGET_TYPES } from './actions.ts';
import type { AuditQuery } from './store.ts';

// The rules for reading the audit log: which filters exist, what values they take, and the clear
// error for each bad one. Pure functions; the service applies them before the store queries.

/** What a caller may filter by (the query's filters); every value as it arrived (the service checks them). */
export type AuditListOptions = Omit<AuditQuery, 'organizationId' | 'before'> & {
  /** The `nextCursor` of the previous page. */
  before?: string | undefined;
};

// YYYY-MM-DD, optionally followed by a time with seconds, fractions and a required offset. A time
// without an offset would mean the server's local time, which the caller cannot know.
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:(Z)|([+-])(\d{2}):(\d{2})))?$/i;

/**
 * An ISO-8601 date or date-time as the UTC string the table stores, or a 400 naming `field`. A bare
 * date is midnight UTC. Calendar overflow (February 30th, 24:00) is refused rather than rolled over.
 */
export function parseInstant(value: string, field: string): string {
  const invalid = () =>
    badRequest(
      'invalid_time',
      `${field} must be an ISO-8601 date or date-time with an offset, for example 2025-01-31 or 2025-01-31T09:30:00Z (in a URL, write + as %2B)`,
      field,
    );
  const m = ISO_8601.exec(value.trim());
  if (!m) throw invalid();
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', , sign, offsetHours = '0', offsetMinutes = '0'] = m;
  const [y, mo, d, h, mi, s, oh, om] = [year, month, day, hour, minute, second, offsetHours, offsetMinutes].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  // Date.UTC reads years 0-99 as 1900-1999: those fail this check too, and no event is that old.
  const calendar = new Date(Date.UTC(y, mo - 1, d));
  if (calendar.getUTCFullYear() !== y || calendar.getUTCMonth() !== mo - 1 || calendar.getUTCDate() !== d) throw invalid();
  if (h > 23 || mi > 59 || s > 59 || oh > 23 || om > 59) throw invalid();
  const offsetMs = (sign === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  return new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMs).toISOString();
}

function oneOf<T extends string>(allowed: readonly T[], value: string | undefined, field: string): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw badRequest('invalid_request', `${field} must be one of: ${allowed.join(', ')}`, field);
  return value as T;
}

/** An empty filter value is no filter: a form posts empty fields as they are. */
const given = (value: string | undefined) => (value === undefined || value.trim() === '' ? undefined : value.trim());

/** Checks every filter and turns the options into a store query (one row more than asked, to see whether there is a next page). */
export function auditQuery(organizationId: string, options: AuditListOptions): AuditQuery {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > 500)
    throw badRequest('invalid_request', 'limit must be an integer from 1 to 500', 'limit');
  const fromValue = given(options.from);
  const toValue = given(options.to);
  const from = fromValue === undefined ? undefined : parseInstant(fromValue, 'from');
  const to = toValue === undefined ? undefined : parseInstant(toValue, 'to');
  if (from !== undefined && to !== undefined && to <= from)
    throw badRequest('invalid_time', 'to must be later than from (from is inclusive, to exclusive)', 'to');
  let before: AuditQuery['before'];
  const cursor = given(options.before);
  if (cursor !== undefined) {
    const [createdAt, id, ...rest] = cursor.split('|');
    if (!createdAt || !id || rest.length > 0 || Number.isNaN(Date.parse(createdAt)))
      throw badRequest('invalid_cursor', 'cursor is not one this API gave out; start again without it', 'cursor');
    before = { createdAt, id };
  }
  return {
    organizationId,
    limit: options.limit + 1,
    action: given(options.action),
    group: oneOf(AUDIT_ACTION_GROUPS, given(options.group), 'group'),
    actorType: oneOf(AUDIT_ACTOR_TYPES, given(options.actorType), 'actorType'),
    actorId: given(options.actorId),
    targetType: oneOf(AUDIT_TARGET_TYPES, given(options.targetType), 'targetType'),
    targetId: given(options.targetId),
    from,
    to,
    before,
  };
}
