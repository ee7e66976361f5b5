import { useState } from 'react';
import type { FormEvent } from 'react';
import { TextField } from '../components/fields.tsx';
import { Listing } from '../components/listing.tsx';
import { PageHeading, Time } from '../components/page.tsx';
import { DataTable } from '../components/table.tsx';
import { useLocation } from '../router.tsx';
import type { AuditEvent } from '../types.ts';
import { useApi } from '../use-api.ts';

const DEFAULT_LIMIT = 50;

function pageSize(raw: string | null): number {
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= 500 ? n : DEFAULT_LIMIT;
}

function describeActor(event: AuditEvent): string {
  return event.actor.label ?? (event.actor.id ? `${event.actor.type} ${event.actor.id}` : event.actor.type);
}

function describeTarget(event: AuditEvent): string {
  if (!event.target) return '—';
  return event.target.id ? `${event.target.type} ${event.target.id}` : event.target.type;
}

export function AuditLogPage() {
  const { search } = useLocation();
  const limit = pageSize(search.get('limit'));
  const [action, setAction] = useState('');
  const [filter, setFilter] = useState('');
  // Cursors of the pages before this one: "Newer" pops, "Older" pushes.
  const [cursors, setCursors] = useState<string[]>([]);
  const [cursor, setCursor] = useState<string>();

  const query = new URLSearchParams({ limit: String(limit) });
  if (cursor) query.set('cursor', cursor);
  if (filter) query.set('action', filter);
  const page = useApi<{ events: AuditEvent[]; nextCursor: string | null }>(`/audit-events?${query.toString()}`);

  function apply(event: FormEvent) {
    event.preventDefault();
    setFilter(action.trim());
    setCursor(undefined);
    setCursors([]);
  }

  function older() {
    if (!page.data?.nextCursor) return;
    setCursors([...cursors, cursor ?? '']);
    setCursor(page.data.nextCursor);
  }

  function newer() {
    const previous = cursors.slice(0, -1);
    const last = cursors[cursors.length - 1];
    setCursors(previous);
    setCursor(last || undefined);
  }

  const pageNumber = cursors.length + 1;

  return (
    <>
      <PageHeading title="Audit log" />
      <p className="lead">Who did what in this organization, newest first.</p>
      <form className="filter" onSubmit={apply} role="search" aria-label="Filter the audit log">
        <TextField label="Action" name="action" value={action} onChange={(e) => setAction(e.target.value)} hint="An exact action, for example member.add or api_token.create." autoComplete="off" spellCheck={false} />
        <div className="actions">
          <button type="submit">Filter</button>
          {filter && (
            <button
              type="button"
              onClick={() => {
                setAction('');
                setFilter('');
                setCursor(undefined);
                setCursors([]);
              }}
            >
              Show all
            </button>
          )}
        </div>
      </form>
      <Listing items={page.data?.events} error={page.error?.message} loading={page.loading} empty={filter ? `No ${filter} events.` : 'No events yet.'}>
        {(events) => (
          <DataTable label="Audit events" className="audit" columns={['Time', 'Actor', 'Action', 'Target', 'Outcome', 'Client']}>
            {events.map((event) => (
              <tr key={event.id}>
                <td>
                  <Time value={event.createdAt} />
                </td>
                <td>{describeActor(event)}</td>
                <td className="mono">{event.action}</td>
                <td className="mono">{describeTarget(event)}</td>
                <td>
                  <span className={`badge badge-outcome-${event.outcome === 'success' ? 'ok' : 'bad'}`}>{event.outcome}</span>
                </td>
                <td>{event.ip ?? '—'}</td>
              </tr>
            ))}
          </DataTable>
        )}
      </Listing>
      <nav className="pager" aria-label="Audit log pages">
        <button type="button" onClick={newer} disabled={cursors.length === 0 || page.loading}>
          Newer
        </button>
        <span aria-live="polite">Page {pageNumber}</span>
        <button type="button" onClick={older} disabled={!page.data?.nextCursor || page.loading}>
          Older
        </button>
      </nav>
    </>
  );
}
