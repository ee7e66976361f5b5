import { useState } from 'react';

import { api } from '../api.ts';
import { Dialog } from '../components/dialog.tsx';
import { FieldError } from '../components/fields.tsx';
import { Form, FormActions } from '../components/form.tsx';
import { formErrorsFrom, useSubmission } from '../components/forms.ts';
import type { FormErrors } from '../components/forms.ts';
import { sentence } from '../text.ts';
import type { AppConnection, MemberTarget } from '../types.ts';

// Where project members may point syncs through a connection (owners only). One target a line:
// `project`, `project/group-pattern` or `organization/project/group-pattern`; `*` in a pattern
// stands for any run of characters. No line: members add no syncs on it (owners do).

/** A target as one line; the organization is left out when it is the connection's. */
export function targetLine(t: MemberTarget, connectionOrganization: string | null): string {
  const head = t.organization.toLowerCase() === (connectionOrganization ?? '').toLowerCase() ? t.project : `${t.organization}/${t.project}`;
  return t.groupPattern ? `${head}/${t.groupPattern}` : head;
}

/** The lines as the API takes them; a line with one slash is project/pattern. */
export function parseTargetLines(text: string): { organization?: string; project: string; groupPattern?: string }[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const parts = line.split('/').map((p) => p.trim());
      if (parts.length >= 3) return { organization: parts[0]!, project: parts[1]!, groupPattern: parts.slice(2).join('/') };
      if (parts.length === 2) return { project: parts[0]!, groupPattern: parts[1]! };
      return { project: parts[0]! };
    });
}

/** A failed save's errors, every message made a sentence. */
function toSentences(err: unknown): FormErrors {
  const mapped = formErrorsFrom(err, { memberTargets: 'memberTargets' });
  for (const key of Object.keys(mapped.fields)) mapped.fields[key] = sentence(mapped.fields[key]!);
  if (mapped.form) mapped.form = sentence(mapped.form);
  return mapped;
}

export function MemberTargetsDialog({
  projectId,
  connection,
  onClose,
}: {
  projectId: string;
  connection: AppConnection;
  onClose: (result?: { connection: AppConnection; message: string }) => void;
}) {
  const [text, setText] = useState((connection.memberTargets ?? []).map((t) => targetLine(t, connection.organization)).join('\n'));
  const { errors, formRef, busy, attempt } = useSubmission();

  async function submit() {
    await attempt(async () => {
      const targets = parseTargetLines(text);
      const saved = await api.patch<{ connection: AppConnection }>(
        `/projects/${encodeURIComponent(projectId)}/app-connections/${encodeURIComponent(connection.id)}`,
        { memberTargets: targets.length ? targets : null },
      );
      onClose({
        connection: saved.connection,
        message: targets.length
          ? `Project members may now add syncs through ${connection.name} to the groups listed.`
          : `Only project owners add syncs through ${connection.name} now.`,
      });
    }, toSentences);
  }

  const hintId = 'member-targets-hint';
  const errorId = 'member-targets-error';
  return (
    <Dialog title={`Member targets of ${connection.name}`} onClose={() => onClose()}>
      <Form ref={formRef} onSubmit={submit} error={errors.form}>
        <p>
          A sync writes with this connection's rights. Project owners point syncs anywhere the connection reaches; members only at the
          variable groups listed here. Existing groups Keyway did not create stay refused to members either way.
        </p>
        <div className="field">
          <label htmlFor="member-targets">Targets members may use</label>
          <textarea
            id="member-targets"
            name="memberTargets"
            rows={4}
            value={text}
            onChange={(e) => setText(e.target.value)}
            aria-describedby={`${hintId}${errors.fields.memberTargets ? ` ${errorId}` : ''}`}
            aria-invalid={errors.fields.memberTargets ? true : undefined}
            spellCheck={false}
          />
          <p className="hint" id={hintId}>
            One a line: <code>project</code>, <code>project/group-pattern</code> or <code>organization/project/group-pattern</code>
            {connection.organization ? ` (the organization defaults to ${connection.organization})` : ''}; <code>*</code> stands for any
            characters, e.g. <code>Web/team-*</code>. Leave empty for owners only.
          </p>
          <FieldError id={errorId} error={errors.fields.memberTargets} />
        </div>
        <FormActions submit={busy ? 'Saving…' : 'Save targets'} disabled={busy} onCancel={() => onClose()} />
      </Form>
    </Dialog>
  );
}
