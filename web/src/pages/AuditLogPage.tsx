import { useMemo, useState } from 'react';
import type { ApiError } from '../api.ts';
import { formErrorsFrom } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import { ListingTable } from '../components/listing.tsx';
import { PageHeading } from '../components/page.tsx';
import { TimeCell } from '../components/table.tsx';
import { navigate, useLocation } from '../router.tsx';
import { sentence } from '../text.ts';
import type { AuditEvent, Member, Runner } from '../types.ts';
import { useApi } from '../use-api.ts';
import { API_FIELDS, AuditFilterForm, apiQuery, filtersFrom, filtersToSearch, hasFilters, targetLabel } from './audit-filters.tsx';
import type { AuditFilters } from './audit-filters.tsx';

const DEFAULT_LIMIT = 50;

function pageSize(raw: string | null): number {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 500 ? n : DEFAULT_LIMIT;
}

/** Kinds of target that have a name: one without a name was deleted or is not this organization's. */
const NAMED_TARGETS = new Set([
  'user',
  'runner',
  'scm_integration',
  'project',
  'app_connection',
  'sync',
  'environment',
  'api_token',
  'organization',
]);

/** The actor as a person reads it: the name now, then what was recorded and the id. */
function ActorCell({ actor }: { actor: AuditEvent['actor'] }) {
  if (actor.type === 'anonymous' || actor.type === 'system') {
    return (
      <td>
        {actor.label ?? '—'}
        <div className="muted">{actor.type === 'anonymous' ? 'not signed in' : 'Keyway'}</div>
      </td>
    );
  }
  const name = actor.name ?? actor.label ?? actor.id ?? actor.type;
  const recorded = actor.label && actor.label !== name ? actor.label : null;
  return (
    <td>
      <strong>{name}</strong>
      <div className="muted">
        {actor.type}
        {recorded && ` · ${recorded}`}
        {actor.id && (
          <>
            {' · '}
            <code>{actor.id}</code>
          </>
        )}
        {actor.name === null && actor.id && ' (no longer here)'}
      </div>
    </td>
  );
}

function TargetCell({ target }: { target: AuditEvent['target'] }) {
  if (!target) return <td className="muted">—</td>;
  const gone = target.name === null && target.id !== null && NAMED_TARGETS.has(target.type);
  return (
    <td>
      {target.name ? <strong>{target.name}</strong> : target.id && !gone ? <code>{target.id}</code> : null}
      <div className="muted">
        {targetLabel(target.type)}
        {target.id && (target.name || gone) && (
          <>
            {' · '}
            <code>{target.id}</code>
          </>
        )}
        {gone && ' (not found now)'}
      </div>
    </td>
  );
}

export function AuditLogPage() {
  const { search } = useLocation();
  const limit = pageSize(search.get('limit'));
  const applied = filtersFrom(search);
  const query = apiQuery(applied);
  query.set('limit', String(limit));
  const members = useApi<{ members: Member[] }>('/members');
  const runners = useApi<{ runners: Runner[] }>('/runners');

  // Cursors of the pages before this one ("Newer" pops, "Older" pushes), for one query: new filters
  // (or Back) start again at the first page.
  const [paging, setPaging] = useState<{ query: string; before: string[]; cursor?: string }>({ query: '', before: [] });
  const current = paging.query === query.toString() ? paging : { query: query.toString(), before: [] as string[], cursor: undefined };
  const paged = new URLSearchParams(query);
  if (current.cursor) paged.set('cursor', current.cursor);
  const page = useApi<{ events: AuditEvent[]; nextCursor: string | null }>(`/audit-events?${paged.toString()}`);
  const errors = useMemo(() => filterErrors(page.error), [page.error]);

  function apply(filters: AuditFilters) {
    const next = filtersToSearch(filters);
    if (search.get('limit')) next.set('limit', String(limit));
    const qs = next.toString();
    navigate(`/audit-log${qs ? `?${qs}` : ''}`);
  }

  function older() {
    if (!page.data?.nextCursor) return;
    setPaging({ query: current.query, before: [...current.before, current.cursor ?? ''], cursor: page.data.nextCursor });
  }

  function newer() {
    const last = current.before[current.before.length - 1];
    setPaging({ query: current.query, before: current.before.slice(0, -1), cursor: last || undefined });
  }

  return (
    <>
      <PageHeading title="Audit log" />
      <p className="lead">
        Who did what in this organization, newest first. Names are as they are now; the ids beside them are what was recorded.
      </p>
      <AuditFilterForm
        applied={applied}
        members={members.data?.members ?? []}
        runners={runners.data?.runners ?? []}
        errors={errors.form}
        onApply={apply}
      />
      <ListingTable
        items={page.error ? undefined : page.data?.events}
        error={errors.other}
        loading={page.loading}
        empty={hasFilters(applied) ? 'No events match these filters.' : 'No events yet.'}
        label="Audit events"
        className="audit"
        columns={['Time', 'Actor', 'Action', 'Target', 'Outcome', 'Client']}
      >
        {(event) => (
          <tr key={event.id}>
            <TimeCell value={event.createdAt} />
            <ActorCell actor={event.actor} />
            <td className="mono">{event.action}</td>
            <TargetCell target={event.target} />
            <td>
              <span className={`badge badge-outcome-${event.outcome === 'success' ? 'ok' : 'bad'}`}>{event.outcome}</span>
            </td>
            <td>{event.ip ?? '—'}</td>
          </tr>
        )}
      </ListingTable>
      <nav className="pager" aria-label="Audit log pages">
        <button type="button" onClick={newer} disabled={current.before.length === 0 || page.loading}>
          Newer
        </button>
        <span aria-live="polite">Page {current.before.length + 1}</span>
        <button type="button" onClick={older} disabled={!page.data?.nextCursor || page.loading}>
          Older
        </button>
      </nav>
    </>
  );
}

/** The API's complaint about a filter goes next to that filter; anything else above the results. */
function filterErrors(error: ApiError | undefined): { form: FormErrors; other: string | undefined } {
  if (!error) return { form: { fields: {} }, other: undefined };
  const mapped = formErrorsFrom(error, API_FIELDS);
  if (Object.keys(mapped.fields).length === 0) return { form: { fields: {} }, other: error.message };
  const fields: Record<string, string> = {};
  for (const [key, message] of Object.entries(mapped.fields)) fields[key] = sentence(message);
  return { form: { fields }, other: undefined };
}
