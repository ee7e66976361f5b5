// The audit log's filters: the form, and how its values travel. The applied filters live in the
// address bar (shareable, and Back undoes one), in the page's own words (`actor=user:usr_1`,
// `from=2025-01-31` as the local day); the API gets actorType/actorId and ISO instants.
import { useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { AUDIT_ACTION_GROUPS, AUDIT_TARGET_TYPES } from '../../../src/management/audit/actions.ts';
import { IdentifierField, SelectField, TextField } from '../components/fields.tsx';
import { useFocusFirstError } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import type { Member, Runner } from '../types.ts';

export interface AuditFilters {
  /** `user:<id>`, `runner:<id>`, or `type:<actorType>` for every actor of a kind; '' for anyone. */
  actor: string;
  group: string;
  action: string;
  targetType: string;
  targetId: string;
  /** YYYY-MM-DD, a day in the browser's time zone; `to` includes its whole day. */
  from: string;
  to: string;
}

const KEYS = ['actor', 'group', 'action', 'targetType', 'targetId', 'from', 'to'] as const;

export const NO_FILTERS: AuditFilters = { actor: '', group: '', action: '', targetType: '', targetId: '', from: '', to: '' };

export function filtersFrom(search: URLSearchParams): AuditFilters {
  const filters = { ...NO_FILTERS };
  for (const key of KEYS) filters[key] = search.get(key)?.trim() ?? '';
  return filters;
}

/** The non-empty filters as address-bar parameters. */
export function filtersToSearch(filters: AuditFilters): URLSearchParams {
  const search = new URLSearchParams();
  for (const key of KEYS) if (filters[key].trim()) search.set(key, filters[key].trim());
  return search;
}

export const hasFilters = (filters: AuditFilters) => KEYS.some((key) => filters[key] !== '');

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** The start of a local day (plus `days`) as an ISO instant; anything else is sent as typed, for the server to explain. */
function localDay(value: string, days = 0): string {
  const m = DAY.exec(value);
  if (!m) return value;
  return new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + days).toISOString();
}

/** The API's query parameters for these filters. */
export function apiQuery(filters: AuditFilters): URLSearchParams {
  const query = new URLSearchParams();
  const [kind, id] = splitActor(filters.actor);
  if (kind === 'type') query.set('actorType', id);
  else if (kind) {
    query.set('actorType', kind);
    query.set('actorId', id);
  }
  if (filters.group) query.set('group', filters.group);
  if (filters.action) query.set('action', filters.action);
  if (filters.targetType) query.set('targetType', filters.targetType);
  if (filters.targetId) query.set('targetId', filters.targetId);
  if (filters.from) query.set('from', localDay(filters.from));
  // The day picked as "to" is included: the API's `to` is exclusive, so send the next day's start.
  if (filters.to) query.set('to', localDay(filters.to, 1));
  return query;
}

function splitActor(actor: string): ['user' | 'runner' | 'type' | '', string] {
  const colon = actor.indexOf(':');
  const kind = actor.slice(0, colon);
  if (colon > 0 && (kind === 'user' || kind === 'runner' || kind === 'type')) return [kind, actor.slice(colon + 1)];
  return ['', ''];
}

/** The form field an API error's `field` belongs to. */
export const API_FIELDS: Record<string, keyof AuditFilters> = {
  actorType: 'actor',
  actorId: 'actor',
  group: 'group',
  action: 'action',
  targetType: 'targetType',
  targetId: 'targetId',
  from: 'from',
  to: 'to',
};

const GROUP_LABELS: Record<string, string> = {
  api_token: 'API tokens',
  app_connection: 'App connections',
  authorization: 'Host authorizations and denials',
  environment: 'Environments',
  member: 'Members',
  organization: 'Organizations',
  project: 'Projects',
  runner: 'Runners',
  scm_integration: 'Repository access',
  session: 'Sign-ins',
  sync: 'Variable group syncs',
  user: 'Accounts',
};

const TARGET_LABELS: Record<string, string> = {
  api_token: 'API token',
  app_connection: 'App connection',
  authorization: 'Host authorization',
  environment: 'Environment',
  organization: 'Organization',
  project: 'Project',
  route: 'Route (a denied request)',
  runner: 'Runner',
  scm_integration: 'Repository access',
  sync: 'Variable group sync',
  user: 'Person',
};

export const targetLabel = (type: string) => TARGET_LABELS[type] ?? type;

const personLabel = (m: Pick<Member, 'displayName' | 'email'>) =>
  m.displayName && m.displayName !== m.email ? `${m.displayName} (${m.email})` : m.email;

interface FormProps {
  applied: AuditFilters;
  members: Member[];
  runners: Runner[];
  /** Errors the API gave for the applied filters, by form field. */
  errors: FormErrors;
  onApply: (filters: AuditFilters) => void;
}

export function AuditFilterForm({ applied, members, runners, errors: apiErrors, onApply }: FormProps) {
  const [draft, setDraft] = useState<AuditFilters>(applied);
  // Checks made here before applying; otherwise what the API said about the applied filters.
  const [local, setLocal] = useState<FormErrors>();
  // Filters applied from elsewhere (Back, Clear, a link) replace what is in the form.
  const appliedKey = filtersToSearch(applied).toString();
  const [shown, setShown] = useState(appliedKey);
  if (shown !== appliedKey) {
    setShown(appliedKey);
    setDraft(applied);
    setLocal(undefined);
  }
  const errors = local ?? apiErrors;
  const formRef = useRef<HTMLFormElement>(null);
  const applyRef = useRef<HTMLButtonElement>(null);
  useFocusFirstError(formRef, errors);
  // A filter's field: its name, its value in the draft, and its error.
  const bind = (key: keyof AuditFilters) => ({
    name: key,
    value: draft[key],
    onChange: (event: { target: { value: string } }) => setDraft({ ...draft, [key]: event.target.value }),
    error: errors.fields[key],
  });

  function submit(event: FormEvent) {
    event.preventDefault();
    if (draft.from && draft.to && draft.to < draft.from) {
      setLocal({ fields: { to: 'The "To" day is before the "From" day; pick a later day.' } });
      return;
    }
    setLocal(undefined);
    onApply(draft);
  }

  // An actor in the address bar who is not listed (someone who left, a revoked runner) stays pickable.
  const [kind, id] = splitActor(draft.actor);
  const listed =
    kind === 'type' || (kind === 'user' && members.some((m) => m.id === id)) || (kind === 'runner' && runners.some((r) => r.id === id));

  return (
    <form ref={formRef} className="card audit-filters" onSubmit={submit} role="search" aria-label="Filter the audit log" noValidate>
      <div className="field-row">
        <SelectField label="Actor" {...bind('actor')}>
          <option value="">Anyone</option>
          {!listed && draft.actor && <option value={draft.actor}>{id || draft.actor} (not listed now)</option>}
          <optgroup label="People">
            <option value="type:user">Any person</option>
            {members.map((m) => (
              <option key={m.id} value={`user:${m.id}`}>
                {personLabel(m)}
              </option>
            ))}
          </optgroup>
          <optgroup label="Runners">
            <option value="type:runner">Any runner</option>
            {runners.map((r) => (
              <option key={r.id} value={`runner:${r.id}`}>
                {r.name}
              </option>
            ))}
          </optgroup>
          <optgroup label="Others">
            <option value="type:anonymous">Not signed in (sign-in attempts, runner registration)</option>
          </optgroup>
        </SelectField>
        <SelectField label="Action group" {...bind('group')}>
          <option value="">All actions</option>
          {AUDIT_ACTION_GROUPS.map((g) => (
            <option key={g} value={g}>
              {GROUP_LABELS[g] ?? g} ({g}.*)
            </option>
          ))}
        </SelectField>
        <IdentifierField label="Exact action" {...bind('action')} hint="Optional, for example member.add." />
      </div>
      <div className="field-row">
        <SelectField label="Target type" {...bind('targetType')}>
          <option value="">Any target</option>
          {AUDIT_TARGET_TYPES.map((type) => (
            <option key={type} value={type}>
              {targetLabel(type)}
            </option>
          ))}
        </SelectField>
        <IdentifierField label="Target id" {...bind('targetId')} hint="Optional, for example a runner's id." />
      </div>
      <div className="field-row">
        <TextField label="From" {...bind('from')} type="date" hint="A day in your time zone." />
        <TextField label="To" {...bind('to')} type="date" hint="This day is included." />
      </div>
      {errors.form && <p className="field-error">{errors.form}</p>}
      <div className="actions">
        <button ref={applyRef} type="submit" className="button-primary">
          Apply filters
        </button>
        {hasFilters(applied) && (
          <button
            type="button"
            onClick={() => {
              // This button goes away with the filters: keep the keyboard in the form.
              applyRef.current?.focus();
              onApply(NO_FILTERS);
            }}
          >
            Clear filters
          </button>
        )}
      </div>
    </form>
  );
}
