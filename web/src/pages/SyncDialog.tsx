import { useRef, useState } from 'react';

import { ApiError, api } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { CheckboxField, IdentifierField, SelectField, TextField } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { NO_ERRORS, bindField, formErrorsFrom, useFormErrors, useSubmission } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import { Alert, StatusText } from '../components/page.tsx';
import { sealForRunner, syncVariablesAad } from '../sealing.ts';
import { sentence } from '../text.ts';
import type { AppConnection, MemberTarget, Runner, VariableSync } from '../types.ts';

// Creating a variable group sync, or changing its variables. Values are write-only: they are sealed
// here, as one JSON object, to the connection's runner with the sync's id as associated data. A new
// sync is created first (without variables) so its id is known, then its variables are set.

interface Row {
  key: number;
  name: string;
  isSecret: boolean;
  /** Already stored on the runner: the value may be left empty to keep it. */
  existing: boolean;
}

const SYNC_FIELDS: Record<string, string> = {
  name: 'name',
  connectionId: 'connectionId',
  organization: 'organization',
  project: 'project',
  groupName: 'groupName',
  scheduleMinutes: 'scheduleMinutes',
  adoptExisting: 'adoptExisting',
  takeOver: 'takeOver',
  sealedValues: 'form',
};

/** A failed call's errors next to the sync's fields, or at the top made a sentence. */
function syncErrors(err: unknown): FormErrors {
  const mapped = formErrorsFrom(err, SYNC_FIELDS);
  if (mapped.form) mapped.form = sentence(mapped.form);
  return mapped;
}

/** `org/project/pattern` for people: what members may target through a connection. */
export function describeMemberTargets(targets: MemberTarget[]): string {
  return targets.map((t) => `${t.organization}/${t.project}/${t.groupPattern ?? '*'}`).join(', ');
}

/** "A, b" → ['A', 'b']: names separated by commas, spaces or new lines. */
export function parseNames(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((n) => n.trim())
    .filter(Boolean);
}

const TAKE_OVER_HINT =
  'Variables already in the group that Keyway did not write. Without this a run that names one writes nothing. Keyway overwrites them but never deletes them. Separate names with commas.';

interface Props {
  projectId: string;
  connections: AppConnection[];
  runners: Runner[];
  /** Project owners and organization admins: they may point syncs anywhere and adopt existing groups. */
  canManage: boolean;
  /** Absent to create a sync; present to change its variables. */
  sync?: VariableSync | undefined;
  onClose: (result?: { sync: VariableSync; runId?: string | undefined; message: string }) => void;
}

export function SyncDialog({ projectId, connections, runners, canManage, sync: editing, onClose }: Props) {
  const [created, setCreated] = useState<VariableSync | undefined>(editing);
  const [name, setName] = useState('');
  const [connectionId, setConnectionId] = useState(connections[0]?.id ?? '');
  const [organization, setOrganization] = useState('');
  const [adoProject, setAdoProject] = useState('');
  const [groupName, setGroupName] = useState('');
  const [schedule, setSchedule] = useState('');
  const adoption = useAdoption();
  const nextKey = useRef(1);
  const [rows, setRows] = useState<Row[]>(() =>
    editing
      ? editing.variables.map((v) => ({ key: nextKey.current++, name: v.name, isSecret: v.isSecret, existing: true }))
      : [{ key: nextKey.current++, name: '', isSecret: false, existing: false }],
  );
  const { errors, setErrors, formRef } = useFormErrors();
  const [busy, setBusy] = useState<string>();
  const base = `/projects/${encodeURIComponent(projectId)}/syncs`;
  const connection = connections.find((c) => c.id === (created?.connectionId ?? connectionId));
  // A member may add syncs only inside the targets the connection pins for members.
  const memberTargets = connection?.memberTargets ?? [];
  const memberBlocked = !canManage && !created && memberTargets.length === 0;

  // Values live in the inputs only (uncontrolled), read at submit.
  const valueOf = (row: Row) => (formRef.current?.elements.namedItem(`value-${row.key}`) as HTMLInputElement | null)?.value ?? '';

  function addRow() {
    setRows((r) => [...r, { key: nextKey.current++, name: '', isSecret: false, existing: false }]);
  }

  function validate(): Record<string, string> {
    const fields: Record<string, string> = {};
    if (!created) {
      if (!name.trim()) fields.name = 'Enter a name for the sync.';
      if (!connectionId) fields.connectionId = 'Create an app connection first: the sync writes through it.';
      if (!adoProject.trim()) fields.project = 'Enter the Azure DevOps project that holds the variable group.';
      if (!groupName.trim()) fields.groupName = 'Enter the variable group name; it is created if missing.';
      if (schedule.trim() && !/^\d+$/.test(schedule.trim())) fields.scheduleMinutes = 'Enter whole minutes (5 to 10080), or leave empty.';
    }
    const seen = new Set<string>();
    for (const row of rows) {
      const n = row.name.trim();
      if (!row.existing && !n && !valueOf(row)) continue;
      if (!/^[A-Za-z0-9_.-]{1,128}$/.test(n)) fields[`var-${row.key}`] = "Use 1–128 letters, digits, '.', '_' or '-'.";
      else if (seen.has(n.toLowerCase())) fields[`var-${row.key}`] = 'This name appears twice (names are case-insensitive).';
      else if (!row.existing && !valueOf(row)) fields[`value-${row.key}`] = 'Enter a value.';
      seen.add(n.toLowerCase());
    }
    return fields;
  }

  async function submit() {
    const fields = validate();
    if (Object.keys(fields).length) {
      setErrors({ fields });
      return;
    }
    setErrors(NO_ERRORS);
    const filled = rows.filter((r) => r.existing || r.name.trim() || valueOf(r));
    // Only what changed goes to the runner: new and re-entered values; removed names.
    const set = filled.filter((r) => !r.existing || valueOf(r) !== '');
    const remove = editing ? editing.variables.filter((v) => !filled.some((r) => r.existing && r.name === v.name)).map((v) => v.name) : [];
    let sync = created;
    try {
      if (!sync) {
        setBusy('Creating the sync…');
        const minutes = schedule.trim() ? Number(schedule.trim()) : undefined;
        const answer = await api.post<{ sync: VariableSync }>(base, {
          name: name.trim(),
          connectionId,
          project: adoProject.trim(),
          groupName: groupName.trim(),
          ...(organization.trim() ? { organization: organization.trim() } : {}),
          ...(minutes !== undefined ? { scheduleMinutes: minutes } : {}),
          ...(canManage && adoption.adopt ? { adoptExisting: true } : {}),
          ...(canManage && adoption.names.length ? { takeOver: adoption.names } : {}),
        });
        sync = answer.sync;
        setCreated(sync);
      }
      if (set.length === 0 && remove.length === 0) {
        onClose({
          sync,
          message: editing ? 'Nothing changed.' : `Sync ${sync.name} was created without variables; add some to start syncing.`,
        });
        return;
      }
      const runner = runners.find((r) => r.id === connection?.runnerId);
      if (!runner?.publicKey) throw new Error("The connection's runner has not registered its key, so the values cannot be sealed for it.");
      setBusy('Sealing the values…');
      const values: Record<string, string> = {};
      for (const r of set) values[r.name.trim()] = valueOf(r);
      const sealedValues = await sealForRunner(runner.publicKey, JSON.stringify(values), syncVariablesAad(sync.id));
      setBusy('Storing the variables on the runner…');
      const declared = set.map((r) => ({ name: r.name.trim(), isSecret: r.isSecret }));
      const answer = editing
        ? await api.patch<{ runId?: string }>(`${base}/${encodeURIComponent(sync.id)}/variables`, {
            set: declared,
            ...(remove.length ? { remove } : {}),
            sealedValues,
          })
        : await api.put<{ runId?: string }>(`${base}/${encodeURIComponent(sync.id)}/variables`, { variables: declared, sealedValues });
      formRef.current?.reset();
      onClose({
        sync,
        runId: answer.runId,
        message: `${editing ? `The variables of ${sync.name} were changed` : `Sync ${sync.name} was created`}${answer.runId ? '; a run started' : ''}.`,
      });
    } catch (err) {
      const mapped = mapErrors(err, set);
      if (sync && !editing && !mapped.form) mapped.form = `Sync ${sync.name} was created, but its variables were not stored.`;
      setErrors(mapped);
    } finally {
      setBusy(undefined);
    }
  }

  /** `variables.2.name` / `set.2.value` point at the sent rows; anything else at the form's fields. */
  function mapErrors(err: unknown, sent: Row[]): FormErrors {
    if (err instanceof ApiError && err.field) {
      const m = /^(?:variables|set)\.(\d+)\.(name|value)$/.exec(err.field);
      const row = m ? sent[Number(m[1])] : undefined;
      if (row) return { fields: { [`${m![2] === 'name' ? 'var' : 'value'}-${row.key}`]: sentence(err.message) } };
    }
    return syncErrors(err);
  }

  const title = editing ? `Variables of ${editing.name}` : created ? `Variables of ${created.name}` : 'Add a variable group sync';
  // A sync created before its variables failed still exists: closing says so.
  const close = () =>
    onClose(created && !editing ? { sync: created, message: `Sync ${created.name} was created without variables.` } : undefined);
  return (
    <Dialog title={title} onClose={close} wide>
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        {!created && (
          <>
            <div className="field-row">
              <TextField label="Sync name" {...bindField(errors, 'name', name, setName)} autoComplete="off" />
              <SelectField label="App connection" {...bindField(errors, 'connectionId', connectionId, setConnectionId)}>
                {connections.map((c) => (
                  <option key={c.id} value={c.id}>
                    {c.name}
                    {c.organization ? ` (${c.organization})` : ''}
                  </option>
                ))}
              </SelectField>
            </div>
            <div className="field-row">
              <IdentifierField
                label="Azure DevOps organization"
                {...bindField(errors, 'organization', organization, setOrganization)}
                placeholder={connection?.organization ?? undefined}
                hint={
                  connection?.organization
                    ? `Leave empty for the connection's (${connection.organization}).`
                    : 'The name in dev.azure.com/{organization}.'
                }
              />
              <IdentifierField label="Azure DevOps project" {...bindField(errors, 'project', adoProject, setAdoProject)} />
            </div>
            {memberBlocked && connection && (
              <Alert kind="warning">
                Only project owners can add syncs through {connection.name}: it lets project members target no variable group. Ask an owner
                of the project to add the sync, or to allow member targets on the connection.
              </Alert>
            )}
            <div className="field-row">
              <IdentifierField
                label="Variable group"
                {...bindField(errors, 'groupName', groupName, setGroupName)}
                hint={
                  !canManage && memberTargets.length > 0
                    ? `Created if it does not exist. Through ${connection?.name ?? 'this connection'} you may target ${describeMemberTargets(memberTargets)} (organization/project/group).`
                    : 'Created if it does not exist. A group of this name that Keyway did not create is left alone unless adopted.'
                }
              />
              <TextField
                label="Schedule (minutes)"
                {...bindField(errors, 'scheduleMinutes', schedule, setSchedule)}
                inputMode="numeric"
                hint="Optional: also sync every N minutes (5–10080). Changes always sync at once."
                autoComplete="off"
              />
            </div>
            {canManage && (
              <fieldset className="choice">
                <legend>If the group already exists</legend>
                <AdoptionFields
                  label="Adopt it: let this sync write into a group Keyway did not create"
                  hint="Otherwise the run stops before writing anything. Only project owners may adopt."
                  adoption={adoption}
                  errors={errors}
                />
              </fieldset>
            )}
          </>
        )}
        <fieldset className="variables">
          <legend>Variables</legend>
          <p className="hint">
            Values are sealed in this browser for the connection's runner and never shown again.
            {editing ? ' Leave a value empty to keep it; enter one to change it.' : ''}
          </p>
          {rows.map((row, i) => {
            const nameError = errors.fields[`var-${row.key}`];
            const valueError = errors.fields[`value-${row.key}`];
            return (
              <fieldset key={row.key} className="variable-row">
                <legend className="visually-hidden">
                  Variable {i + 1}
                  {row.existing ? `: ${row.name}` : ''}
                </legend>
                <IdentifierField
                  label="Name"
                  name={`name-${row.key}`}
                  value={row.name}
                  readOnly={row.existing}
                  onChange={(e) => setRows((rs) => rs.map((r) => (r.key === row.key ? { ...r, name: e.target.value } : r)))}
                  error={nameError}
                />
                <IdentifierField
                  label="Value"
                  name={`value-${row.key}`}
                  type={row.isSecret ? 'password' : 'text'}
                  placeholder={row.existing ? 'unchanged' : undefined}
                  error={valueError}
                />
                <div className="variable-row-end">
                  <label className="inline-check">
                    <input
                      type="checkbox"
                      checked={row.isSecret}
                      onChange={(e) => setRows((rs) => rs.map((r) => (r.key === row.key ? { ...r, isSecret: e.target.checked } : r)))}
                    />{' '}
                    Secret
                  </label>
                  <button
                    type="button"
                    className="button-small"
                    onClick={() => setRows((rs) => rs.filter((r) => r.key !== row.key))}
                    aria-label={`Remove variable ${i + 1}${row.name ? ` (${row.name})` : ''}`}
                  >
                    Remove
                  </button>
                </div>
              </fieldset>
            );
          })}
          <button type="button" className="button-small" onClick={addRow}>
            Add variable
          </button>
        </fieldset>
        <FormActions
          submit={busy ? 'Working…' : editing || created ? 'Save variables' : 'Create sync'}
          disabled={busy !== undefined || memberBlocked}
          onCancel={close}
        />
        <StatusText>{busy ?? ''}</StatusText>
      </Form>
    </Dialog>
  );
}

/**
 * An owner's consent for one sync: write into the existing group of its name, and overwrite the
 * listed variables Keyway did not write. Applies to the sync's current target only.
 */
export function SyncAdoptionDialog({
  projectId,
  sync,
  onClose,
}: {
  projectId: string;
  sync: VariableSync;
  onClose: (result?: { sync: VariableSync; message: string }) => void;
}) {
  const adoption = useAdoption(sync);
  const { adopt } = adoption;
  const { errors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    await attempt(async () => {
      const names = adopt ? adoption.names : [];
      const saved = await api.patch<VariableSync>(`/projects/${encodeURIComponent(projectId)}/syncs/${encodeURIComponent(sync.id)}`, {
        adoptExisting: adopt,
        takeOver: names,
      });
      onClose({
        sync: saved,
        message: adopt
          ? `${sync.name} may now write into the existing group ${sync.groupName}${names.length ? ` and take over ${names.join(', ')}` : ''}. Run it to sync.`
          : `${sync.name} no longer writes into a group it did not create.`,
      });
    }, syncErrors);
  }

  return (
    <Dialog title={`Existing group of ${sync.name}`} onClose={() => onClose()}>
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <p>
          Keyway writes only into variable groups it created, and changes only variables it wrote. {sync.organization}/{sync.project}/
          <strong>{sync.groupName}</strong> is owned by whoever created it: adopt it only if this sync should manage it.
        </p>
        <AdoptionFields
          label={`Adopt ${sync.groupName}`}
          hint="For this group only: pointing the sync elsewhere withdraws it."
          adoption={adoption}
          errors={errors}
        />
        <FormActions submit={busy ? 'Saving…' : 'Save'} disabled={busy} onCancel={() => onClose()} />
      </Form>
    </Dialog>
  );
}

/**
 * What AdoptionFields edit, starting from a sync's (or none): whether to adopt, the variables to
 * take over as typed, and their names.
 */
function useAdoption(initial?: Pick<VariableSync, 'adoptExisting' | 'takeOver'>) {
  const [adopt, setAdopt] = useState(initial?.adoptExisting ?? false);
  const [takeOver, setTakeOver] = useState((initial?.takeOver ?? []).join(', '));
  return { adopt, setAdopt, takeOver, setTakeOver, names: parseNames(takeOver) };
}

/** Whether a sync may write into an existing group Keyway did not create, and the variables of it it may take over. */
function AdoptionFields({
  label,
  hint,
  adoption: { adopt, setAdopt, takeOver, setTakeOver },
  errors,
}: {
  label: string;
  hint: string;
  adoption: ReturnType<typeof useAdoption>;
  errors: FormErrors;
}) {
  return (
    <>
      <CheckboxField
        label={label}
        name="adoptExisting"
        checked={adopt}
        onChange={(e) => setAdopt(e.target.checked)}
        error={errors.fields.adoptExisting}
        hint={hint}
      />
      {adopt && (
        <IdentifierField
          label="Variables it may take over (optional)"
          {...bindField(errors, 'takeOver', takeOver, setTakeOver)}
          hint={TAKE_OVER_HINT}
        />
      )}
    </>
  );
}
